//! Computing a strategic merge patch between two documents
//! (`strategicpatch.diffMaps` and friends): changed fields with their new
//! values, removed fields as `null`, keyed lists as per-element patches
//! plus `$patch: delete` elements and `$setElementOrder`, scalar merge
//! lists as additions plus `$deleteFromPrimitiveList`, and `$retainKeys`
//! for fields with that strategy.

use std::cmp::Ordering;
use std::mem::discriminant;

use serde_json::{Map, Value};

use super::list::{
    elements_are_maps, merge_key_value, same_value, sort_by_order, sort_string, DELETE,
    DELETE_FROM_PRIMITIVE_LIST, DIRECTIVE, RETAIN_KEYS, SET_ELEMENT_ORDER,
};
use super::schema::{Field, PatchSchema, Strategy};
use super::{malformed, PatchError};

/// What [`diff_maps`] reports (`DiffOptions` upstream).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DiffOptions {
    /// Emit `$setElementOrder/<list>` for merged lists that change.
    pub set_element_order: bool,
    /// Leave out additions and changes (report deletions only).
    pub ignore_changes_and_additions: bool,
    /// Leave out deletions (report additions and changes only).
    pub ignore_deletions: bool,
    /// Emit `$retainKeys` for this map (set per field from the schema).
    pub build_retain_keys: bool,
}

/// The strategic merge patch from `original` to `modified`.
pub(super) fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    schema: &PatchSchema,
    opts: DiffOptions,
) -> Result<Map<String, Value>, PatchError> {
    let mut patch = Map::new();
    let mut retain_keys = Vec::new();
    for (key, m) in modified {
        if opts.build_retain_keys && !m.is_null() {
            retain_keys.push(Value::String(key.clone()));
        }
        let Some(o) = original.get(key) else {
            if !opts.ignore_changes_and_additions {
                patch.insert(key.clone(), m.clone());
            }
            continue;
        };
        if key == DIRECTIVE {
            let (Some(os), Some(ms)) = (o.as_str(), m.as_str()) else {
                return Err(malformed(format!(
                    "invalid value for special key: {DIRECTIVE}"
                )));
            };
            if os != ms {
                patch.insert(key.clone(), m.clone());
            }
            continue;
        }
        if discriminant(o) != discriminant(m) {
            if !opts.ignore_changes_and_additions {
                patch.insert(key.clone(), m.clone());
            }
            continue;
        }
        let field = schema.field(key);
        match (o, m) {
            (Value::Object(o), Value::Object(m)) => {
                diff_map_field(key, o, m, field, &mut patch, opts)?
            }
            (Value::Array(o), Value::Array(m)) => {
                diff_list_field(key, o, m, field, &mut patch, opts)?
            }
            _ => replace_if_changed(key, o, m, &mut patch, opts),
        }
    }
    if !opts.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    let original_has_more = original
        .iter()
        .any(|(k, v)| !v.is_null() && !modified.contains_key(k));
    if !retain_keys.is_empty() && (!patch.is_empty() || original_has_more) {
        retain_keys.sort_by_cached_key(sort_string);
        patch.insert(RETAIN_KEYS.to_string(), Value::Array(retain_keys));
    }
    Ok(patch)
}

fn replace_if_changed(
    key: &str,
    original: &Value,
    modified: &Value,
    patch: &mut Map<String, Value>,
    opts: DiffOptions,
) {
    if !opts.ignore_changes_and_additions && !same_value(original, modified) {
        patch.insert(key.to_string(), modified.clone());
    }
}

/// `handleMapDiff`.
fn diff_map_field(
    key: &str,
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    field: &Field,
    patch: &mut Map<String, Value>,
    opts: DiffOptions,
) -> Result<(), PatchError> {
    if field.strategy == Strategy::Replace {
        if !opts.ignore_changes_and_additions && original != modified {
            patch.insert(key.to_string(), Value::Object(modified.clone()));
        }
        return Ok(());
    }
    let opts = DiffOptions {
        build_retain_keys: field.retain_keys,
        ..opts
    };
    let sub = diff_maps(original, modified, &field.schema, opts)?;
    if !sub.is_empty() {
        patch.insert(key.to_string(), Value::Object(sub));
    }
    Ok(())
}

