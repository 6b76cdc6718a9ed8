//! Authentication (who is asking) and authorization (may they) of every
//! request, as two middlewares around the API router: `authenticate`
//! outermost, `authorize` innermost (after the limits), as upstream's
//! handler chain orders them.
//!
//! - [`authn`]: client certificates, token file, bootstrap tokens,
//!   anonymous public paths.
//! - [`request_info`]: what a request asks, in authorization terms.
//! - [`node`] and [`rbac`]: the authorizers (`--authorization-mode`), with
//!   the default policy in [`policy`].
//! - [`reviews`]: the SubjectAccessReview family, which asks the same
//!   authorizers.

pub mod authn;
pub mod decision;
pub mod forbidden;
pub mod node;
pub mod policy;
pub mod rbac;
pub mod request_info;
pub mod reviews;
pub mod user;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OnceCell;

use crate::conn::ConnectionInfo;
use crate::error::ApiResult;
use crate::registry::ResourceInfo;
use crate::server::ApiServer;

pub use decision::Decision;
pub use request_info::RequestInfo;
pub use user::UserInfo;

/// One authorizer of `--authorization-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// Kubelets' access to their own objects.
    Node,
    /// Roles and bindings.
    Rbac,
    /// Everything allowed (tests, single-user setups).
    AlwaysAllow,
    /// Nothing allowed (beyond `system:masters`).
    AlwaysDeny,
}

impl std::str::FromStr for AuthorizationMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "Node" => Ok(AuthorizationMode::Node),
            "RBAC" => Ok(AuthorizationMode::Rbac),
            "AlwaysAllow" => Ok(AuthorizationMode::AlwaysAllow),
            "AlwaysDeny" => Ok(AuthorizationMode::AlwaysDeny),
            other => Err(format!(
                "unknown authorization mode {other:?} (supported: Node, RBAC, AlwaysAllow, AlwaysDeny)"
            )),
        }
    }
}

/// Authentication and authorization settings (from `flags::auth`).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `--token-auth-file`.
    pub token_auth_file: Option<PathBuf>,
    /// `--authorization-mode`, in order.
    pub authorization_modes: Vec<AuthorizationMode>,
    /// `--anonymous-auth`: credential-less requests on the public paths.
    pub anonymous_auth: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_auth_file: None,
            authorization_modes: vec![AuthorizationMode::Node, AuthorizationMode::Rbac],
            anonymous_auth: true,
        }
    }
}

/// The authenticators and authorizers of one apiserver.
pub struct Auth {
    authenticator: authn::Authenticator,
    modes: Vec<AuthorizationMode>,
    /// The RBAC views, loaded by [`start`] (or on first use).
    rbac: OnceCell<rbac::Rbac>,
}

impl Auth {
    /// Build from the configuration (reads the token file: a bad file is
    /// a start-up error naming the line).
    pub fn new(config: &AuthConfig) -> anyhow::Result<Auth> {
        let tokens = match &config.token_auth_file {
            Some(path) => authn::token_file::TokenFile::load(path)?,
            None => Default::default(),
        };
        Ok(Auth {
            authenticator: authn::Authenticator {
                tokens,
                anonymous: config.anonymous_auth,
            },
            modes: config.authorization_modes.clone(),
            rbac: OnceCell::new(),
        })
    }

    async fn rbac(&self, server: &ApiServer) -> &rbac::Rbac {
        self.rbac.get_or_init(|| rbac::Rbac::start(server)).await
    }

    /// Whether `user` may do `req`: `system:masters` always, else the
    /// first authorizer of `--authorization-mode` that allows it. Not
    /// allowed: the reasons of every authorizer, joined.
    pub async fn authorize(
        &self,
        server: &ApiServer,
        user: &UserInfo,
        req: &RequestInfo,
    ) -> ApiResult<Decision> {
        if user.in_group(user::MASTERS) {
            return Ok(Decision::Allow);
        }
        let mut reasons = Vec::new();
        for mode in &self.modes {
            let decision = match mode {
                AuthorizationMode::AlwaysAllow => Decision::Allow,
                AuthorizationMode::AlwaysDeny => Decision::no(""),
                AuthorizationMode::Node => match node::node_name(user) {
                    Some(name) => node::authorize(server, name, req).await?,
                    None => Decision::no(""),
                },
                AuthorizationMode::Rbac => self.rbac(server).await.authorize(user, req),
            };
            match decision {
                Decision::Allow => return Ok(Decision::Allow),
                Decision::NoOpinion(r) if !r.is_empty() => reasons.push(r),
                Decision::NoOpinion(_) => {}
            }
        }
        Ok(Decision::NoOpinion(reasons.join(", ")))
    }
}

/// Start-up: create (or reconcile) the default RBAC policy and load the
/// authorization views, so the first request is decided on the full
/// policy.
pub async fn start(server: &ApiServer) -> anyhow::Result<()> {
    policy::ensure_default_policy(server).await?;
    server.auth.rbac(server).await;
    Ok(())
}

/// Admission of a new object by its creator (the Node restriction: a
/// node creates only its own Node and Lease).
pub fn admit_create(
    user: &UserInfo,
    info: &ResourceInfo,
    object: &serde_json::Value,
) -> ApiResult<()> {
    node::admit_create(user, info, object)
}

/// Attach the request's [`UserInfo`] to its extensions, or answer 401.
/// The `Authorization` header is removed once used, as upstream does, so
/// nothing downstream sees the credential.
pub async fn authenticate(
    State(server): State<Arc<ApiServer>>,
    mut req: Request,
    next: Next,
) -> Response {
    let conn = req.extensions().get::<ConnectionInfo>().cloned();
    let result = server
        .auth
        .authenticator
        .authenticate(
            &server,
            conn.as_ref(),
            req.headers(),
            req.method(),
            req.uri().path(),
        )
        .await;
    match result {
        Ok(user) => {
            req.headers_mut().remove(http::header::AUTHORIZATION);
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Err(why) => {
            tracing::debug!(path = %req.uri().path(), reason = %why.0, "unauthenticated request");
            forbidden::unauthorized().into_response()
        }
    }
}

/// Answer 403 unless the request's user may do what it asks.
pub async fn authorize(State(server): State<Arc<ApiServer>>, req: Request, next: Next) -> Response {
    let user = req
        .extensions()
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_else(UserInfo::anonymous);
    let info =
        RequestInfo::from_request(req.method().as_str(), req.uri().path(), req.uri().query());
    match server.auth.authorize(&server, &user, &info).await {
        Ok(Decision::Allow) => next.run(req).await,
        Ok(Decision::NoOpinion(reason)) => {
            forbidden::forbidden(&user.name, &info, &reason).into_response()
        }
        Err(e) => e.into_response(),
    }
}
