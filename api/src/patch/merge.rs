//! RFC 7386 JSON merge patch and RFC 6902 JSON patch, both through the
//! `json-patch` crate, plus the merge-patch diff kubectl's apply uses for
//! kinds without a strategic schema.

use serde_json::{Map, Value};

use super::{malformed, PatchError};

/// Apply an RFC 7386 JSON merge patch in place: objects merge key by key,
/// `null` deletes a key, anything else (lists included) replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    ::json_patch::merge(target, patch);
}

/// Apply an RFC 6902 JSON patch (a list of `add`/`remove`/`replace`/
/// `move`/`copy`/`test` operations) in place. Either every operation
/// applies or the target is left unchanged.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_array() {
        return Err(malformed(format!(
            "a JSON patch must be a list of operations, got {}",
            json_type(patch)
        )));
    }
    let ops: ::json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| malformed(format!("invalid JSON patch: {e}")))?;
    ::json_patch::patch(target, &ops).map_err(|e| PatchError::Failed(e.to_string()))
}

/// The JSON merge patch that turns `original` into `modified`
/// (`jsonpatch.CreateMergePatch`): changed and added keys with their new
/// values, removed keys as `null`, lists and scalars whole.
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(o), Value::Object(m)) => Value::Object(diff_objects(o, m)),
        _ => modified.clone(),
    }
}

fn diff_objects(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, m) in modified {
        match original.get(k) {
            Some(o) if o == m => {}
            Some(Value::Object(o)) if m.is_object() => {
                let sub = diff_objects(o, m.as_object().expect("checked"));
                if !sub.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub));
                }
            }
            _ => {
                patch.insert(k.clone(), m.clone());
            }
        }
    }
    for k in original.keys() {
        if !modified.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    patch
}

/// A JSON type name for error messages.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null, "h": 1}, "l": [3]}),
        );
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e", "h": 1}, "l": [3]}));
    }

    #[test]
    fn json_patch_applies_atomically() {
        let mut doc = json!({"spec": {"replicas": 1, "paused": false}});
        json_patch(
            &mut doc,
            &json!([
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "remove", "path": "/spec/paused"},
                {"op": "add", "path": "/metadata", "value": {"labels": {"a": "b"}}}
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"spec": {"replicas": 3}, "metadata": {"labels": {"a": "b"}}})
        );

        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "test", "path": "/spec/replicas", "value": 1}
            ]),
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::Failed(_)), "{err:?}");
        assert!(err.message().contains("/spec/replicas"), "{err}");
        assert_eq!(doc, before, "failed patch leaves the document unchanged");

        let err = json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert!(matches!(err, PatchError::Failed(_)));
    }

    #[test]
    fn json_patch_rejects_malformed_documents() {
        let mut doc = json!({});
        for bad in [
            json!({"op": "add"}),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "value": 1}]),
        ] {
            let err = json_patch(&mut doc, &bad).unwrap_err();
            assert!(matches!(err, PatchError::Malformed(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn create_merge_patch_round_trips() {
        let original = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": true});
        let modified = json!({"a": 1, "b": {"c": 5, "d": 3}, "e": [1, 2], "new": "x"});
        let patch = create_merge_patch(&original, &modified);
        assert_eq!(
            patch,
            json!({"b": {"c": 5}, "e": [1, 2], "new": "x", "gone": null})
        );
        let mut doc = original.clone();
        merge_patch(&mut doc, &patch);
        assert_eq!(doc, modified);
    }
}
