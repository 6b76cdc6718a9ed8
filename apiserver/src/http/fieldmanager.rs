//! The per-request side of field validation and managed fields: who the
//! field manager is, what to do with unknown and duplicate fields, and
//! the `metadata.managedFields` bookkeeping of each write (the pure logic
//! is `tug_api::managedfields`).

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use tug_api::managedfields::{self, Conflicts, ListTypes, ManagedFields, Scope, Write};
use tug_api::status::{StatusCause, StatusDetails};
use tug_api::{Status, Time};

use super::crud::Half;
use super::params::FieldValidation;
use super::Call;
use crate::error::{ApiError, ApiResult};
use crate::registry::{Handler, ResourceInfo};

/// A successful write: the object and the warnings to send with it.
#[derive(Debug, Default)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    /// Whether the write created the object (201).
    pub created: bool,
}

impl Written {
    /// The object a write created (201).
    pub fn created(object: Value, warnings: Vec<String>) -> Written {
        Written {
            object,
            warnings,
            created: true,
        }
    }

    /// The object a write updated (200).
    pub fn updated(object: Value, warnings: Vec<String>) -> Written {
        Written {
            object,
            warnings,
            created: false,
        }
    }

    /// The response: 200 (or 201 when `created`), the object as JSON,
    /// one `Warning: 299 - "…"` header per warning.
    pub fn into_response(self) -> Response {
        let created = self.created;
        let mut r = (
            [(http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&self.object).unwrap_or_default(),
        )
            .into_response();
        if created {
            *r.status_mut() = StatusCode::CREATED;
        }
        for w in &self.warnings {
            if let Ok(v) = HeaderValue::from_str(&warning_header(w)) {
                r.headers_mut()
                    .append(HeaderName::from_static("warning"), v);
            }
        }
        r
    }
}

/// RFC 7234 warning value as upstream sends it: code 299, agent `-`,
/// the text quoted with `"` and `\` escaped.
pub fn warning_header(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    let printable: String = escaped
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("299 - \"{printable}\"")
}

/// The field manager of a write: `fieldManager`, else the User-Agent up
/// to its first `/` (`kubectl/v1.35.0 (linux/amd64) …` → `kubectl`), at
/// most 128 characters, as upstream derives it.
pub fn manager(call: &Call<'_>) -> ApiResult<String> {
    if let Some(m) = call.params.field_manager()? {
        return Ok(m.to_string());
    }
    let ua = call
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let prefix = ua.split('/').next().unwrap_or("");
    Ok(prefix.chars().take(128).collect())
}

/// Check a body against the kind's fields: unknown fields (found by the
/// typed decode) and duplicate keys (`dups`, found while parsing). Strict
/// refuses the write naming all of them; Warn and Ignore drop the unknown
/// fields and go on, Warn returning what to say.
pub fn check_fields(
    handler: &Handler,
    mode: FieldValidation,
    body: Value,
    dups: &[String],
) -> ApiResult<(Value, Vec<String>)> {
    if mode == FieldValidation::Ignore {
        let (_, clean) = handler.unknown_fields(&body);
        return Ok((clean, Vec::new()));
    }
    let (unknown, clean) = handler.unknown_fields(&body);
    let problems: Vec<String> = dups
        .iter()
        .map(|d| format!("duplicate field {d:?}"))
        .chain(unknown.iter().map(|u| format!("unknown field {u:?}")))
        .collect();
    if problems.is_empty() {
        return Ok((clean, Vec::new()));
    }
    match mode {
        FieldValidation::Strict => {
            let info = handler.info();
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                problems.join(", "),
                kind = info.kind,
                version = info.version,
            )))
        }
        _ => Ok((clean, problems)),
    }
}

/// What part of the object a write owns.
pub fn scope(info: &ResourceInfo, half: Half) -> Scope {
    match half {
        Half::Status => Scope::OnlyStatus,
        Half::Main if info.has_subresource("status") => Scope::WithoutStatus,
        Half::Main => Scope::Whole,
    }
}

/// Everything `tug_api::managedfields` needs to know about one write.
pub struct Tracker {
    manager: String,
    api_version: String,
    subresource: &'static str,
    scope: Scope,
    lists: ListTypes,
    now: String,
}

