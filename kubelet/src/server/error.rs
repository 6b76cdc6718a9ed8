//! The kubelet server's errors: a code and a message, answered as a
//! Kubernetes `Status` (which the apiserver's `pods/log` passes on).

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tug_api::status::Status;

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong, in words.
    pub message: String,
}

impl ServerError {
    /// 400: the request cannot be served as asked.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ServerError {
            code: 400,
            message: message.into(),
        }
    }

    /// 404: no such pod or container here.
    pub fn not_found(message: impl Into<String>) -> Self {
        ServerError {
            code: 404,
            message: message.into(),
        }
    }

    /// 401: no verified client certificate.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ServerError {
            code: 401,
            message: message.into(),
        }
    }

    /// 403: the client may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ServerError {
            code: 403,
            message: message.into(),
        }
    }

    /// 503: the apiserver could not be asked.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ServerError {
            code: 503,
            message: message.into(),
        }
    }

    /// The `reason` of the `Status`.
    fn reason(&self) -> &'static str {
        match self.code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            503 => "ServiceUnavailable",
            _ => "InternalError",
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let status = Status::failure(self.code, self.reason(), self.message);
        (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&status).unwrap_or_default(),
        )
            .into_response()
    }
}
