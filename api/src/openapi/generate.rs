//! Running the schema generator over every served kind and shaping the
//! result as Kubernetes publishes it.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::apps::{Deployment, ReplicaSet};
use crate::autoscaling::Scale;
use crate::certificates::CertificateSigningRequest;
use crate::coordination::Lease;
use crate::core::{Binding, ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use crate::managedfields::ListTypes;
use crate::meta::ListMeta;
use crate::patch::PatchSchema;
use crate::rbac::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use crate::resource::Resource;
use crate::status::Status;

use super::{clean, extra, names, patch_ext, required};

/// Where OpenAPI v3 keeps its schemas; every `$ref` points below it.
pub(crate) const V3_PREFIX: &str = "#/components/schemas/";

/// A group/version/kind, as `x-kubernetes-group-version-kind` spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gvk {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// The GVK of a served kind.
    pub fn of<K: Resource>() -> Gvk {
        Gvk::new(K::GROUP, K::VERSION, K::KIND)
    }

    pub fn new(group: &str, version: &str, kind: &str) -> Gvk {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// `{"group": ..., "kind": ..., "version": ...}`.
    pub fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }

    /// The upstream name of this kind's definition.
    pub fn definition(&self) -> String {
        names::of_kind(&self.group, &self.version, &self.kind)
    }
}

/// One described kind: its GVK, whether it has a list kind, and the
/// schema name the generator gave it.
struct Root {
    gvk: Gvk,
    has_list: bool,
    rust_name: String,
}

fn root<K: Resource + JsonSchema>(generator: &mut SchemaGenerator, has_list: bool) -> Root {
    let reference = generator.subschema_for::<K>();
    let rust_name = reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(V3_PREFIX))
        .map(str::to_string)
        .unwrap_or_else(|| K::schema_name().into_owned());
    Root {
        gvk: Gvk::of::<K>(),
        has_list,
        rust_name,
    }
}

/// The schemas of every kind the API serves (and of everything they
/// contain), keyed by upstream definition name, with `$ref`s in the
/// OpenAPI v3 form (`#/components/schemas/<name>`).
pub fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let g = &mut generator;
    let roots = vec![
        root::<Namespace>(g, true),
        root::<Pod>(g, true),
        root::<Node>(g, true),
        root::<Service>(g, true),
        root::<Endpoints>(g, true),
        root::<Event>(g, true),
        root::<ConfigMap>(g, true),
        root::<Secret>(g, true),
        root::<Deployment>(g, true),
        root::<ReplicaSet>(g, true),
        root::<Lease>(g, true),
        root::<CertificateSigningRequest>(g, true),
        root::<Role>(g, true),
        root::<ClusterRole>(g, true),
        root::<RoleBinding>(g, true),
        root::<ClusterRoleBinding>(g, true),
        root::<Scale>(g, false),
        root::<Binding>(g, false),
    ];
    g.subschema_for::<ListMeta>();
    g.subschema_for::<Status>();
    g.subschema_for::<extra::Patch>();
    g.subschema_for::<extra::WatchEvent>();
    g.subschema_for::<extra::DeleteOptions>();
    let raw = generator.take_definitions(true);

    let renames: BTreeMap<String, String> = raw
        .keys()
        .map(|k| {
            (
                format!("{V3_PREFIX}{k}"),
                format!("{V3_PREFIX}{}", names::upstream(k)),
            )
        })
        .collect();
    let mut defs = Map::new();
    for (rust_name, mut schema) in raw {
        clean::clean(&mut schema);
        clean::rewrite_refs(&mut schema, &renames);
        defs.insert(names::upstream(&rust_name), schema);
    }
    required::apply(&mut defs);
    set_gvk(
        &mut defs,
        &names::upstream("Status"),
        &Gvk::new("", "v1", "Status"),
    );
    for root in &roots {
        let name = names::upstream(&root.rust_name);
        set_gvk(&mut defs, &name, &root.gvk);
        patch_ext::apply(
            &mut defs,
            &name,
            &PatchSchema::for_kind(&root.gvk.group, &root.gvk.kind),
            &ListTypes::for_kind(&root.gvk.group, &root.gvk.kind),
        );
        if root.has_list {
            let list = Gvk::new(
                &root.gvk.group,
                &root.gvk.version,
                &format!("{}List", root.gvk.kind),
            );
            defs.insert(list.definition(), list_schema(&name, &list));
        }
    }
    defs
}

fn set_gvk(defs: &mut Map<String, Value>, name: &str, gvk: &Gvk) {
    if let Some(Value::Object(def)) = defs.get_mut(name) {
        def.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([gvk.to_json()]),
        );
    }
}

/// `<Kind>List`: `apiVersion`, `kind`, list metadata and the items.
fn list_schema(item: &str, gvk: &Gvk) -> Value {
    json!({
        "description": format!("{} is a list of {} objects.", gvk.kind, gvk.kind.trim_end_matches("List")),
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "metadata": {
                "$ref": format!("{V3_PREFIX}{}", names::upstream("ListMeta")),
                "description": "Standard list metadata."
            },
            "items": {
                "type": "array",
                "description": "Items is the list of objects.",
                "items": {"$ref": format!("{V3_PREFIX}{item}")}
            }
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk.to_json()]
    })
}
