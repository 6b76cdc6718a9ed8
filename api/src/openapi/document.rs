//! The OpenAPI v3 document of one group-version: a path item for every
//! URL the apiserver serves for its resources, each operation with its
//! query parameters, request body, response and the
//! `x-kubernetes-action` / `x-kubernetes-group-version-kind` extensions,
//! plus the schemas those operations reference.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::generate::{Gvk, V3_PREFIX};
use super::{clean, names, params};

/// A resource the apiserver serves, as its document describes it.
#[derive(Clone, Debug)]
pub struct ServedResource {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural used in URLs (`deployments`).
    pub plural: &'static str,
    pub namespaced: bool,
    /// Subresources served: `status`, `scale`, `binding`, `log`, `finalize`.
    pub subresources: &'static [&'static str],
}

impl ServedResource {
    fn gvk(&self) -> Gvk {
        Gvk::new(self.group, self.version, self.kind)
    }

    /// `/api/v1` or `/apis/<group>/<version>`.
    fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// `CoreV1`, `AppsV1`, `CoordinationV1`: the operation id infix.
    fn group_version_id(&self) -> String {
        let group = match self.group {
            "" => "core",
            g => g.split('.').next().unwrap_or(g),
        };
        format!("{}{}", capitalize(group), capitalize(self.version))
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The OpenAPI v3 document of `group`/`version` (`""`/`v1` is `api/v1`),
/// describing `resources` (those of other group-versions are skipped),
/// with the schemas from `definitions` that its operations need.
pub fn document(
    group: &str,
    version: &str,
    resources: &[ServedResource],
    definitions: &Map<String, Value>,
) -> Value {
    let mut paths = Map::new();
    for r in resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        add_paths(&mut paths, r);
    }
    let paths = Value::Object(paths);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {
            "schemas": referenced(&paths, definitions),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header"
                }
            }
        },
        "security": [{"BearerToken": []}]
    })
}

/// The definitions `root` refers to, directly or through one another.
fn referenced(root: &Value, definitions: &Map<String, Value>) -> Map<String, Value> {
    let mut pending = Vec::new();
    clean::refs(root, V3_PREFIX, &mut pending);
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = definitions.get(&name) {
            clean::refs(def, V3_PREFIX, &mut pending);
        }
    }
    seen.into_iter()
        .filter_map(|n| definitions.get(&n).map(|d| (n, d.clone())))
        .collect()
}

fn schema_ref(definition: &str) -> Value {
    json!({"$ref": format!("{V3_PREFIX}{definition}")})
}

/// `{"application/json": {"schema": s}, "application/yaml": ...}`.
fn content(schema: &Value, types: &[&str]) -> Value {
    types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": schema})))
        .collect::<Map<_, _>>()
        .into()
}

const JSON_YAML: &[&str] = &["application/json", "application/yaml"];
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// One operation.
struct Op {
    /// `x-kubernetes-action`: get, list, put, patch, post, delete, deletecollection.
    action: &'static str,
    /// Operation id verb: read, list, replace, patch, create, delete, deleteCollection.
    id_verb: &'static str,
    description: String,
    params: Vec<Value>,
    body: Option<(Value, &'static [&'static str], bool)>,
    /// Response schema and the success codes it is returned with.
    response: (Value, &'static [&'static str]),
    gvk: Gvk,
}

impl Op {
    fn render(self, r: &ServedResource, id_kind: &str) -> Value {
        let mut responses = Map::new();
        let types: &[&str] = if self.response.0.get("type").is_some_and(|t| t == "string") {
            &["text/plain", "application/json"]
        } else {
            JSON_YAML
        };
        for code in self.response.1 {
            responses.insert(
                code.to_string(),
                json!({"description": status_text(code), "content": content(&self.response.0, types)}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        let mut op = json!({
            "tags": [r.group_version_id().to_lowercase()],
            "description": self.description,
            "operationId": format!("{}{}{}", self.id_verb, r.group_version_id(), id_kind),
            "responses": responses,
            "x-kubernetes-action": self.action,
            "x-kubernetes-group-version-kind": self.gvk.to_json(),
        });
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params);
        }
        if let Some((schema, types, required)) = self.body {
            op["requestBody"] = json!({"content": content(&schema, types), "required": required});
        }
        op
    }
}

fn status_text(code: &str) -> &'static str {
    match code {
        "201" => "Created",
        "202" => "Accepted",
        _ => "OK",
    }
}