/// `handleSliceDiff`: merge lists produce element patches and parallel
/// directive lists; other lists are replaced when they differ.
fn diff_list_field(
    key: &str,
    original: &[Value],
    modified: &[Value],
    field: &Field,
    patch: &mut Map<String, Value>,
    opts: DiffOptions,
) -> Result<(), PatchError> {
    let Strategy::Merge { key: merge_key } = field.strategy else {
        if !opts.ignore_changes_and_additions && original != modified {
            patch.insert(key.to_string(), Value::Array(modified.to_vec()));
        }
        return Ok(());
    };
    let opts = DiffOptions {
        build_retain_keys: field.retain_keys,
        ..opts
    };
    let lists = diff_lists(original, modified, &field.schema, merge_key, opts)?;
    if !lists.patch.is_empty() {
        patch.insert(key.to_string(), Value::Array(lists.patch));
    }
    if !lists.delete.is_empty() {
        patch.insert(
            format!("{DELETE_FROM_PRIMITIVE_LIST}/{key}"),
            Value::Array(lists.delete),
        );
    }
    if !lists.order.is_empty() {
        patch.insert(
            format!("{SET_ELEMENT_ORDER}/{key}"),
            Value::Array(lists.order),
        );
    }
    Ok(())
}

/// The three parts of a merge-list diff.
#[derive(Default)]
struct ListDiff {
    /// Element patches, additions and `$patch: delete` elements.
    patch: Vec<Value>,
    /// Scalars to delete (`$deleteFromPrimitiveList`).
    delete: Vec<Value>,
    /// The order of the modified list (`$setElementOrder`).
    order: Vec<Value>,
}

/// `diffLists`.
fn diff_lists(
    original: &[Value],
    modified: &[Value],
    element: &PatchSchema,
    key: Option<&str>,
    opts: DiffOptions,
) -> Result<ListDiff, PatchError> {
    if original.is_empty() {
        if modified.is_empty() || opts.ignore_changes_and_additions {
            return Ok(ListDiff::default());
        }
        return Ok(ListDiff {
            patch: modified.to_vec(),
            ..ListDiff::default()
        });
    }
    if elements_are_maps(&[original, modified])? == Some(true) {
        let key = key.ok_or_else(|| malformed("cannot diff lists of maps without a merge key"))?;
        let (changes, deletes) = diff_lists_of_maps(original, modified, element, key, opts)?;
        let mut patch = sort_by_order(changes, modified, Some(key))?;
        let order_same = original.len() == modified.len()
            && original
                .iter()
                .zip(modified)
                .map(|(o, m)| {
                    Ok(same_value(
                        merge_key_value(o, key)?,
                        merge_key_value(m, key)?,
                    ))
                })
                .collect::<Result<Vec<bool>, PatchError>>()?
                .into_iter()
                .all(|same| same);
        patch.extend(deletes);
        let wants_order = (!opts.ignore_changes_and_additions
            && (!patch.is_empty() || !order_same))
            || (!opts.ignore_deletions && !patch.is_empty());
        let order = if opts.set_element_order && wants_order {
            modified
                .iter()
                .map(|v| {
                    let mut m = Map::new();
                    m.insert(key.to_string(), merge_key_value(v, key)?.clone());
                    Ok(Value::Object(m))
                })
                .collect::<Result<_, PatchError>>()?
        } else {
            Vec::new()
        };
        Ok(ListDiff {
            patch,
            delete: Vec::new(),
            order,
        })
    } else {
        let (adds, delete) = diff_lists_of_scalars(original, modified, opts);
        let patch = sort_by_order(adds, modified, None)?;
        let wants_order = (!opts.ignore_deletions && !delete.is_empty())
            || (!opts.ignore_changes_and_additions && original != modified);
        let order = if opts.set_element_order && wants_order {
            modified.to_vec()
        } else {
            Vec::new()
        };
        Ok(ListDiff {
            patch,
            delete,
            order,
        })
    }
}

