//! `tug-apiserver` flags: authentication and authorization.

use std::path::PathBuf;

use crate::auth::{AuthConfig, AuthorizationMode};

/// Flags of this concern, flattened into [`super::Flags`].
#[derive(clap::Args, Debug, Clone)]
pub struct AuthFlags {
    /// Static bearer tokens, CSV `token,user,uid,"group1,group2"`.
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Authorizers, in order: `Node`, `RBAC`, `AlwaysAllow`, `AlwaysDeny`.
    #[arg(long, value_delimiter = ',', default_value = "Node,RBAC")]
    pub authorization_mode: Vec<AuthorizationMode>,
    /// Let requests without credentials read the public paths (/healthz,
    /// /livez, /readyz, /version, kube-public/cluster-info) as
    /// `system:anonymous`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub anonymous_auth: bool,
}

impl Default for AuthFlags {
    fn default() -> Self {
        let config = AuthConfig::default();
        AuthFlags {
            token_auth_file: config.token_auth_file,
            authorization_mode: config.authorization_modes,
            anonymous_auth: config.anonymous_auth,
        }
    }
}

impl AuthFlags {
    /// The configuration these flags describe.
    pub fn config(&self) -> AuthConfig {
        AuthConfig {
            token_auth_file: self.token_auth_file.clone(),
            authorization_modes: self.authorization_mode.clone(),
            anonymous_auth: self.anonymous_auth,
        }
    }
}