fn add_paths(paths: &mut Map<String, Value>, r: &ServedResource) {
    let prefix = r.prefix();
    let ns = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let kind_def = r.gvk().definition();
    let list_def = names::of_kind(r.group, r.version, &format!("{}List", r.kind));
    let status_def = names::upstream("Status");
    let gvk = r.gvk();
    let mut common = vec![params::pretty()];
    if r.namespaced {
        common.insert(
            0,
            params::path(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ),
        );
    }
    let id = |suffix: &str| format!("{scope}{}{suffix}", r.kind);

    // The collection.
    let collection = vec![
        list(r, &list_def, &gvk, &id("")),
        Op {
            action: "post",
            id_verb: "create",
            description: format!("create a {}", r.kind),
            params: params::write(),
            body: Some((schema_ref(&kind_def), JSON_YAML, true)),
            response: (schema_ref(&kind_def), &["200", "201", "202"]),
            gvk: gvk.clone(),
        }
        .render(r, &id("")),
        Op {
            action: "deletecollection",
            id_verb: "deleteCollection",
            description: format!("delete collection of {}", r.kind),
            params: params::delete_collection(),
            body: delete_options(),
            response: (schema_ref(&status_def), &["200"]),
            gvk: gvk.clone(),
        }
        .render(r, &id("")),
    ];
    paths.insert(
        format!("{prefix}{ns}/{}", r.plural),
        path_item(&["get", "post", "delete"], collection, &common),
    );
    if r.namespaced {
        let all = list(r, &list_def, &gvk, &format!("{}ForAllNamespaces", r.kind));
        paths.insert(
            format!("{prefix}/{}", r.plural),
            path_item(&["get"], vec![all], &[params::pretty()]),
        );
    }

    // One object.
    let mut named = common.clone();
    named.insert(0, params::path("name", &format!("name of the {}", r.kind)));
    let mut item = read_write(r, &kind_def, &gvk, "", &id(""));
    item.push(
        Op {
            action: "delete",
            id_verb: "delete",
            description: format!("delete a {}", r.kind),
            params: params::delete(),
            body: delete_options(),
            response: (schema_ref(&status_def), &["200", "202"]),
            gvk: gvk.clone(),
        }
        .render(r, &id("")),
    );
    paths.insert(
        format!("{prefix}{ns}/{}/{{name}}", r.plural),
        path_item(&["get", "put", "patch", "delete"], item, &named),
    );

    for sub in r.subresources {
        let path = format!("{prefix}{ns}/{}/{{name}}/{sub}", r.plural);
        let suffix = capitalize(sub);
        let ops_id = id(&suffix);
        let item = match *sub {
            "scale" => {
                let scale = Gvk::new("autoscaling", "v1", "Scale");
                let def = scale.definition();
                let ops = read_write(r, &def, &scale, sub, &ops_id);
                path_item(&["get", "put", "patch"], ops, &named)
            }
            "binding" => {
                let binding = Gvk::new("", "v1", "Binding");
                let def = binding.definition();
                let op = Op {
                    action: "post",
                    id_verb: "create",
                    description: format!("create binding of a {}", r.kind),
                    params: params::write(),
                    body: Some((schema_ref(&def), JSON_YAML, true)),
                    response: (schema_ref(&def), &["200", "201", "202"]),
                    gvk: binding,
                }
                .render(r, &ops_id);
                path_item(&["post"], vec![op], &named)
            }
            "log" => {
                let op = Op {
                    action: "get",
                    id_verb: "read",
                    description: format!("read log of the specified {}", r.kind),
                    params: params::log(),
                    body: None,
                    response: (json!({"type": "string"}), &["200"]),
                    gvk: gvk.clone(),
                }
                .render(r, &ops_id);
                path_item(&["get"], vec![op], &named)
            }
            "finalize" => {
                let op = replace(r, &kind_def, &gvk, sub, &ops_id);
                path_item(&["put"], vec![op], &named)
            }
            _ => {
                let ops = read_write(r, &kind_def, &gvk, sub, &ops_id);
                path_item(&["get", "put", "patch"], ops, &named)
            }
        };
        paths.insert(path, item);
    }
}

fn of(sub: &str, kind: &str) -> String {
    if sub.is_empty() {
        format!("the specified {kind}")
    } else {
        format!("{sub} of the specified {kind}")
    }
}

fn list(r: &ServedResource, list_def: &str, gvk: &Gvk, id: &str) -> Value {
    Op {
        action: "list",
        id_verb: "list",
        description: format!("list or watch objects of kind {}", r.kind),
        params: params::list(),
        body: None,
        response: (schema_ref(list_def), &["200"]),
        gvk: gvk.clone(),
    }
    .render(r, id)
}

/// The optional `DeleteOptions` body of a delete.
fn delete_options() -> Option<(Value, &'static [&'static str], bool)> {
    Some((
        schema_ref(&names::upstream("DeleteOptions")),
        JSON_YAML,
        false,
    ))
}

/// GET, PUT and PATCH of one object (`sub` empty) or of its subresource.
fn read_write(r: &ServedResource, def: &str, gvk: &Gvk, sub: &str, id: &str) -> Vec<Value> {
    vec![
        read(r, def, gvk, sub, id),
        replace(r, def, gvk, sub, id),
        patch(r, def, gvk, sub, id),
    ]
}

fn read(r: &ServedResource, def: &str, gvk: &Gvk, sub: &str, id: &str) -> Value {
    Op {
        action: "get",
        id_verb: "read",
        description: format!("read {}", of(sub, r.kind)),
        params: Vec::new(),
        body: None,
        response: (schema_ref(def), &["200"]),
        gvk: gvk.clone(),
    }
    .render(r, id)
}

fn replace(r: &ServedResource, def: &str, gvk: &Gvk, sub: &str, id: &str) -> Value {
    Op {
        action: "put",
        id_verb: "replace",
        description: format!("replace {}", of(sub, r.kind)),
        params: params::write(),
        body: Some((schema_ref(def), JSON_YAML, true)),
        response: (schema_ref(def), &["200", "201"]),
        gvk: gvk.clone(),
    }
    .render(r, id)
}

fn patch(r: &ServedResource, def: &str, gvk: &Gvk, sub: &str, id: &str) -> Value {
    Op {
        action: "patch",
        id_verb: "patch",
        description: format!("partially update {}", of(sub, r.kind)),
        params: params::patch(),
        body: Some((schema_ref(&names::upstream("Patch")), PATCH_TYPES, true)),
        response: (schema_ref(def), &["200", "201"]),
        gvk: gvk.clone(),
    }
    .render(r, id)
}

/// A path item: its operations under their HTTP methods, plus the
/// parameters every operation shares.
fn path_item(methods: &[&str], ops: Vec<Value>, shared: &[Value]) -> Value {
    let mut item: Map<String, Value> = methods.iter().map(|m| m.to_string()).zip(ops).collect();
    item.insert("parameters".into(), Value::Array(shared.to_vec()));
    Value::Object(item)
}
