//! Bootstrap tokens (upstream's `bootstrap.kubernetes.io/token` Secrets in
//! `kube-system`): `<id>.<secret>` authenticates as
//! `system:bootstrap:<id>` in `system:bootstrappers` plus the token's
//! extra groups, while the Secret exists, allows authentication and has
//! not expired. The Secret is read from this apiserver's own storage.

use chrono::{DateTime, Utc};
use tug_api::core::{base64, Secret};

use crate::auth::user::AUTHENTICATED;
use crate::auth::UserInfo;
use crate::server::ApiServer;

/// The Secret type of bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// Secrets are named this prefix plus the token id.
pub const SECRET_PREFIX: &str = "bootstrap-token-";
/// The group of every bootstrap token user.
pub const BOOTSTRAPPERS: &str = "system:bootstrappers";
/// User name prefix of bootstrap token users.
pub const USER_PREFIX: &str = "system:bootstrap:";

/// `<id>.<secret>` split, when the token has the bootstrap shape
/// (`[a-z0-9]{6}.[a-z0-9]{16}`).
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// Why a bootstrap token was refused (logged, never sent to the client).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    NoSecret,
    WrongType,
    WrongSecret,
    Deleting,
    Expired,
    BadExpiration(String),
    NotForAuthentication,
    BadGroup(String),
}

fn field(secret: &Secret, key: &str) -> Option<String> {
    let raw = secret.data.get(key)?;
    base64::decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Whether two byte strings are equal, in time independent of where they
/// differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Extra groups must be `system:bootstrappers:...`.
fn valid_group(g: &str) -> bool {
    g.strip_prefix("system:bootstrappers:").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 256
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
            && !rest.ends_with([':', '-'])
    })
}

/// The user a token's Secret authenticates, checked at `now`.
pub fn user_from_secret(
    secret: &Secret,
    id: &str,
    token_secret: &str,
    now: DateTime<Utc>,
) -> Result<UserInfo, Refused> {
    if secret.type_ != SECRET_TYPE {
        return Err(Refused::WrongType);
    }
    if secret.metadata.deletion_timestamp.is_some() {
        return Err(Refused::Deleting);
    }
    let stored_id = field(secret, "token-id").unwrap_or_default();
    let stored_secret = field(secret, "token-secret").unwrap_or_default();
    if stored_id != id || !constant_time_eq(stored_secret.as_bytes(), token_secret.as_bytes()) {
        return Err(Refused::WrongSecret);
    }
    if let Some(exp) = field(secret, "expiration") {
        let at = DateTime::parse_from_rfc3339(&exp).map_err(|_| Refused::BadExpiration(exp))?;
        if at <= now {
            return Err(Refused::Expired);
        }
    }
    if field(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(Refused::NotForAuthentication);
    }
    let mut groups = vec![BOOTSTRAPPERS.to_string()];
    for g in field(secret, "auth-extra-groups")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        if !valid_group(g) {
            return Err(Refused::BadGroup(g.into()));
        }
        if !groups.iter().any(|have| have == g) {
            groups.push(g.into());
        }
    }
    groups.push(AUTHENTICATED.into());
    Ok(UserInfo {
        name: format!("{USER_PREFIX}{id}"),
        uid: String::new(),
        groups,
    })
}

/// Authenticate a bootstrap-shaped token against its Secret. `None` when
/// the token does not have the bootstrap shape (another authenticator may
/// know it); `Some(Err)` when it has it but is not valid.
pub async fn authenticate(server: &ApiServer, token: &str) -> Option<Result<UserInfo, Refused>> {
    let (id, token_secret) = parse_token(token)?;
    let secrets = server.registry.get("", "v1", "secrets")?;
    let stored = match server
        .objects
        .get(
            secrets.info(),
            "kube-system",
            &format!("{SECRET_PREFIX}{id}"),
        )
        .await
    {
        Ok(s) => s,
        Err(_) => return Some(Err(Refused::NoSecret)),
    };
    let Ok(secret) = serde_json::from_value::<Secret>(stored.object) else {
        return Some(Err(Refused::WrongType));
    };
    Some(user_from_secret(&secret, id, token_secret, Utc::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(extra: serde_json::Value) -> Secret {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
            (
                "auth-extra-groups",
                "system:bootstrappers:tugboat:default-node-token",
            ),
        ] {
            data.insert(k.into(), json!(base64::encode(v.as_bytes())));
        }
        for (k, v) in extra.as_object().unwrap() {
            data.insert(
                k.clone(),
                json!(base64::encode(v.as_str().unwrap().as_bytes())),
            );
        }
        serde_json::from_value(json!({
            "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "type": SECRET_TYPE,
            "data": data,
        }))
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn token_shape() {
        assert_eq!(
            parse_token("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        assert_eq!(parse_token("ABCDEF.0123456789abcdef"), None);
        assert_eq!(parse_token("abcdef.0123456789abcde"), None);
        assert_eq!(parse_token("some-static-token"), None);
    }

    #[test]
    fn a_valid_token_is_its_bootstrap_user() {
        let u =
            user_from_secret(&secret(json!({})), "abcdef", "0123456789abcdef", Utc::now()).unwrap();
        assert_eq!(u.name, "system:bootstrap:abcdef");
        assert_eq!(
            u.groups,
            vec![
                "system:bootstrappers",
                "system:bootstrappers:tugboat:default-node-token",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn wrong_secret_expired_or_unusable_tokens_are_refused() {
        let now = at("2030-01-01T00:00:00Z");
        assert_eq!(
            user_from_secret(&secret(json!({})), "abcdef", "0123456789abcdee", now),
            Err(Refused::WrongSecret)
        );
        let expired = secret(json!({"expiration": "2029-12-31T23:59:59Z"}));
        assert_eq!(
            user_from_secret(&expired, "abcdef", "0123456789abcdef", now),
            Err(Refused::Expired)
        );
        let later = secret(json!({"expiration": "2030-01-02T00:00:00Z"}));
        assert!(user_from_secret(&later, "abcdef", "0123456789abcdef", now).is_ok());
        let signing_only = secret(json!({"usage-bootstrap-authentication": "false"}));
        assert_eq!(
            user_from_secret(&signing_only, "abcdef", "0123456789abcdef", now),
            Err(Refused::NotForAuthentication)
        );
        let bad_group = secret(json!({"auth-extra-groups": "system:masters"}));
        assert_eq!(
            user_from_secret(&bad_group, "abcdef", "0123456789abcdef", now),
            Err(Refused::BadGroup("system:masters".into()))
        );
    }
}
