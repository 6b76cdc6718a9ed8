//! The OpenAPI v2 (Swagger 2.0) document, converted from the v3 forms:
//! definitions under `#/definitions/`, parameters with their type inline,
//! request bodies as a `body` parameter, response schemas without media
//! types, and the int-or-string / quantity unions as plain strings (v2 has
//! no `oneOf`), as upstream publishes them.

use serde_json::{json, Map, Value};

use super::document::{document, ServedResource};
use super::generate::V3_PREFIX;

const V2_PREFIX: &str = "#/definitions/";

/// The Swagger 2.0 document of every path of `resources` and every
/// definition.
pub fn swagger(resources: &[ServedResource], definitions: &Map<String, Value>) -> Value {
    let mut group_versions: Vec<(&str, &str)> = Vec::new();
    for r in resources {
        if !group_versions.contains(&(r.group, r.version)) {
            group_versions.push((r.group, r.version));
        }
    }
    let mut paths = Map::new();
    for (group, version) in group_versions {
        if let Value::Object(gv_paths) = document(group, version, resources, definitions)
            .get_mut("paths")
            .map(Value::take)
            .unwrap_or_default()
        {
            for (path, item) in gv_paths {
                paths.insert(path, path_item(item));
            }
        }
    }
    let definitions: Map<String, Value> = definitions
        .iter()
        .map(|(name, schema)| (name.clone(), schema_v2(schema)))
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "type": "apiKey",
                "description": "Bearer Token authentication",
                "name": "authorization",
                "in": "header"
            }
        },
        "security": [{"BearerToken": []}]
    })
}

/// A schema in v2 form.
fn schema_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            let mut out = Map::new();
            for (key, value) in m {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        let name = target.strip_prefix(V3_PREFIX).unwrap_or(target);
                        out.insert(key.clone(), json!(format!("{V2_PREFIX}{name}")));
                    }
                    ("oneOf", Value::Array(alternatives)) if all_scalar(alternatives) => {
                        out.insert("type".into(), json!("string"));
                    }
                    _ => {
                        out.insert(key.clone(), schema_v2(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(schema_v2).collect()),
        other => other.clone(),
    }
}

/// `[{"type": "integer"}, {"type": "string"}]` and the like.
fn all_scalar(alternatives: &[Value]) -> bool {
    alternatives.iter().all(|a| {
        a.as_object()
            .is_some_and(|o| o.len() == 1 && o.get("type").is_some_and(|t| t != "object"))
    })
}

fn path_item(item: Value) -> Value {
    let Value::Object(item) = item else {
        return item;
    };
    item.into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "parameters" => parameters(&value),
                _ => operation(value),
            };
            (key, value)
        })
        .collect::<Map<_, _>>()
        .into()
}

/// v3 parameters carry their type in `schema`; v2 ones inline it.
fn parameters(list: &Value) -> Value {
    let Some(list) = list.as_array() else {
        return Value::Array(Vec::new());
    };
    list.iter()
        .map(|p| {
            let mut p = p.as_object().cloned().unwrap_or_default();
            if let Some(Value::Object(schema)) = p.remove("schema") {
                p.extend(schema);
            }
            Value::Object(p)
        })
        .collect::<Vec<_>>()
        .into()
}

fn media_types(content: Option<&Value>) -> Vec<Value> {
    content
        .and_then(Value::as_object)
        .map(|c| c.keys().map(|k| json!(k)).collect())
        .unwrap_or_default()
}

/// The schema of a v3 `content` map (the JSON one when there is one).
fn content_schema(content: Option<&Value>) -> Option<Value> {
    let content = content?.as_object()?;
    let media = content
        .get("application/json")
        .or_else(|| content.values().next())?;
    media.get("schema").map(schema_v2)
}

fn operation(op: Value) -> Value {
    let Value::Object(mut op) = op else {
        return op;
    };
    let mut params = op
        .remove("parameters")
        .map(|p| parameters(&p))
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let mut consumes = vec![json!("*/*")];
    if let Some(body) = op.remove("requestBody") {
        consumes = media_types(body.get("content"));
        params.insert(
            0,
            json!({
                "name": "body",
                "in": "body",
                "required": body.get("required").cloned().unwrap_or(json!(false)),
                "schema": content_schema(body.get("content")).unwrap_or(json!({"type": "object"}))
            }),
        );
    }
    let mut produces = Vec::new();
    if let Some(Value::Object(responses)) = op.remove("responses") {
        let converted: Map<String, Value> = responses
            .into_iter()
            .map(|(code, response)| {
                if produces.is_empty() {
                    produces = media_types(response.get("content"));
                }
                let mut out = json!({"description": response.get("description").cloned().unwrap_or_default()});
                if let Some(schema) = content_schema(response.get("content")) {
                    out["schema"] = schema;
                }
                (code, out)
            })
            .collect();
        op.insert("responses".into(), Value::Object(converted));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    op.insert("consumes".into(), Value::Array(consumes));
    op.insert("produces".into(), Value::Array(produces));
    op.insert("schemes".into(), json!(["https"]));
    Value::Object(op)
}
