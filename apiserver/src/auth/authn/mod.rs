//! Authentication: who sent a request. In order: the loopback insecure
//! port (trusted completely), a verified client certificate, a bearer
//! token (token file, then bootstrap tokens); a request with no
//! credential is anonymous on the public paths only. A credential that
//! is presented but not valid is always a 401, wherever it is sent.

pub mod anonymous;
pub mod bootstrap;
pub mod token_file;
pub mod x509;

use http::{header, HeaderMap, Method};

use crate::auth::UserInfo;
use crate::conn::ConnectionInfo;
use crate::server::ApiServer;

use token_file::TokenFile;

/// The authenticators of one apiserver.
#[derive(Debug, Default)]
pub struct Authenticator {
    /// `--token-auth-file`, loaded at start.
    pub tokens: TokenFile,
    /// `--anonymous-auth`: credential-less requests allowed on the
    /// public paths.
    pub anonymous: bool,
}

/// Why a request was refused with 401 (logged; the client only sees
/// `Unauthorized`).
#[derive(Debug)]
pub struct Unauthenticated(pub String);

/// The bearer token of an `Authorization` header, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Authenticator {
    /// The user of a request. A missing connection record counts as a
    /// secure connection without a certificate (fail closed).
    pub async fn authenticate(
        &self,
        server: &ApiServer,
        conn: Option<&ConnectionInfo>,
        headers: &HeaderMap,
        method: &Method,
        path: &str,
    ) -> Result<UserInfo, Unauthenticated> {
        if conn.is_some_and(|c| !c.secure) {
            return Ok(UserInfo::unsecured());
        }
        if let Some(result) = conn.and_then(|c| x509::user_from_chain(&c.client_certificates)) {
            return result.map_err(Unauthenticated);
        }
        if let Some(token) = bearer_token(headers) {
            if let Some(user) = self.tokens.user(token) {
                return Ok(user.clone());
            }
            return match bootstrap::authenticate(server, token).await {
                Some(Ok(user)) => Ok(user),
                Some(Err(why)) => Err(Unauthenticated(format!("bootstrap token: {why:?}"))),
                None => Err(Unauthenticated("unknown bearer token".into())),
            };
        }
        if self.anonymous && anonymous::is_public(method, path) {
            return Ok(UserInfo::anonymous());
        }
        Err(Unauthenticated("no credentials".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