/// Walk both lists sorted by `key_of`, calling `on` for each matched pair,
/// addition (only in modified) and deletion (only in original).
fn walk_sorted<'a>(
    original: &'a [Value],
    modified: &'a [Value],
    key_of: impl Fn(&Value) -> String,
    mut on: impl FnMut(Step<'a>) -> Result<(), PatchError>,
) -> Result<(), PatchError> {
    let sorted = |l: &'a [Value]| {
        let mut v: Vec<(String, &'a Value)> = l.iter().map(|x| (key_of(x), x)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let (o, m) = (sorted(original), sorted(modified));
    let (mut i, mut j) = (0, 0);
    while i < o.len() || j < m.len() {
        let order = match (o.get(i), m.get(j)) {
            (Some(a), Some(b)) => a.0.cmp(&b.0),
            (None, _) => Ordering::Greater,
            (_, None) => Ordering::Less,
        };
        match order {
            Ordering::Equal => {
                on(Step::Both(o[i].1, m[j].1))?;
                i += 1;
                j += 1;
            }
            Ordering::Greater => {
                on(Step::Added(m[j].1))?;
                j += 1;
            }
            Ordering::Less => {
                on(Step::Removed(o[i].1))?;
                i += 1;
            }
        }
    }
    Ok(())
}

enum Step<'a> {
    Both(&'a Value, &'a Value),
    Added(&'a Value),
    Removed(&'a Value),
}

/// `diffListsOfScalars`: additions and (de-duplicated) deletions.
fn diff_lists_of_scalars(
    original: &[Value],
    modified: &[Value],
    opts: DiffOptions,
) -> (Vec<Value>, Vec<Value>) {
    let mut adds = Vec::new();
    let mut deletes: Vec<Value> = Vec::new();
    walk_sorted(original, modified, sort_string, |step| {
        match step {
            Step::Both(..) => {}
            Step::Added(m) if !opts.ignore_changes_and_additions => adds.push(m.clone()),
            Step::Removed(o)
                if !opts.ignore_deletions && !deletes.iter().any(|d| same_value(d, o)) =>
            {
                deletes.push(o.clone());
            }
            _ => {}
        }
        Ok(())
    })
    .expect("the callback never fails");
    (adds, deletes)
}

/// `diffListsOfMaps`: element patches and additions, and `$patch: delete`
/// elements for removed keys.
fn diff_lists_of_maps(
    original: &[Value],
    modified: &[Value],
    element: &PatchSchema,
    key: &str,
    opts: DiffOptions,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    for v in original.iter().chain(modified) {
        merge_key_value(v, key)?;
    }
    let key_string = |v: &Value| v.get(key).map(sort_string).unwrap_or_default();
    let mut changes = Vec::new();
    let mut deletes = Vec::new();
    walk_sorted(original, modified, key_string, |step| {
        match step {
            Step::Both(o, m) => {
                let (Value::Object(om), Value::Object(mm)) = (o, m) else {
                    unreachable!("checked to be maps")
                };
                let sub = diff_maps(om, mm, element, opts)?;
                if !sub.is_empty() {
                    changes.push(with_key_first(key, &mm[key], sub));
                }
            }
            Step::Added(m) if !opts.ignore_changes_and_additions => changes.push(m.clone()),
            Step::Removed(o) if !opts.ignore_deletions => {
                let mut d = Map::new();
                d.insert(key.to_string(), o[key].clone());
                d.insert(DIRECTIVE.to_string(), Value::String(DELETE.to_string()));
                deletes.push(Value::Object(d));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((changes, deletes))
}

/// `{key: value, ...rest}`.
fn with_key_first(key: &str, value: &Value, rest: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), value.clone());
    m.extend(rest);
    Value::Object(m)
}
