//! What kind of request this is, for the limits: read-only or mutating,
//! and whether it is long-running (a watch, a log stream), which upstream
//! neither counts in flight nor times out.

use http::Method;

/// The class of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A watch: exempt from the in-flight limits and the request timeout,
    /// counted against the user's concurrent watches instead.
    Watch,
    /// Another long-running request (`pods/log` and the streaming
    /// subresources): exempt from the in-flight limits and the timeout.
    Stream,
    /// `GET`, `HEAD` or `OPTIONS`: counted against `--max-requests-inflight`.
    ReadOnly,
    /// Anything else: counted against `--max-mutating-requests-inflight`.
    Mutating,
}

impl Class {
    /// Whether the request may last as long as its client wants (upstream's
    /// `LongRunningRequestCheck`).
    pub fn is_long_running(self) -> bool {
        matches!(self, Class::Watch | Class::Stream)
    }
}

/// Subresources that stream for as long as the client wants. As
/// upstream's `BasicLongRunningRequestCheck`, `log` is long-running with
/// or without `follow=true`: a log is as long as the container made it.
const STREAMING_SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward", "proxy"];

/// Subresources of a Namespace itself (`/api/v1/namespaces/x/status`), not
/// namespaced resources named `status`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Classify a request by method, path and query.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> Class {
    let read_only = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(parts) = resource_parts(path) {
        if read_only && (parts.first() == Some(&"watch") || watch_param(query)) {
            return Class::Watch;
        }
        if subresource(&parts).is_some_and(|s| STREAMING_SUBRESOURCES.contains(&s)) {
            return Class::Stream;
        }
    }
    if read_only {
        Class::ReadOnly
    } else {
        Class::Mutating
    }
}

/// The segments after `/api/v1/` or `/apis/<group>/<version>/`; `None`
/// for paths outside the resource API (`/healthz`, discovery of a group).
fn resource_parts(path: &str) -> Option<Vec<&str>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segs.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    (!rest.is_empty()).then(|| rest.to_vec())
}

/// The subresource addressed by resource path segments (upstream's
/// `RequestInfoFactory` rules), if any.
fn subresource<'a>(parts: &[&'a str]) -> Option<&'a str> {
    let parts = match parts {
        ["namespaces", _ns, sub, ..] if !NAMESPACE_SUBRESOURCES.contains(sub) => &parts[2..],
        _ => parts,
    };
    match parts {
        [_resource, _name, sub, ..] => Some(sub),
        _ => None,
    }
}

/// `watch=true` (or `1`, `True`, or a bare `watch`), with the truthiness
/// the API handlers give the parameter.
fn watch_param(query: Option<&str>) -> bool {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "watch").then_some(v)
        })
        .next_back()
        .is_some_and(|v| matches!(v, "true" | "1" | "True" | ""))
}

/// The `timeout` query parameter (`?timeout=30s`, as `kubectl
/// --request-timeout` sends): a client may shorten the server's request
/// timeout, never lengthen it. `Err` carries the bad value.
pub fn timeout_param(query: Option<&str>) -> Result<Option<std::time::Duration>, String> {
    let value = query.unwrap_or("").split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == "timeout").then_some(v)
    });
    match value {
        None | Some("") => Ok(None),
        Some(v) => tug_api::duration::parse_duration(v)
            .map(Some)
            .map_err(|_| v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: Option<&str>) -> Class {
        classify(&Method::GET, path, query)
    }

    #[test]
    fn reads_and_writes_are_told_apart_by_method() {
        assert_eq!(
            get("/api/v1/namespaces/default/pods", None),
            Class::ReadOnly
        );
        assert_eq!(
            classify(&Method::HEAD, "/api/v1/pods", None),
            Class::ReadOnly
        );
        assert_eq!(
            classify(&Method::OPTIONS, "/api/v1/pods", None),
            Class::ReadOnly
        );
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                classify(&m, "/api/v1/namespaces/default/pods", None),
                Class::Mutating,
                "{m}"
            );
        }
        assert_eq!(get("/healthz", None), Class::ReadOnly);
        assert_eq!(get("/apis/apps", None), Class::ReadOnly);
    }

    #[test]
    fn watches_by_parameter_or_path() {
        for q in [
            "watch=true",
            "watch=1",
            "watch",
            "labelSelector=a&watch=True",
        ] {
            assert_eq!(get("/api/v1/pods", Some(q)), Class::Watch, "{q}");
        }
        assert_eq!(get("/api/v1/pods", Some("watch=false")), Class::ReadOnly);
        assert_eq!(get("/api/v1/pods", Some("watcher=1")), Class::ReadOnly);
        assert_eq!(
            get("/apis/apps/v1/watch/namespaces/x/deployments", None),
            Class::Watch
        );
        assert_eq!(get("/api/v1/watch/pods", None), Class::Watch);
        // A write with watch=true is still a write.
        assert_eq!(
            classify(&Method::POST, "/api/v1/pods", Some("watch=true")),
            Class::Mutating
        );
        // Outside the resource API the parameter means nothing.
        assert_eq!(get("/healthz", Some("watch=1")), Class::ReadOnly);
    }

    #[test]
    fn logs_stream_with_or_without_follow() {
        assert_eq!(
            get(
                "/api/v1/namespaces/default/pods/web/log",
                Some("follow=true")
            ),
            Class::Stream
        );
        assert_eq!(
            get("/api/v1/namespaces/default/pods/web/log", None),
            Class::Stream
        );
        // A pod named "log" is not its log.
        assert_eq!(
            get("/api/v1/namespaces/default/pods/log", None),
            Class::ReadOnly
        );
        // A Namespace's own subresources are not namespaced resources.
        assert_eq!(
            classify(&Method::PUT, "/api/v1/namespaces/x/finalize", None),
            Class::Mutating
        );
        assert_eq!(
            get("/api/v1/nodes/node-0/proxy/metrics", None),
            Class::Stream
        );
    }

    #[test]
    fn timeout_parameter() {
        assert_eq!(timeout_param(None), Ok(None));
        assert_eq!(
            timeout_param(Some("limit=5&timeout=30s")),
            Ok(Some(std::time::Duration::from_secs(30)))
        );
        assert_eq!(timeout_param(Some("timeout=soon")), Err("soon".into()));
    }
}
