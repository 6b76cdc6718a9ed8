//! PATCH bodies: merge patch, JSON patch and strategic merge patch, applied
//! to the current object; server-side apply bodies are read here and
//! merged by `crud::apply`.

use serde_json::Value;
use tug_api::patch::{self, PatchError, PatchSchema};

use super::body::{self, Checked};
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;

/// The patch formats the API accepts, by content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    /// Server-side apply (`application/apply-patch+yaml`): the body is
    /// the manager's whole intent, YAML or JSON.
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> ApiResult<PatchType> {
        match ct {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
            ))),
        }
    }
}

/// Read a patch body: its document and the paths of keys it repeats.
/// Apply bodies are YAML (JSON being YAML); the others JSON.
pub fn read(patch_type: PatchType, raw: &[u8]) -> ApiResult<Checked> {
    match patch_type {
        PatchType::Apply => {
            if raw.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::bad_request("the request body is empty"));
            }
            let (doc, dups) = body::checked_yaml(raw)?;
            if !doc.is_object() {
                return Err(ApiError::bad_request(
                    "an apply patch must be a single object (YAML or JSON)",
                ));
            }
            Ok((doc, dups))
        }
        _ => body::checked_json(raw),
    }
}

/// A malformed patch is the client's syntax error (400); a well-formed one
/// that does not apply to this object (a failed `test`, a missing path) is 422.
fn patch_error(e: PatchError) -> ApiError {
    match e {
        PatchError::Malformed(m) => ApiError::bad_request(format!("the patch is malformed: {m}")),
        PatchError::Failed(m) => ApiError::from(tug_api::Status::failure(
            422,
            "Invalid",
            format!("the patch could not be applied: {m}"),
        )),
    }
}

/// Apply `patch` to `current`, returning the patched object. A JSON patch
/// can nest a value under a deep path; a result deeper than anything
/// stored may be is refused (422) so it never reaches storage, where no
/// reader could parse it again.
pub fn apply(
    info: &ResourceInfo,
    patch_type: PatchType,
    current: &Value,
    patch_doc: &Value,
) -> ApiResult<Value> {
    let patched = apply_unchecked(info, patch_type, current, patch_doc)?;
    tug_api::decode::check_nesting_depth(&patched).map_err(|e| {
        patch_error(PatchError::Failed(format!(
            "the patched object is too deeply nested: {e}"
        )))
    })?;
    Ok(patched)
}

fn apply_unchecked(
    info: &ResourceInfo,
    patch_type: PatchType,
    current: &Value,
    patch_doc: &Value,
) -> ApiResult<Value> {
    let mut target = current.clone();
    match patch_type {
        PatchType::Merge => {
            if !patch_doc.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            patch::merge_patch(&mut target, patch_doc);
            Ok(target)
        }
        PatchType::Json => {
            patch::json_patch(&mut target, patch_doc).map_err(|e| {
                ApiError::bad_request(format!("the JSON patch could not be applied: {e}"))
            })?;
            Ok(target)
        }
        PatchType::Strategic => {
            if !patch_doc.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            let schema = PatchSchema::for_kind(info.group, info.kind);
            patch::strategic_merge_patch(current, patch_doc, &schema).map_err(patch_error)
        }
        PatchType::Apply => Err(ApiError::unsupported_media_type(
            "server-side apply is served on the main resource and /status only",
        )),
    }
}
