//! Fields upstream marks `required` that the Rust types still decode
//! when absent (they default them, and validation reports the omission
//! with Kubernetes' own message). Published as upstream so `kubectl
//! explain` shows `-required-` where users expect it.

use serde_json::{Map, Value};

use super::names::upstream;

/// (Rust schema name, required JSON fields), following upstream's
/// `+required` / non-`omitempty` markers.
const REQUIRED: &[(&str, &[&str])] = &[
    ("DeploymentSpec", &["selector", "template"]),
    ("DeploymentCondition", &["type", "status"]),
    ("ReplicaSetSpec", &["selector"]),
    ("ReplicaSetCondition", &["type", "status"]),
    ("PodSpec", &["containers"]),
    ("PodCondition", &["type", "status"]),
    ("NodeCondition", &["type", "status"]),
    ("NamespaceCondition", &["type", "status"]),
    ("Container", &["name"]),
    ("ContainerPort", &["containerPort"]),
    ("EnvVar", &["name"]),
    ("Volume", &["name"]),
    ("VolumeMount", &["name", "mountPath"]),
    ("KeyToPath", &["key", "path"]),
    ("ObjectFieldSelector", &["fieldPath"]),
    ("ResourceFieldSelector", &["resource"]),
    ("HttpGetAction", &["port"]),
    ("TcpSocketAction", &["port"]),
    ("ServicePort", &["port"]),
    ("EndpointAddress", &["ip"]),
    ("EndpointPort", &["port"]),
    ("Taint", &["key", "effect"]),
    ("NodeAddress", &["type", "address"]),
    ("Binding", &["target"]),
    ("Event", &["metadata", "involvedObject"]),
];

/// Adds the upstream `required` fields to the definitions that have them
/// (only fields the schema actually has, in upstream order after the
/// ones the types already require).
pub(crate) fn apply(defs: &mut Map<String, Value>) {
    for (rust, fields) in REQUIRED {
        let Some(Value::Object(def)) = defs.get_mut(&upstream(rust)) else {
            continue;
        };
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| def.get("properties").and_then(|p| p.get(*f)).is_some())
            .collect();
        let required = def
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = required {
            for f in present {
                if !list.iter().any(|v| v == f) {
                    list.push(Value::String(f.to_string()));
                }
            }
        }
    }
}
