//! API errors: every failure leaves the server as a Kubernetes `Status`
//! with the right HTTP code and reason.

use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use tug_api::status::{invalid_status, FieldError, Status, StatusDetails};

use crate::storage::StorageError;

/// An error response: a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError(pub Box<Status>);

pub type ApiResult<T> = Result<T, ApiError>;

/// `Kind.group` as Kubernetes prints it in messages (`deployments.apps`,
/// `pods`): the resource plural qualified by its group.
pub fn qualified_resource(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn details(plural: &str, group: &str, name: &str) -> StatusDetails {
    StatusDetails {
        name: name.to_string(),
        group: group.to_string(),
        kind: plural.to_string(),
        ..Default::default()
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError(Box::new(status))
    }
}

impl ApiError {
    pub fn code(&self) -> u16 {
        self.0.code
    }

    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        ApiError::from(
            Status::failure(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified_resource(plural, group)),
            )
            .with_details(details(plural, group, name)),
        )
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        ApiError::from(
            Status::failure(
                409,
                "AlreadyExists",
                format!(
                    "{} \"{name}\" already exists",
                    qualified_resource(plural, group)
                ),
            )
            .with_details(details(plural, group, name)),
        )
    }

    pub fn conflict(plural: &str, group: &str, name: &str, why: &str) -> Self {
        ApiError::from(
            Status::failure(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    qualified_resource(plural, group)
                ),
            )
            .with_details(details(plural, group, name)),
        )
    }

    /// The optimistic-concurrency conflict, worded as Kubernetes words it.
    pub fn stale(plural: &str, group: &str, name: &str) -> Self {
        Self::conflict(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        ApiError::from(invalid_status(kind, group, name, errors))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(400, "BadRequest", message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(403, "Forbidden", message))
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(405, "MethodNotAllowed", message))
    }

    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(410, "Expired", message))
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(413, "RequestEntityTooLarge", message))
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(415, "UnsupportedMediaType", message))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(500, "InternalError", message))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::from(Status::failure(503, "ServiceUnavailable", message))
    }

    /// Path does not name anything we serve.
    pub fn no_route(path: &str) -> Self {
        ApiError::from(Status::failure(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        ))
    }

    /// Map a storage error on object `name` of a resource.
    pub fn from_storage(err: StorageError, plural: &str, group: &str, name: &str) -> Self {
        match err {
            StorageError::NotFound(_) => Self::not_found(plural, group, name),
            StorageError::AlreadyExists(_) => Self::already_exists(plural, group, name),
            StorageError::Conflict { .. } => Self::stale(plural, group, name),
            StorageError::Compacted {
                requested,
                compacted,
            } => Self::gone(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            StorageError::FutureRevision(rv) => ApiError::from(Status::failure(
                504,
                "Timeout",
                format!("Too large resource version: {rv}"),
            )),
            StorageError::Backend(msg) => {
                tracing::error!(error = %msg, "storage backend error");
                Self::unavailable(format!("storage is unavailable: {msg}"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}
