//! Authentication (who is asking) and authorization (may they) of every
//! request, as two middlewares around the API router: `authenticate`
//! outermost, `authorize` innermost (after the limits), as upstream's
//! handler chain orders them.
//!
//! SKELETON (issue 8): both pass requests through; the auth engineer
//! fills them in.

pub mod user;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::conn::ConnectionInfo;
use crate::server::ApiServer;

pub use user::UserInfo;

/// Authentication and authorization settings (from `flags::auth`).
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {}

/// The authenticators and authorizers of one apiserver.
pub struct Auth {}

impl Auth {
    /// Build from the configuration.
    pub fn new(_config: &AuthConfig) -> anyhow::Result<Auth> {
        Ok(Auth {})
    }
}

/// Attach the request's [`UserInfo`] to its extensions, or answer 401.
pub async fn authenticate(
    State(_server): State<Arc<ApiServer>>,
    mut req: Request,
    next: Next,
) -> Response {
    let secure = req
        .extensions()
        .get::<ConnectionInfo>()
        .is_some_and(|c| c.secure);
    let user = if secure {
        UserInfo::anonymous()
    } else {
        UserInfo::unsecured()
    };
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// Answer 403 unless the request's user may do what it asks.
pub async fn authorize(
    State(_server): State<Arc<ApiServer>>,
    req: Request,
    next: Next,
) -> Response {
    next.run(req).await
}
