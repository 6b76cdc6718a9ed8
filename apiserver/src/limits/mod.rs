//! Admission limits on requests: in-flight caps, per-client rate limits,
//! watch counts and request timeouts.
//!
//! SKELETON (issue 8): passes requests through; the limits engineer
//! fills it in.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::server::ApiServer;

/// Limit settings (from `flags::limits`).
#[derive(Clone, Debug, Default)]
pub struct LimitsConfig {}

/// The live state of the limits (semaphores, buckets, counters).
pub struct Limits {}

impl Limits {
    /// Build from the configuration.
    pub fn new(_config: &LimitsConfig) -> Limits {
        Limits {}
    }
}

/// Admit the request within the limits, or answer 429 with Retry-After.
/// Runs after authentication: the request's `UserInfo` is in its
/// extensions.
pub async fn enforce(State(_server): State<Arc<ApiServer>>, req: Request, next: Next) -> Response {
    next.run(req).await
}
