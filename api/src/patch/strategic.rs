//! Applying a strategic merge patch (`strategicpatch.StrategicMergePatch`
//! and its `mergeMap`/`mergeSlice`). The same merge also combines two
//! patches when computing a three-way patch, with [`MergeOptions::PATCHES`].
//!
//! Deviations from upstream, all where upstream leaks directives or
//! creates values out of nothing: a patch value for a key the object does
//! not have is merged into an empty value (so its nulls and directives are
//! dropped instead of stored); `$patch: delete` on a nested map removes the
//! key instead of leaving `{}`; a `$deleteFromPrimitiveList` for a missing
//! list does nothing.

use std::mem;

use serde_json::{Map, Value};

use super::list::{
    as_map, directive_field, elements_are_maps, index_of, is_delete_element, merge_key_value,
    normalize_element_order, partition, same_element, DELETE, DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE, MERGE, REPLACE, RETAIN_KEYS, SET_ELEMENT_ORDER,
};
use super::merge::json_type;
use super::schema::{Field, PatchSchema, Strategy};
use super::{malformed, PatchError};

/// Apply a strategic merge patch to an object and return the result.
///
/// Maps merge recursively and `null` deletes a key. Lists follow the
/// schema: keyed lists (containers by `name`, ...) merge element by
/// element, scalar lists with a merge strategy (finalizers) merge as sets,
/// all others are replaced. Directives: `$patch: replace|delete` on a map,
/// `$patch: delete|replace` as a list element, `$retainKeys`,
/// `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(malformed(format!(
            "a strategic merge patch must be a JSON object, got {}",
            json_type(patch)
        )));
    };
    let Value::Object(o) = original else {
        return Err(malformed(format!(
            "only a JSON object can be patched, got {}",
            json_type(original)
        )));
    };
    let merged = merge_map(o.clone(), p.clone(), schema, MergeOptions::APPLY)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// How [`merge_map`] treats directives and nulls (`MergeOptions` upstream).
#[derive(Clone, Copy, Debug)]
pub(super) struct MergeOptions {
    /// Apply `$deleteFromPrimitiveList`, `$setElementOrder` and
    /// `$retainKeys` (when applying to an object), or carry them over into
    /// the result (when combining two patches).
    merge_parallel_list: bool,
    /// Drop a `null` once it deleted its key (applying), or keep it
    /// (combining patches, where the null is itself the deletion).
    ignore_unmatched_nulls: bool,
}

impl MergeOptions {
    /// Applying a patch to an object.
    pub(super) const APPLY: MergeOptions = MergeOptions {
        merge_parallel_list: true,
        ignore_unmatched_nulls: true,
    };
    /// Merging one patch into another (three-way patch computation).
    pub(super) const PATCHES: MergeOptions = MergeOptions {
        merge_parallel_list: false,
        ignore_unmatched_nulls: false,
    };
}

