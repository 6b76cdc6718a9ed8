//! Who may use the kubelet's API (upstream's kubelet webhook authn/authz):
//! a verified client certificate is the user (CN) and groups (O);
//! `system:masters` may do anything; anyone else needs a
//! SubjectAccessReview allowing the verb on `nodes/<subresource>` of this
//! node, asked of the apiserver and remembered for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use tug_api::authorization::ResourceAttributes;
use tug_client::review::{self, Subject};

use super::error::ServerError;
use super::tls::Peer;
use crate::node::NodeCtx;

/// How long an allowed answer is remembered (upstream's default).
const ALLOWED_TTL: Duration = Duration::from_secs(300);
/// How long a denied answer is remembered (upstream's default).
const DENIED_TTL: Duration = Duration::from_secs(30);

/// The group that may do anything.
const MASTERS: &str = "system:masters";

/// The SubjectAccessReview verb and `nodes` subresource a request means
/// (upstream's `GetRequestAttributes`: `/logs/` is `log`, `/stats/`
/// `stats`, `/metrics` `metrics`, `/spec/` `spec`, everything else —
/// `/pods`, `/containerLogs`, `/healthz` — `proxy`).
pub fn attributes(method: &Method, path: &str) -> (&'static str, &'static str) {
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    };
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let subresource = match first {
        "logs" => "log",
        "stats" => "stats",
        "metrics" => "metrics",
        "spec" => "spec",
        _ => "proxy",
    };
    (verb, subresource)
}

/// What an answer is remembered by: who, the verb, the subresource.
type Key = (Subject, &'static str, &'static str);

/// Remembered answers (allowed, when asked) by [`Key`].
#[derive(Default)]
pub struct DecisionCache {
    entries: Mutex<HashMap<Key, (bool, Instant)>>,
}

impl DecisionCache {
    fn get(&self, key: &Key, now: Instant) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).and_then(|(allowed, at)| {
            let ttl = if *allowed { ALLOWED_TTL } else { DENIED_TTL };
            (now.duration_since(*at) < ttl).then_some(*allowed)
        })
    }

    fn put(&self, key: Key, allowed: bool, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (a, at)| {
            now.duration_since(*at) < if *a { ALLOWED_TTL } else { DENIED_TTL }
        });
        entries.insert(key, (allowed, now));
    }
}

/// The middleware: 401 without a client identity, 403 when not allowed.
pub async fn authorize(
    State((ctx, cache)): State<(Arc<NodeCtx>, Arc<DecisionCache>)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(Peer(Some(subject))) = req.extensions().get::<Peer>().cloned() else {
        return ServerError::unauthorized("Unauthorized").into_response();
    };
    if subject.organizations.iter().any(|o| o == MASTERS) {
        return next.run(req).await;
    }
    let (verb, subresource) = attributes(req.method(), req.uri().path());
    let who = Subject {
        user: subject.common_name.clone(),
        uid: String::new(),
        groups: subject.organizations.clone(),
    };
    let key = (who.clone(), verb, subresource);
    let now = Instant::now();
    let allowed = match cache.get(&key, now) {
        Some(a) => a,
        None => {
            let attrs = ResourceAttributes {
                verb: verb.into(),
                resource: "nodes".into(),
                subresource: subresource.into(),
                name: ctx.config.name.clone(),
                ..Default::default()
            };
            match review::may(&ctx.client, &who, attrs).await {
                Ok(a) => {
                    cache.put(key, a, now);
                    a
                }
                Err(e) => {
                    return ServerError::unavailable(format!(
                        "cannot ask the apiserver whether {:?} may {verb} nodes/{subresource}: {e}",
                        who.user
                    ))
                    .into_response()
                }
            }
        }
    };
    if !allowed {
        return ServerError::forbidden(format!(
            "Forbidden (user={}, verb={verb}, resource=nodes, subresource={subresource})",
            who.user
        ))
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_node_subresources_as_upstream() {
        assert_eq!(
            attributes(&Method::GET, "/containerLogs/default/p/c"),
            ("get", "proxy")
        );
        assert_eq!(attributes(&Method::GET, "/pods"), ("get", "proxy"));
        assert_eq!(attributes(&Method::GET, "/logs/syslog"), ("get", "log"));
        assert_eq!(
            attributes(&Method::POST, "/exec/ns/p/c"),
            ("create", "proxy")
        );
        assert_eq!(attributes(&Method::GET, "/metrics"), ("get", "metrics"));
    }

    #[test]
    fn answers_are_remembered_denials_briefly() {
        let cache = DecisionCache::default();
        let who = Subject {
            user: "jane".into(),
            ..Default::default()
        };
        let t0 = Instant::now();
        cache.put((who.clone(), "get", "proxy"), false, t0);
        cache.put((who.clone(), "get", "log"), true, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            cache.get(&(who.clone(), "get", "proxy"), later),
            None,
            "denial expired"
        );
        assert_eq!(cache.get(&(who.clone(), "get", "log"), later), Some(true));
        assert_eq!(
            cache.get(&(who, "get", "log"), t0 + Duration::from_secs(301)),
            None
        );
    }
}