impl Tracker {
    /// The bookkeeping of a write to `handler`'s kind (or its `status`).
    pub fn new(handler: &Handler, manager: String, half: Half) -> Tracker {
        let info = handler.info();
        Tracker {
            manager,
            api_version: info.api_version(),
            subresource: match half {
                Half::Main => "",
                Half::Status => "status",
            },
            scope: scope(info, half),
            lists: ListTypes::for_kind(info.group, info.kind),
            now: Time::now().to_string(),
        }
    }

    /// The bookkeeping of a write through `/scale`: an entry of its own
    /// (subresource `scale`) for what it changes in the main resource.
    pub fn scale(handler: &Handler, manager: String) -> Tracker {
        Tracker {
            subresource: "scale",
            ..Tracker::new(handler, manager, Half::Main)
        }
    }

    fn write(&self) -> Write<'_> {
        Write {
            manager: &self.manager,
            api_version: &self.api_version,
            subresource: self.subresource,
            scope: self.scope,
            lists: &self.lists,
            now: &self.now,
        }
    }

    /// The entries a non-apply write to the main resource starts from
    /// when its body sends them: the body's `metadata.managedFields`.
    pub fn requested(&self, body: &Value) -> Option<Value> {
        if !self.subresource.is_empty() {
            return None;
        }
        body.pointer("/metadata/managedFields").cloned()
    }

    /// Record a non-apply write: `new` (as it will be stored) over `old`
    /// (`None` for a create). The starting entries are those the body
    /// sent (`requested`, when it had `metadata.managedFields`), else the
    /// stored object's.
    pub fn record_update(
        &self,
        old: Option<&Value>,
        requested: Option<&Value>,
        new: &mut Value,
    ) -> ApiResult<()> {
        let mut managed = match (requested, old) {
            (Some(list), _) => ManagedFields::from_list(list).map_err(bad_managed_fields)?,
            (None, Some(old)) => ManagedFields::of(old).map_err(bad_managed_fields)?,
            (None, None) => ManagedFields::default(),
        };
        let empty = skeleton(new);
        managedfields::update(&mut managed, old.unwrap_or(&empty), new, &self.write());
        managed.store(new);
        Ok(())
    }

    /// Apply `config` over `live` (`None`: create); the merged object to
    /// prepare and store, and its entries (to [`ManagedFields::store`]
    /// once the object is prepared).
    pub fn apply(
        &self,
        live: Option<&Value>,
        config: &Value,
        force: bool,
    ) -> ApiResult<(Value, ManagedFields)> {
        let mut managed = match live {
            Some(l) => ManagedFields::of(l).map_err(bad_managed_fields)?,
            None => ManagedFields::default(),
        };
        let merged = managedfields::apply(&mut managed, live, config, &self.write(), force)
            .map_err(conflict_error)?;
        Ok((merged, managed))
    }
}

/// What a create compares against: the new object's top-level maps,
/// empty (upstream compares with the kind's zero value, in which
/// `metadata`, `spec` and `status` are present: a create does not own
/// them as such, only what is in them).
fn skeleton(new: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = new {
        for (k, v) in m {
            if v.is_object() {
                out.insert(k.clone(), Value::Object(Map::new()));
            }
        }
    }
    Value::Object(out)
}

fn bad_managed_fields(e: String) -> ApiError {
    ApiError::bad_request(format!("metadata.managedFields: Invalid value: {e}"))
}

/// The 409 of a refused apply, as upstream: reason Conflict, one
/// `FieldManagerConflict` cause per field.
pub fn conflict_error(conflicts: Conflicts) -> ApiError {
    let causes = conflicts
        .0
        .iter()
        .map(|c| StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", c.manager),
            field: c.field.clone(),
        })
        .collect();
    ApiError::from(
        Status::failure(409, "Conflict", conflicts.message()).with_details(StatusDetails {
            causes,
            ..Default::default()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_quoted_as_upstream() {
        assert_eq!(
            warning_header(r#"unknown field "spec.foo""#),
            r#"299 - "unknown field \"spec.foo\"""#
        );
    }

    #[test]
    fn create_compares_with_empty_top_level_maps() {
        let new = serde_json::json!({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"x": 1}});
        assert_eq!(
            skeleton(&new),
            serde_json::json!({"metadata": {}, "spec": {}})
        );
    }
}