/// Merge `patch` into `original`. `None` means the patch deletes the map
/// (`$patch: delete`).
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &PatchSchema,
    opts: MergeOptions,
) -> Result<Option<Map<String, Value>>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some(REPLACE) => {
                patch.remove(DIRECTIVE);
                Ok(Some(patch))
            }
            Some(DELETE) => Ok(None),
            _ => Err(malformed(format!(
                "unknown patch type: {directive} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch, opts)?;
    merge_ordered_lists(&mut original, &mut patch, schema, opts)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(_) if !opts.merge_parallel_list => {
                original.insert(key, patch_value);
                continue;
            }
            Some(_) => (
                directive_field(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_string(),
                true,
            ),
            None => (key, false),
        };
        if is_delete_list {
            delete_from_list(original.get_mut(&key), &patch_value)?;
            continue;
        }
        if patch_value.is_null() {
            original.remove(&key);
            if opts.ignore_unmatched_nulls {
                continue;
            }
        }
        let field = schema.field(&key);
        let merged = match original.remove(&key) {
            Some(current) => merge_value(current, patch_value, field, opts)?,
            None if opts.merge_parallel_list => merge_into_nothing(patch_value, field, opts)?,
            None => Some(patch_value),
        };
        if let Some(v) = merged {
            original.insert(key, v);
        }
    }
    Ok(Some(original))
}

/// Merge a patch value into an existing value of a field. `None` deletes the field.
fn merge_value(
    current: Value,
    patch: Value,
    field: &Field,
    opts: MergeOptions,
) -> Result<Option<Value>, PatchError> {
    match (current, patch) {
        (Value::Object(c), Value::Object(p)) if field.strategy != Strategy::Replace => {
            Ok(merge_map(c, p, &field.schema, opts)?.map(Value::Object))
        }
        (Value::Array(c), Value::Array(p)) => Ok(Some(Value::Array(
            merge_list_field(c, p, field, opts)?.items,
        ))),
        (_, patch) if opts.merge_parallel_list => merge_into_nothing(patch, field, opts),
        (_, patch) => Ok(Some(patch)),
    }
}

/// The value a patch value gives a field that had none (or had a value of
/// another type): the patch merged into an empty map or list, so nulls and
/// directives do not end up in the object.
fn merge_into_nothing(
    patch: Value,
    field: &Field,
    opts: MergeOptions,
) -> Result<Option<Value>, PatchError> {
    match patch {
        Value::Object(p) if field.strategy != Strategy::Replace => {
            Ok(merge_map(Map::new(), p, &field.schema, opts)?.map(Value::Object))
        }
        Value::Array(p) => Ok(Some(Value::Array(
            merge_list_field(Vec::new(), p, field, opts)?.items,
        ))),
        other => Ok(Some(other)),
    }
}

/// A merged list, and the order upstream goes on to treat as the live
/// order when a `$setElementOrder` directive then reorders it.
///
/// Upstream's `mergeSlice` removes `$patch: delete` elements in place and
/// appends new elements to the same backing array, so the "live" list it
/// consults afterwards is the live list without the deleted elements,
/// followed by as many of the added elements as were deleted (they took
/// the freed slots). `live_order` reproduces that, so that server-only
/// elements land where they land in Kubernetes.
struct MergedList {
    items: Vec<Value>,
    live_order: Vec<Value>,
}

/// `mergeSliceHandler`: merge lists merge, all other lists are replaced.
fn merge_list_field(
    current: Vec<Value>,
    patch: Vec<Value>,
    field: &Field,
    opts: MergeOptions,
) -> Result<MergedList, PatchError> {
    match field.strategy {
        Strategy::Merge { key } => merge_list(current, patch, &field.schema, key, opts),
        _ => Ok(MergedList {
            items: patch,
            live_order: current,
        }),
    }
}

/// `$deleteFromPrimitiveList/<field>`: remove these values from the list.
fn delete_from_list(current: Option<&mut Value>, to_delete: &Value) -> Result<(), PatchError> {
    let to_delete = to_delete
        .as_array()
        .ok_or_else(|| malformed("invalid patch format of primitive list"))?;
    if let Some(Value::Array(list)) = current {
        list.retain(|v| index_of(to_delete, v, None).is_none());
    }
    Ok(())
}

/// `mergeSlice`: merge a patch list into a list with merge strategy.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    element: &PatchSchema,
    key: Option<&'static str>,
    opts: MergeOptions,
) -> Result<MergedList, PatchError> {
    let Some(maps) = elements_are_maps(&[&original, &patch])? else {
        return Ok(MergedList {
            items: Vec::new(),
            live_order: Vec::new(),
        });
    };
    let (original, patch, merged, key, live_order) = if !maps {
        let mut merged = original.clone();
        for v in &patch {
            if index_of(&merged, v, None).is_none() {
                merged.push(v.clone());
            }
        }
        let live_order = original.clone();
        (original, patch, merged, None, live_order)
    } else {
        let key = key.ok_or_else(|| malformed("cannot merge lists of maps without a merge key"))?;
        let before = original.len();
        let (original, patch) = apply_list_directives(original, patch, key)?;
        let deleted = before.saturating_sub(original.len());
        let (merged, appended) = merge_elements(original.clone(), &patch, element, key, opts)?;
        let mut live_order = original.clone();
        live_order.extend(appended.into_iter().take(deleted));
        (original, patch, merged, Some(key), live_order)
    };
    let (patch_items, server_only) = partition(merged, &patch, key)?;
    let items = normalize_element_order(patch_items, server_only, &patch, &original, key)?;
    Ok(MergedList { items, live_order })
}

