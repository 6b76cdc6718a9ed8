//! Putting the strategic-merge metadata of [`PatchSchema`] and the
//! server-side-apply list types of [`ListTypes`] on the generated
//! definitions.

use serde_json::{json, Map, Value};

use crate::managedfields::{ListType, ListTypes};
use crate::patch::{PatchExtension, PatchSchema};

use super::generate::V3_PREFIX;

/// Marks the fields `schema` gives a patch strategy, and the lists
/// `lists` types, in the definition tree rooted at `root`.
pub(crate) fn apply(
    defs: &mut Map<String, Value>,
    root: &str,
    schema: &PatchSchema,
    lists: &ListTypes,
) {
    for ext in schema.extensions() {
        if let Some(prop) = property(defs, root, &ext.path) {
            mark_patch(prop, &ext);
        }
    }
    for (path, list) in lists.iter() {
        let path: Vec<&str> = path.split('.').collect();
        if let Some(prop) = property(defs, root, &path) {
            mark_list(prop, list);
        }
    }
}

/// The property at `path` below the definition `root`.
fn property<'d>(
    defs: &'d mut Map<String, Value>,
    root: &str,
    path: &[&str],
) -> Option<&'d mut Map<String, Value>> {
    let (def, field) = locate(defs, root, path)?;
    match defs.get_mut(&def)?.get_mut("properties")?.get_mut(field)? {
        Value::Object(prop) => Some(prop),
        _ => None,
    }
}

/// The definition holding the last field of `path`, and that field.
fn locate<'p>(
    defs: &Map<String, Value>,
    root: &str,
    path: &[&'p str],
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

fn mark_patch(prop: &mut Map<String, Value>, ext: &PatchExtension) {
    prop.insert("x-kubernetes-patch-strategy".into(), json!(ext.strategy));
    if let Some(key) = ext.merge_key {
        prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
    }
}

fn mark_list(prop: &mut Map<String, Value>, list: ListType) {
    if prop.get("type").is_none_or(|t| t != "array") {
        return;
    }
    match list {
        ListType::Atomic => {}
        ListType::Set => {
            prop.insert("x-kubernetes-list-type".into(), json!("set"));
        }
        ListType::Map(keys) => {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            prop.insert("x-kubernetes-list-type".into(), json!("map"));
            prop.insert("x-kubernetes-list-map-keys".into(), json!(names));
        }
    }
}
