//! The `meta.k8s.io` `Table` an API server answers with when a client asks
//! for `application/json;as=Table;v=v1;g=meta.k8s.io`: column definitions
//! and one row of cells per object, each row carrying the object itself,
//! its metadata only, or nothing (`includeObject`).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{for_kind, row_conditions, Context};

/// What each row carries besides its cells (the `includeObject` query
/// parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata`: kind, apiVersion and metadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// The `includeObject` parameter (`None`, `Metadata`, `Object`; empty
    /// or missing means `Metadata`). The error is upstream's message.
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, String> {
        match value.unwrap_or_default() {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// How to build a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// What each row carries besides its cells.
    pub include_object: IncludeObject,
    /// Leave out the column definitions (a watch sends them only with its
    /// first event).
    pub no_headers: bool,
    /// `meta.k8s.io/v1`, or `meta.k8s.io/v1beta1` for old clients: the
    /// two Tables have the same shape.
    pub api_version: &'static str,
}

impl Default for TableOptions {
    fn default() -> TableOptions {
        TableOptions {
            include_object: IncludeObject::Metadata,
            no_headers: false,
            api_version: "meta.k8s.io/v1",
        }
    }
}

/// A `Table` of `objects` of `kind`. `metadata` is the list metadata
/// (`resourceVersion`, `continue`); for one object, its resourceVersion.
/// Cells are computed as of `now`, with the wide columns, as upstream's
/// server-side printing does.
pub fn table(
    kind: &str,
    objects: &[Value],
    metadata: Map<String, Value>,
    options: &TableOptions,
    now: DateTime<Utc>,
) -> Value {
    let printer = for_kind(kind);
    let ctx = Context { now, wide: true };
    let columns: Vec<Value> = if options.no_headers {
        Vec::new()
    } else {
        printer
            .columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.cell_type.as_str(),
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect()
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = Map::new();
            row.insert("cells".into(), json!(printer.row(object, &ctx)));
            let conditions = row_conditions(kind, object);
            if !conditions.is_empty() {
                row.insert("conditions".into(), Value::Array(conditions));
            }
            if let Some(embedded) = embedded_object(object, options) {
                row.insert("object".into(), embedded);
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": options.api_version,
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The metadata of a one-object table: the object's resourceVersion.
pub fn object_metadata(object: &Value) -> Map<String, Value> {
    let mut metadata = Map::new();
    if let Some(rv) = object["metadata"]["resourceVersion"].as_str() {
        metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    metadata
}

/// What a row carries per `options.include_object`.
fn embedded_object(object: &Value, options: &TableOptions) -> Option<Value> {
    match options.include_object {
        IncludeObject::None => None,
        IncludeObject::Object => Some(object.clone()),
        IncludeObject::Metadata => Some(partial_object_metadata(object, options.api_version)),
    }
}

/// A `PartialObjectMetadata` of `api_version` (`meta.k8s.io/v1`): the
/// object's metadata alone.
pub fn partial_object_metadata(object: &Value, api_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": object["metadata"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::duration::parse_time;

    fn now() -> DateTime<Utc> {
        parse_time(Some("2024-05-01T12:00:00Z")).unwrap()
    }

    fn deployment() -> Value {
        json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "42",
                         "creationTimestamp": "2024-05-01T11:57:50Z", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        })
    }

    #[test]
    fn columns_and_typed_cells_as_kubectl_reads_them() {
        let d = deployment();
        let t = table(
            "Deployment",
            std::slice::from_ref(&d),
            object_metadata(&d),
            &TableOptions::default(),
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"]["resourceVersion"], "42");
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][2]["type"], "integer");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "2/3", 3, 2, "2m10s", "app", "nginx", "app=web"])
        );
        // includeObject defaults to Metadata.
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": d["metadata"]})
        );
    }

    #[test]
    fn include_object_and_no_headers() {
        let d = deployment();
        let opts = |include_object| TableOptions {
            include_object,
            no_headers: true,
            ..TableOptions::default()
        };
        let with = |include| {
            table(
                "Deployment",
                std::slice::from_ref(&d),
                Map::new(),
                &opts(include),
                now(),
            )
        };
        assert_eq!(with(IncludeObject::Object)["rows"][0]["object"], d);
        let none = with(IncludeObject::None);
        assert!(none["rows"][0].get("object").is_none());
        assert_eq!(none["columnDefinitions"], json!([]));
        assert_eq!(
            IncludeObject::parse(Some("Everything")).unwrap_err(),
            "unrecognized includeObject value: \"Everything\""
        );
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
    }

    #[test]
    fn finished_pods_carry_the_completed_condition() {
        let pod = |phase: &str| {
            json!({"kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c"}]}, "status": {"phase": phase}})
        };
        let rows = table(
            "Pod",
            &[pod("Succeeded"), pod("Running")],
            Map::new(),
            &TableOptions::default(),
            now(),
        );
        assert_eq!(rows["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(rows["rows"][0]["conditions"][0]["reason"], "Succeeded");
        assert!(rows["rows"][1].get("conditions").is_none());
    }

    #[test]
    fn unknown_kinds_get_name_and_age() {
        let t = table(
            "Widget",
            &[json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:00:00Z"}})],
            Map::new(),
            &TableOptions::default(),
            now(),
        );
        assert_eq!(t["rows"][0]["cells"], json!(["w", "60m"]));
        assert_eq!(t["columnDefinitions"][1]["name"], "Age");
    }
}
