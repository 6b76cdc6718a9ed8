//! Query parameters of API requests.

use serde::Deserialize;
use tug_api::selector::{FieldSelector, Selector};

use crate::error::{ApiError, ApiResult};

/// Every query parameter the API understands; unknown ones are ignored,
/// as upstream does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<i64>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: Option<String>,
    pub allow_watch_bookmarks: Option<String>,
    pub timeout_seconds: Option<i64>,
    pub dry_run: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub orphan_dependents: Option<String>,
    /// `Strict`, `Warn` (the default) or `Ignore`: what to do about
    /// unknown and duplicate fields in a write's body.
    pub field_validation: Option<String>,
    /// Who makes the write, for `metadata.managedFields`.
    pub field_manager: Option<String>,
    /// Server-side apply: take the fields other managers own.
    pub force: Option<String>,
    /// The query as it came (`pods/log` passes its options on).
    #[serde(skip)]
    pub raw_query: String,
}

/// What a write does about unknown and duplicate fields in its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Refuse the write (400) naming every such field.
    Strict,
    /// Drop them and say so in `Warning` headers.
    Warn,
    /// Drop them silently.
    Ignore,
}

/// Longest field manager name upstream accepts.
const MAX_FIELD_MANAGER: usize = 128;

/// A 422 about the query parameters of a write (upstream names them
/// `PatchOptions`).
pub fn invalid_patch_options(error: tug_api::FieldError) -> ApiError {
    ApiError::invalid("PatchOptions", "meta.k8s.io", "", &[error])
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "1" | "True" | ""))
}

impl Params {
    pub fn parse(query: Option<&str>) -> ApiResult<Params> {
        let q = query.unwrap_or("");
        let mut params = serde_urlencoded_parse(q)?;
        params.raw_query = q.to_string();
        Ok(params)
    }

    pub fn is_watch(&self) -> bool {
        truthy(&self.watch)
    }

    pub fn bookmarks(&self) -> bool {
        truthy(&self.allow_watch_bookmarks)
    }

    /// `dryRun=All` (the only value upstream accepts).
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.dry_run.as_deref() {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value {other:?}: only \"All\" is supported"
            ))),
        }
    }

    /// `fieldValidation`; Warn when unset, as upstream since 1.27.
    pub fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.field_validation.as_deref() {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter must be one of Ignore, Warn, Strict, got {other:?}"
            ))),
        }
    }

    /// `force=true` (server-side apply only).
    pub fn force(&self) -> bool {
        matches!(self.force.as_deref(), Some("true" | "1" | "True"))
    }

    /// The `fieldManager` parameter, checked as upstream checks it; `None`
    /// when unset.
    pub fn field_manager(&self) -> ApiResult<Option<&str>> {
        match self.field_manager.as_deref() {
            None | Some("") => Ok(None),
            Some(m) if m.chars().count() > MAX_FIELD_MANAGER => Err(invalid_patch_options(
                tug_api::FieldError::too_long("fieldManager", MAX_FIELD_MANAGER),
            )),
            Some(m) if m.chars().any(char::is_control) => {
                Err(invalid_patch_options(tug_api::FieldError::invalid(
                    "fieldManager",
                    m,
                    "must only contain printable characters",
                )))
            }
            Some(m) => Ok(Some(m)),
        }
    }

    pub fn labels(&self) -> ApiResult<Selector> {
        match self.label_selector.as_deref() {
            None | Some("") => Ok(Selector::everything()),
            Some(s) => Selector::parse(s).map_err(|e| {
                ApiError::bad_request(format!("unable to parse labelSelector {s:?}: {e}"))
            }),
        }
    }

    pub fn fields(&self) -> ApiResult<FieldSelector> {
        match self.field_selector.as_deref() {
            None | Some("") => Ok(FieldSelector::everything()),
            Some(s) => FieldSelector::parse(s).map_err(|e| {
                ApiError::bad_request(format!("unable to parse fieldSelector {s:?}: {e}"))
            }),
        }
    }

    /// The resourceVersion parameter as a revision; `None` when unset or "0".
    pub fn revision(&self) -> ApiResult<Option<i64>> {
        match self.resource_version.as_deref() {
            None | Some("") | Some("0") => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {s:?}: must be an integer"))
            }),
        }
    }
}

fn serde_urlencoded_parse(q: &str) -> ApiResult<Params> {
    let uri: http::Uri = format!("/?{q}")
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query string"))?;
    axum::extract::Query::<Params>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("invalid query parameters: {}", e.body_text())))
}
