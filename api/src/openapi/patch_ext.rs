//! Putting the strategic-merge and server-side-apply list metadata of
//! [`PatchSchema`] on the generated definitions.

use serde_json::{json, Map, Value};

use crate::patch::{PatchExtension, PatchSchema};

use super::generate::V3_PREFIX;

/// Marks the fields `schema` gives a patch strategy in the definition
/// tree rooted at `root`.
pub(crate) fn apply(defs: &mut Map<String, Value>, root: &str, schema: &PatchSchema) {
    for ext in schema.extensions() {
        if let Some((def, field)) = locate(defs, root, &ext.path) {
            if let Some(Value::Object(prop)) = defs
                .get_mut(&def)
                .and_then(|d| d.get_mut("properties"))
                .and_then(|p| p.get_mut(field))
            {
                mark(prop, &ext);
            }
        }
    }
}

/// The definition holding the last field of `path`, and that field.
fn locate<'p>(
    defs: &Map<String, Value>,
    root: &str,
    path: &'p [&'static str],
) -> Option<(String, &'p str)> {
    let (last, parents) = path.split_last()?;
    let mut def = root.to_string();
    for step in parents {
        let prop = defs.get(&def)?.get("properties")?.get(*step)?;
        def = target(prop)?;
    }
    Some((def, last))
}

/// The definition a field refers to, directly or through its list items.
fn target(prop: &Value) -> Option<String> {
    let reference = prop
        .get("$ref")
        .or_else(|| prop.get("items").and_then(|i| i.get("$ref")))?;
    reference
        .as_str()?
        .strip_prefix(V3_PREFIX)
        .map(str::to_string)
}

fn mark(prop: &mut Map<String, Value>, ext: &PatchExtension) {
    prop.insert("x-kubernetes-patch-strategy".into(), json!(ext.strategy));
    if let Some(key) = ext.merge_key {
        prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
    }
    let is_list = prop.get("type").is_some_and(|t| t == "array");
    if is_list && ext.strategy.starts_with("merge") {
        match ext.merge_key {
            Some(key) => {
                prop.insert("x-kubernetes-list-type".into(), json!("map"));
                prop.insert("x-kubernetes-list-map-keys".into(), json!([key]));
            }
            None => {
                prop.insert("x-kubernetes-list-type".into(), json!("set"));
            }
        }
    }
}