/// `mergeSliceWithSpecialElements`: act on `$patch: delete` elements
/// (remove the element with that key) and `$patch: replace` (the list
/// becomes the patch's other elements). Returns the original and the
/// patch without special elements.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(directive) = as_map(&v)?.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => {
                merge_key_value(&v, key)?;
                original.retain(|o| !same_element(o, &v, Some(key)));
            }
            Some(REPLACE) => replace = true,
            Some(MERGE) => {
                return Err(malformed(
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => {
                return Err(malformed(format!(
                    "unknown patch type: {directive} in map: {v}"
                )))
            }
        }
    }
    Ok(if replace {
        (plain, Vec::new())
    } else {
        (original, plain)
    })
}

/// `mergeSliceWithoutSpecialElements`: merge each patch element into the
/// original element with the same key, or add it. Returns the merged list
/// and the added elements.
fn merge_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    element: &PatchSchema,
    key: &str,
    opts: MergeOptions,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut appended = Vec::new();
    for v in patch {
        merge_key_value(v, key)?;
        let p = as_map(v)?.clone();
        match index_of(&original, v, Some(key)) {
            Some(i) => {
                let current = match mem::take(&mut original[i]) {
                    Value::Object(m) => m,
                    other => {
                        return Err(malformed(format!("expected a map, but received {other}")))
                    }
                };
                match merge_map(current, p, element, opts)? {
                    Some(m) => original[i] = Value::Object(m),
                    None => {
                        original.remove(i);
                    }
                }
            }
            None => {
                let added = if opts.merge_parallel_list {
                    merge_map(Map::new(), p, element, opts)?.map(Value::Object)
                } else {
                    Some(v.clone())
                };
                if let Some(added) = added {
                    appended.push(added.clone());
                    original.push(added);
                }
            }
        }
    }
    Ok((original, appended))
}

/// `applyRetainKeysDirective`: clear the keys of `original` that the
/// `$retainKeys` list does not name (or, combining patches, carry the
/// directive over).
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    opts: MergeOptions,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    if !opts.merge_parallel_list {
        match original.get(RETAIN_KEYS) {
            Some(existing) if existing != &retain => {
                return Err(malformed(format!(
                    "{existing} and {retain} are not deep equal: this may happen when calculating the 3-way diff patch"
                )))
            }
            Some(_) => {}
            None => {
                original.insert(RETAIN_KEYS.to_string(), retain);
            }
        }
        return Ok(());
    }
    let bad = || malformed("invalid patch format of retainKeys");
    let retain = retain.as_array().ok_or_else(bad)?;
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let parallel =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !parallel && !retained(k) {
            return Err(bad());
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: merge every list that has a
/// `$setElementOrder/<list>` directive and order it by that directive
/// (then by the patch, then by the live list). Removes the handled lists
/// from `patch`.
fn merge_ordered_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &PatchSchema,
    opts: MergeOptions,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let order_value = patch.remove(&directive).expect("key listed above");
        if !opts.merge_parallel_list {
            match original.get(&directive) {
                Some(existing) if existing != &order_value => {
                    return Err(malformed("invalid patch format of setElementOrder list"))
                }
                Some(_) => {}
                None => {
                    original.insert(directive.clone(), order_value.clone());
                }
            }
        }
        let order = order_value
            .as_array()
            .ok_or_else(|| malformed("invalid patch format of setElementOrder list"))?;
        let name = directive_field(&directive, SET_ELEMENT_ORDER)?.to_string();
        let current = list_at(original, &name)?;
        let patch_list = list_at(patch, &name)?;
        let field = schema.field(&name);
        let key = match field.strategy {
            Strategy::Merge { key } => key,
            _ => None,
        };
        check_order_matches_patch(patch_list.as_deref().unwrap_or(&[]), order, key)?;

        let merged = match (current.clone(), patch_list.clone()) {
            (Some(c), None) => MergedList {
                items: c.clone(),
                live_order: c,
            },
            (None, Some(p)) if !opts.merge_parallel_list => MergedList {
                items: p,
                live_order: Vec::new(),
            },
            (None, Some(p)) => merge_list_field(Vec::new(), p, field, opts)?,
            (Some(c), Some(p)) => merge_list_field(c, p, field, opts)?,
            (None, None) => continue,
        };
        let current = current.unwrap_or_default();
        let key = if elements_are_maps(&[&current, patch_list.as_deref().unwrap_or(&[])])?
            == Some(true)
        {
            key
        } else {
            None
        };
        let (in_order, server_only) = partition(merged.items, order, key)?;
        let ordered =
            normalize_element_order(in_order, server_only, order, &merged.live_order, key)?;
        original.insert(name.clone(), Value::Array(ordered));
        patch.remove(&name);
    }
    Ok(())
}

