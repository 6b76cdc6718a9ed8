//! Strict decoding: unknown fields are an error that names the full path
//! of the field, as `kubectl --validate=strict` reports it.

use serde::de::DeserializeOwned;

/// Why a body could not be decoded into a kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// A field the kind does not have (`spec.replicass`).
    #[error("strict decoding error: unknown field \"{0}\"")]
    UnknownField(String),
    /// A field of the wrong type or value (`spec.replicas`: expected i32).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Decode a JSON value into `T`, rejecting unknown fields by path.
pub fn decode_strict<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        if let Some(field) = unknown_field_name(&message) {
            // The path points at the containing object when the unknown key
            // is reported; append the key unless it is already the last segment.
            let full = if path == "." || path.is_empty() {
                field.to_string()
            } else if path.ends_with(&format!(".{field}")) || path == field {
                path
            } else {
                format!("{path}.{field}")
            };
            DecodeError::UnknownField(full)
        } else {
            DecodeError::Invalid { path, message }
        }
    })
}

/// Pull the field name out of serde's "unknown field `x`, expected ..." text.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectMeta;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        metadata: ObjectMeta,
        spec: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        replicas: i32,
    }

    #[test]
    fn unknown_field_is_named_by_full_path() {
        let v =
            serde_json::json!({"metadata": {"name": "a"}, "spec": {"replicas": 1, "replicass": 2}});
        let err = decode_strict::<Outer>(v).unwrap_err();
        assert_eq!(err, DecodeError::UnknownField("spec.replicass".into()));
        assert_eq!(
            err.to_string(),
            "strict decoding error: unknown field \"spec.replicass\""
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        let v = serde_json::json!({"metadata": {}, "spec": {"replicas": "x"}});
        match decode_strict::<Outer>(v).unwrap_err() {
            DecodeError::Invalid { path, .. } => assert_eq!(path, "spec.replicas"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
