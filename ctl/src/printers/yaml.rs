//! `-o yaml`: the object as YAML with its keys sorted, as kubectl prints
//! it (it converts through a Go map, which sorts them).

use serde_json::{Map, Value};

/// The YAML text of `value`, keys sorted at every level.
pub(crate) fn to_yaml(value: &Value) -> String {
    // Serialising a JSON value cannot fail: every key is a string.
    serde_yaml::to_string(&sorted(value)).unwrap_or_default()
}

/// A copy of `value` whose objects list their keys in order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k.clone(), sorted(v)))
                .collect();
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_keys_and_block_style() {
        let pod = json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "web", "labels": {"app": "web"}, "resourceVersion": "12"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
        });
        assert_eq!(
            to_yaml(&pod),
            "\
apiVersion: v1
kind: Pod
metadata:
  labels:
    app: web
  name: web
  resourceVersion: '12'
spec:
  containers:
  - image: nginx:1.25
    name: nginx
    ports:
    - containerPort: 80
"
        );
    }
}
