//! Turning the generator's JSON Schema (draft 2020-12) into the OpenAPI
//! dialect Kubernetes publishes: no `null` alternatives for optional
//! fields (absence is how Kubernetes says "unset"), no `title`, no
//! generator defaults, no `additionalProperties: false` (unknown fields
//! are the server's field validation's business, not the schema's).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Cleans one schema in place, recursively.
pub(crate) fn clean(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    m.remove("$schema");
    m.remove("default");
    m.remove("nullable");
    if m.get("additionalProperties") == Some(&Value::Bool(false)) {
        m.remove("additionalProperties");
    }
    if m.get("unevaluatedProperties") == Some(&Value::Bool(false)) {
        m.remove("unevaluatedProperties");
    }
    fold_title(m);
    drop_null_type(m);
    drop_null_alternative(m);
    if let Some(Value::Array(values)) = m.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    for (key, child) in m.iter_mut() {
        match (key.as_str(), child) {
            // A map of field name to schema, not a schema itself.
            ("properties", Value::Object(fields)) => fields.values_mut().for_each(clean),
            (_, Value::Array(items)) => items.iter_mut().for_each(clean),
            (_, child @ Value::Object(_)) => clean(child),
            _ => {}
        }
    }
}

/// A doc comment of several paragraphs becomes `title` + `description`;
/// Kubernetes has only the description.
fn fold_title(m: &mut Map<String, Value>) {
    let Some(Value::String(title)) = m.remove("title") else {
        return;
    };
    let description = match m.get("description").and_then(Value::as_str) {
        Some(rest) => format!("{title}\n\n{rest}"),
        None => title,
    };
    m.insert("description".into(), Value::String(description));
}

/// `"type": ["integer", "null"]` → `"type": "integer"`.
fn drop_null_type(m: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = m.get("type") else {
        return;
    };
    let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    let new = match rest.len() {
        1 => rest.into_iter().next().unwrap_or_default(),
        _ => Value::Array(rest),
    };
    m.insert("type".into(), new);
}

/// `"anyOf": [S, {"type": "null"}]` (an `Option` of a named type) → S,
/// keeping the field's own description.
fn drop_null_alternative(m: &mut Map<String, Value>) {
    let is_null = |v: &Value| v.get("type").is_some_and(|t| t == "null");
    let Some(Value::Array(alternatives)) = m.get("anyOf") else {
        return;
    };
    if !alternatives.iter().any(is_null) {
        return;
    }
    let rest: Vec<Value> = alternatives
        .iter()
        .filter(|a| !is_null(a))
        .cloned()
        .collect();
    m.remove("anyOf");
    match <[Value; 1]>::try_from(rest) {
        Ok([Value::Object(only)]) => {
            for (k, v) in only {
                m.entry(k).or_insert(v);
            }
        }
        Ok([other]) => {
            m.insert("anyOf".into(), Value::Array(vec![other]));
        }
        Err(rest) => {
            m.insert("anyOf".into(), Value::Array(rest));
        }
    }
}

/// Rewrites every `$ref` through `renames` (old target → new target).
pub(crate) fn rewrite_refs(schema: &mut Value, renames: &BTreeMap<String, String>) {
    match schema {
        Value::Object(m) => {
            for (key, child) in m.iter_mut() {
                match child {
                    Value::String(target) if key == "$ref" => {
                        if let Some(new) = renames.get(target.as_str()) {
                            *target = new.clone();
                        }
                    }
                    _ => rewrite_refs(child, renames),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_refs(i, renames)),
        _ => {}
    }
}

/// Every definition name `schema` refers to under `prefix`.
pub(crate) fn refs(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(m) => {
            for (key, child) in m {
                match child {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix(prefix) {
                            out.push(name.to_string());
                        }
                    }
                    _ => refs(child, prefix, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, prefix, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn optional_fields_lose_their_null_alternative() {
        let mut s = json!({
            "type": "object",
            "additionalProperties": false,
            "title": "Spec.",
            "description": "More.",
            "properties": {
                "replicas": {"type": ["integer", "null"], "format": "int32", "default": null},
                "selector": {"anyOf": [{"$ref": "#/x/LabelSelector"}, {"type": "null"}], "description": "Which pods."},
                "default": {"type": "string"}
            }
        });
        clean(&mut s);
        assert_eq!(
            s,
            json!({
                "type": "object",
                "description": "Spec.\n\nMore.",
                "properties": {
                    "replicas": {"type": "integer", "format": "int32"},
                    "selector": {"$ref": "#/x/LabelSelector", "description": "Which pods."},
                    "default": {"type": "string"}
                }
            })
        );
    }

    #[test]
    fn refs_are_renamed_and_collected() {
        let mut s =
            json!({"properties": {"a": {"$ref": "#/c/A"}, "b": {"items": {"$ref": "#/c/B"}}}});
        let renames = BTreeMap::from([("#/c/A".to_string(), "#/c/io.x.A".to_string())]);
        rewrite_refs(&mut s, &renames);
        let mut out = Vec::new();
        refs(&s, "#/c/", &mut out);
        assert_eq!(out, vec!["io.x.A".to_string(), "B".to_string()]);
    }
}
