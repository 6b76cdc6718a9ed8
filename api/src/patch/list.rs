//! Directive names and the list helpers shared by applying a strategic
//! merge patch and computing one: finding elements by merge key and
//! putting merged lists in the order upstream produces.

use serde_json::{Map, Value};

use super::merge::json_type;
use super::{malformed, PatchError};

/// `$patch: replace|delete|merge` on a map or a list element.
pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const DELETE: &str = "delete";
pub(super) const REPLACE: &str = "replace";
pub(super) const MERGE: &str = "merge";
/// `$retainKeys: [...]`: keys of the map to keep; others are cleared.
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
/// `$deleteFromPrimitiveList/<field>: [...]`: values to remove from a merged scalar list.
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
/// `$setElementOrder/<field>: [...]`: the order of the resulting list.
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// The field a `<prefix>/<field>` directive key refers to.
pub(super) fn directive_field<'a>(key: &'a str, prefix: &str) -> Result<&'a str, PatchError> {
    match key.split_once('/') {
        Some((p, field)) if p == prefix => Ok(field),
        _ if prefix == SET_ELEMENT_ORDER => {
            Err(malformed("invalid patch format of setElementOrder list"))
        }
        _ => Err(malformed("invalid patch format of primitive list")),
    }
}

/// Whether the elements of the given lists are maps (`Some(true)`),
/// scalars (`Some(false)`), or there are none. Mixed element types and
/// lists of lists are errors, as upstream.
pub(super) fn elements_are_maps(lists: &[&[Value]]) -> Result<Option<bool>, PatchError> {
    let mut first: Option<&Value> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        match first {
            None => {
                if v.is_array() {
                    return Err(malformed("lists of lists are not supported"));
                }
                first = Some(v);
            }
            Some(f) if std::mem::discriminant(f) != std::mem::discriminant(v) => {
                return Err(malformed(format!(
                    "list element types are not identical: {f} and {v}"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(Value::is_object))
}

/// JSON equality with numbers compared by value (`80` equals `80.0`), as
/// Go compares decoded JSON.
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The map inside a list element, or an error naming what it was instead.
pub(super) fn as_map(v: &Value) -> Result<&Map<String, Value>, PatchError> {
    v.as_object().ok_or_else(|| {
        malformed(format!(
            "expected a map, but received {}: {v}",
            json_type(v)
        ))
    })
}

/// The value of the merge key of a list element.
pub(super) fn merge_key_value<'a>(v: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    let m = as_map(v)?;
    m.get(key).ok_or_else(|| {
        malformed(format!(
            "map: {v} does not contain declared merge key: {key}"
        ))
    })
}

/// Whether two list elements are the same element: equal merge key
/// values for keyed lists, equal values otherwise.
pub(super) fn same_element(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => same_value(x, y),
            _ => false,
        },
        None => same_value(a, b),
    }
}

/// Position of `item` in `list` by [`same_element`].
pub(super) fn index_of(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    list.iter().position(|v| same_element(v, item, key))
}

/// Whether a list element is `{..., "$patch": "delete"}`.
pub(super) fn is_delete_element(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE)
}

/// The string upstream sorts scalars and merge keys by (`fmt.Sprintf("%v")`).
pub(super) fn sort_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i128),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Split `merged` into the elements that appear in `by` and the rest.
pub(super) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    if let Some(k) = key {
        for v in &merged {
            merge_key_value(v, k)?;
        }
    }
    Ok(merged
        .into_iter()
        .partition(|v| index_of(by, v, key).is_some()))
}

/// Sort `items` by their position in `order` (stable; unknown items
/// last), with `$patch: delete` elements moved to the very end
/// (`normalizeSliceOrder`).
pub(super) fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let (mut keep, deletes): (Vec<Value>, Vec<Value>) = match key {
        Some(k) => {
            for v in items.iter().chain(order) {
                merge_key_value(v, k)?;
            }
            items.into_iter().partition(|v| !is_delete_element(v))
        }
        None => (items, Vec::new()),
    };
    keep.sort_by_key(|v| index_of(order, v, key).unwrap_or(usize::MAX));
    keep.extend(deletes);
    Ok(keep)
}

/// Order a merged list as upstream's `normalizeElementOrder`: patch items
/// in patch order, server-only items in their live order, interleaved so
/// that a server-only item stays before a patch item it preceded in the
/// live list. Items new to the list therefore come before the remaining
/// server-only items.
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let right = sort_by_order(patch_items, patch_order, key)?;
    let left = sort_by_order(server_only, server_order, key)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (index_of(server_order, l, key), index_of(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn element_kinds() {
        assert_eq!(elements_are_maps(&[&[], &[]]).unwrap(), None);
        assert_eq!(
            elements_are_maps(&[&list(json!([{"a": 1}])), &list(json!([{}]))]).unwrap(),
            Some(true)
        );
        assert_eq!(
            elements_are_maps(&[&list(json!(["a", "b"]))]).unwrap(),
            Some(false)
        );
        assert!(elements_are_maps(&[&list(json!(["a", 1]))]).is_err());
        assert!(elements_are_maps(&[&list(json!([[1]]))]).is_err());
    }

    #[test]
    fn new_patch_items_come_first() {
        let server = list(json!(["a", "b", "c"]));
        let out = normalize_element_order(
            list(json!(["d", "b"])),
            list(json!(["a", "c"])),
            &list(json!(["d", "b"])),
            &server,
            None,
        )
        .unwrap();
        // `d` is not in the live list, so it goes before everything that
        // is not ordered ahead of it; `a` stays ahead of `b` as it was live.
        assert_eq!(out, list(json!(["d", "a", "b", "c"])));
    }

    #[test]
    fn sort_strings() {
        assert_eq!(sort_string(&json!(8080)), "8080");
        assert_eq!(sort_string(&json!(80.0)), "80");
        assert_eq!(sort_string(&json!("x")), "x");
        assert!(same_value(&json!(80), &json!(80.0)));
    }
}
