//! Reading the fields of objects as the API returns them, with the zero
//! values Go's typed decoding would give for what is missing.

use std::collections::BTreeMap;

use crate::selector::Selector;
use crate::LabelSelector;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::duration;

/// The value at `path` (`&["status", "phase"]`), `Null` when missing.
pub fn at<'a>(object: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(object, |v, key| &v[*key])
}

/// The string at `path`; empty when missing or not a string.
pub fn str_at<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    at(object, path).as_str().unwrap_or_default()
}

/// The integer at `path`; zero when missing.
pub fn int_at(object: &Value, path: &[&str]) -> i64 {
    at(object, path).as_i64().unwrap_or_default()
}

/// The boolean at `path`; false when missing.
pub fn bool_at(object: &Value, path: &[&str]) -> bool {
    at(object, path).as_bool().unwrap_or_default()
}

/// The list at `path`; empty when missing.
pub fn list_at<'a>(object: &'a Value, path: &[&str]) -> &'a [Value] {
    at(object, path)
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The number of entries of the map (or list) at `path`.
pub fn len_at(object: &Value, path: &[&str]) -> usize {
    match at(object, path) {
        Value::Object(map) => map.len(),
        Value::Array(list) => list.len(),
        _ => 0,
    }
}

/// `metadata.name`.
pub fn name(object: &Value) -> &str {
    str_at(object, &["metadata", "name"])
}

/// AGE: the time since `metadata.creationTimestamp`.
pub fn age(object: &Value, now: DateTime<Utc>) -> String {
    timestamp_since(object, &["metadata", "creationTimestamp"], now)
}

/// The time since the timestamp at `path`, `<unknown>` when unset.
pub fn timestamp_since(object: &Value, path: &[&str], now: DateTime<Utc>) -> String {
    duration::since(at(object, path).as_str(), now)
}

/// A string map (labels, a Service's selector) as `labels.FormatLabels`
/// prints it: `k=v` pairs sorted by key, comma-separated, or `<none>`.
pub fn format_labels(map: &Value) -> String {
    let pairs: BTreeMap<&str, &str> = map
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `metav1.LabelSelector` in the string syntax (`app=web,tier in (a,b)`);
/// empty for a selector that selects everything; `Err` when it does not
/// parse or is not valid.
pub fn label_selector(selector: &Value) -> Result<String, String> {
    if selector.is_null() {
        return Ok(String::new());
    }
    let parsed: LabelSelector =
        serde_json::from_value(selector.clone()).map_err(|e| e.to_string())?;
    Ok(Selector::from_label_selector(&parsed)?.to_string())
}

/// The names and the images of a pod template's containers, each list
/// comma-separated (`layoutContainerCells`).
pub fn container_cells(pod_spec: &Value) -> (String, String) {
    let containers = list_at(pod_spec, &["containers"]);
    let join = |field: &str| {
        containers
            .iter()
            .map(|c| str_at(c, &[field]))
            .collect::<Vec<_>>()
            .join(",")
    };
    (join("name"), join("image"))
}

/// `value`, or `placeholder` when it is empty.
pub fn or(value: &str, placeholder: &str) -> String {
    if value.is_empty() {
        placeholder.to_string()
    } else {
        value.to_string()
    }
}