/// The list under `name`, if present; an error if it is not a list.
fn list_at(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Array(l)) => Ok(Some(l.clone())),
        Some(other) => Err(malformed(format!(
            "expected a list, but received {}: {other}",
            json_type(other)
        ))),
    }
}

/// `validatePatchWithSetOrderList`: the patch list's elements must appear
/// in the `$setElementOrder` list, in the same relative order.
fn check_order_matches_patch(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| key.is_none() || !is_delete_element(v))
        .collect();
    let (mut pi, mut oi) = (0, 0);
    while pi < items.len() && oi < order.len() {
        if items[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if let Some(k) = key {
            merge_key_value(items[pi], k)?;
            merge_key_value(&order[oi], k)?;
        }
        if same_element(items[pi], &order[oi], key) {
            pi += 1;
        }
        oi += 1;
    }
    if pi < items.len() {
        return Err(malformed(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> PatchSchema {
        PatchSchema::for_kind("", "Pod")
    }

    fn apply(original: Value, patch: Value, schema: &PatchSchema) -> Value {
        strategic_merge_patch(&original, &patch, schema)
            .unwrap_or_else(|e| panic!("patch {patch} failed: {e}"))
    }

    fn two_containers() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": [
                {"name": "app", "image": "app:1", "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "value": "2"}
                ], "args": ["--a", "--b"]},
                {"name": "sidecar", "image": "proxy:1"}
            ]}
        })
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let out = apply(
            two_containers(),
            json!({"metadata": {"labels": {"tier": null, "new": "x"}, "annotations": {"a": "b"}}}),
            &pod(),
        );
        assert_eq!(
            out["metadata"],
            json!({"name": "web", "labels": {"app": "web", "new": "x"}, "annotations": {"a": "b"}})
        );
        // a null for a key that is not there is simply dropped
        let out = apply(
            json!({"a": 1}),
            json!({"b": null, "c": {"d": null, "e": 1}}),
            &pod(),
        );
        assert_eq!(out, json!({"a": 1, "c": {"e": 1}}));
    }

    #[test]
    fn container_list_merges_by_name() {
        let out = apply(
            two_containers(),
            json!({"spec": {"containers": [{"name": "sidecar", "image": "proxy:2"}]}}),
            &pod(),
        );
        let containers = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["name"], "app");
        assert_eq!(containers[0]["image"], "app:1");
        assert_eq!(containers[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(
            containers[1],
            json!({"name": "sidecar", "image": "proxy:2"})
        );
    }

    #[test]
    fn new_list_elements_are_added_before_untouched_ones() {
        let out = apply(
            two_containers(),
            json!({"spec": {"containers": [{"name": "debug", "image": "busybox"}]}}),
            &pod(),
        );
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["debug", "app", "sidecar"]);
    }

    #[test]
    fn delete_env_var_with_patch_delete() {
        let out = apply(
            two_containers(),
            json!({"spec": {"containers": [{"name": "app", "env": [
                {"name": "A", "$patch": "delete"},
                {"name": "C", "value": "3"}
            ]}]}}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"][0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "B", "value": "2"}])
        );
        // deleting an element that is not there is fine
        let out = apply(
            two_containers(),
            json!({"spec": {"containers": [{"name": "ghost", "$patch": "delete"}]}}),
            &pod(),
        );
        assert_eq!(out, two_containers());
    }

    #[test]
    fn replace_directive_on_lists_and_maps() {
        let out = apply(
            two_containers(),
            json!({"spec": {"containers": [
                {"name": "only", "image": "x"},
                {"$patch": "replace"}
            ]}}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "only", "image": "x"}])
        );

        let out = apply(
            two_containers(),
            json!({"metadata": {"labels": {"$patch": "replace", "fresh": "yes"}}}),
            &pod(),
        );
        assert_eq!(out["metadata"]["labels"], json!({"fresh": "yes"}));
    }

    #[test]
    fn delete_directive_on_a_map() {
        let out = apply(
            two_containers(),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            &pod(),
        );
        assert_eq!(out["metadata"], json!({"name": "web"}));
        let out = apply(two_containers(), json!({"$patch": "delete"}), &pod());
        assert_eq!(out, json!({}));
    }

    #[test]
    fn bad_directives_are_rejected() {
        for patch in [
            json!({"spec": {"containers": [{"name": "app", "$patch": "merge"}]}}),
            json!({"spec": {"containers": [{"name": "app", "$patch": "explode"}]}}),
            json!({"metadata": {"labels": {"$patch": "explode"}}}),
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            json!({"spec": {"containers": [{"image": "no-name"}]}}),
            json!({"spec": {"containers": ["not-a-map"]}}),
        ] {
            let err = strategic_merge_patch(&two_containers(), &patch, &pod()).unwrap_err();
            assert!(matches!(err, PatchError::Malformed(_)), "{patch}: {err:?}");
        }
        assert!(strategic_merge_patch(&json!({}), &json!([1]), &pod()).is_err());
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let original = json!({"spec": {
            "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}],
            "containers": [{"name": "app", "args": ["--a", "--b"], "command": ["run"]}]
        }});
        let out = apply(
            original,
            json!({"spec": {
                "tolerations": [{"key": "c", "operator": "Exists"}],
                "containers": [{"name": "app", "args": ["--c"]}]
            }}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "c", "operator": "Exists"}])
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "app", "args": ["--c"], "command": ["run"]}])
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let original = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = apply(
            original.clone(),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
            &pod(),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));

        let out = apply(
            original.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            &pod(),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

        // deleting from a list that is not there creates nothing
        let out = apply(
            json!({"metadata": {}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            &pod(),
        );
        assert_eq!(out, json!({"metadata": {}}));
    }

    #[test]
    fn set_element_order_orders_the_result() {
        let out = apply(
            two_containers(),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                "containers": [{"name": "app", "image": "app:2"}]
            }}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([
                {"name": "sidecar", "image": "proxy:1"},
                {"name": "app", "image": "app:2", "env": [
                    {"name": "A", "value": "1"}, {"name": "B", "value": "2"}
                ], "args": ["--a", "--b"]}
            ])
        );
        // the order list alone reorders
        let out = apply(
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}}),
            &pod(),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
        // a patch list out of the announced order is an error
        let err = strategic_merge_patch(
            &two_containers(),
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"name": "sidecar", "image": "s"}, {"name": "app", "image": "a"}]
            }}),
            &pod(),
        )
        .unwrap_err();
        assert!(
            err.message()
                .contains("doesn't match $setElementOrder list"),
            "{err}"
        );
    }

    #[test]
    fn live_only_elements_keep_their_place_around_deletions_and_additions() {
        // `c` exists only live; `a` is deleted and `d` added. Upstream puts
        // `d` in the slot `a` freed, i.e. after `c`.
        let out = apply(
            json!({"spec": {"containers": [
                {"name": "a"}, {"name": "b", "x": 1}, {"name": "c", "y": 2}
            ]}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "d"}],
                "containers": [{"name": "d"}, {"name": "a", "$patch": "delete"}]
            }}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "b", "x": 1}, {"name": "c", "y": 2}, {"name": "d"}])
        );
        // Without a deletion the new element goes before the live-only one.
        let out = apply(
            json!({"spec": {"containers": [{"name": "b"}, {"name": "c"}]}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "d"}],
                "containers": [{"name": "d"}]
            }}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "b"}, {"name": "d"}, {"name": "c"}])
        );
    }

    #[test]
    fn retain_keys_clears_other_members() {
        let original = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "c"}}
        ]}});
        let out = apply(
            original,
            json!({"spec": {"volumes": [
                {"name": "data", "hostPath": {"path": "/srv"}, "$retainKeys": ["hostPath", "name"]}
            ]}}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["volumes"],
            json!([
                {"name": "data", "hostPath": {"path": "/srv"}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ])
        );
        // a patch key missing from $retainKeys is malformed
        let err = strategic_merge_patch(
            &json!({"spec": {}}),
            &json!({"spec": {"a": 1, "$retainKeys": ["b"]}}),
            &pod(),
        )
        .unwrap_err();
        assert_eq!(err.message(), "invalid patch format of retainKeys");
    }

    #[test]
    fn other_keyed_lists() {
        let svc = PatchSchema::for_kind("", "Service");
        let out = apply(
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            &svc,
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );

        let node = PatchSchema::for_kind("", "Node");
        let out = apply(
            json!({"status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "False"}
            ], "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]},
             "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]},
                   "spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]}}),
            &node,
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}])
        );
        assert_eq!(
            out["spec"]["taints"],
            json!([{"key": "b", "effect": "NoSchedule"}])
        );

        let out = apply(
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "$patch": "delete"}]}}),
            &pod(),
        );
        assert_eq!(
            out["metadata"]["ownerReferences"],
            json!([{"uid": "1", "name": "a"}])
        );

        let out = apply(
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"name": "v", "mountPath": "/a"}]}]}}),
            json!({"spec": {"containers": [{"name": "c",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "volumeMounts": [{"name": "v", "mountPath": "/b"}]}]}}),
            &pod(),
        );
        assert_eq!(
            out["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}])
        );
        assert_eq!(
            out["spec"]["containers"][0]["volumeMounts"],
            json!([{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/a"}]),
            "volumeMounts merge by mountPath, as upstream"
        );
    }

    #[test]
    fn unknown_kinds_replace_lists_of_maps() {
        let schema = PatchSchema::for_kind("example.com", "Widget");
        let out = apply(
            json!({"spec": {"items": [{"name": "a"}, {"name": "b"}], "m": {"x": 1}}}),
            json!({"spec": {"items": [{"name": "b", "v": 2}], "m": {"y": 2}}}),
            &schema,
        );
        assert_eq!(
            out,
            json!({"spec": {"items": [{"name": "b", "v": 2}], "m": {"x": 1, "y": 2}}})
        );
    }

    #[test]
    fn directives_never_leak_into_new_fields() {
        let out = apply(
            json!({"spec": {}}),
            json!({"spec": {"containers": [
                {"name": "a", "image": "x", "env": [{"name": "E", "$patch": "delete"}], "stdin": null},
                {"name": "gone", "$patch": "delete"}
            ], "$setElementOrder/containers": [{"name": "a"}]}}),
            &pod(),
        );
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a", "image": "x", "env": []}]}})
        );
    }

    #[test]
    fn kubectl_apply_patch_for_a_deployment() {
        // What kubectl 1.3x sends when the image of one of two containers
        // changes and the replica count goes from 2 to 3.
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "generation": 4,
                "annotations": {"deployment.kubernetes.io/revision": "4"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "imagePullPolicy": "IfNotPresent"},
                        {"name": "log", "image": "busybox:1.36", "args": ["tail", "-f"]}
                    ], "restartPolicy": "Always"}
                }
            },
            "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
        });
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}},
            "spec": {
                "replicas": 3,
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{"image": "nginx:1.27", "name": "web"}]
                }}
            }
        });
        let out = apply(
            live.clone(),
            patch,
            &PatchSchema::for_kind("apps", "Deployment"),
        );
        let mut want = live;
        want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!("{...}\n");
        want["spec"]["replicas"] = json!(3);
        want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
        assert_eq!(out, want);
    }
}
