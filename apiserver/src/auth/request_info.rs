//! What a request asks to do, in authorization terms: upstream's
//! `RequestInfo` (`apiserver/pkg/endpoints/request`), computed from the
//! method, the path and the query alone.

use crate::http::params::Params;

/// The attributes authorizers decide on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// A request on an API resource (`/api/v1/...`, `/apis/g/v/...`);
    /// false for discovery, health and other plain paths.
    pub is_resource_request: bool,
    /// The URL path.
    pub path: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`; for non-resource requests the lower-case method.
    pub verb: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The `fieldSelector` of a list or watch, if any (the Node authorizer
    /// requires `spec.nodeName=<itself>` on pod lists).
    pub field_selector: Option<String>,
}

/// Subresources of a namespace that are not resources in their own right
/// (`/api/v1/namespaces/x/status` is the status of namespace `x`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl RequestInfo {
    /// Classify a request. A query that does not parse counts as empty
    /// (the request is refused with 400 after authorization anyway).
    pub fn from_request(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
        let params = Params::parse(query).unwrap_or_default();
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.to_ascii_lowercase(),
            ..Default::default()
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest: &[&str] = match parts.as_slice() {
            ["api", version, rest @ ..] if !rest.is_empty() => {
                info.api_version = version.to_string();
                rest
            }
            ["apis", group, version, rest @ ..] if !rest.is_empty() => {
                info.api_group = group.to_string();
                info.api_version = version.to_string();
                rest
            }
            _ => return info,
        };
        info.is_resource_request = true;
        info.verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
        let mut rest = rest;
        if rest[0] == "namespaces" && rest.len() > 1 {
            info.namespace = rest[1].to_string();
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        info.resource = rest[0].to_string();
        if let Some(name) = rest.get(1) {
            info.name = name.to_string();
        }
        if let Some(sub) = rest.get(2) {
            info.subresource = sub.to_string();
        }
        if info.name.is_empty() {
            if info.verb == "get" {
                info.verb = if params.is_watch() { "watch" } else { "list" }.into();
            } else if info.verb == "delete" {
                info.verb = "deletecollection".into();
            }
        }
        if info.verb == "list" || info.verb == "watch" {
            // A list or watch pinned to one name is a request on that name
            // (so `resourceNames` rules can allow it), as upstream.
            if let Some(name) = params
                .fields()
                .ok()
                .and_then(|s| s.exact_value("metadata.name").map(str::to_string))
            {
                info.name = name;
            }
            info.field_selector = params.field_selector;
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ri(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::from_request(method, path, query)
    }

    #[test]
    fn verbs_follow_method_and_collection() {
        let cases = [
            ("GET", "/api/v1/namespaces/default/pods", None, "list"),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                Some("watch=true"),
                "watch",
            ),
            ("GET", "/api/v1/pods", Some("watch=1&x=y"), "watch"),
            ("GET", "/api/v1/namespaces/default/pods/web", None, "get"),
            ("POST", "/api/v1/namespaces/default/pods", None, "create"),
            ("PUT", "/api/v1/namespaces/default/pods/web", None, "update"),
            (
                "PATCH",
                "/api/v1/namespaces/default/pods/web",
                None,
                "patch",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods/web",
                None,
                "delete",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/pods",
                None,
                "deletecollection",
            ),
        ];
        for (m, p, q, verb) in cases {
            assert_eq!(ri(m, p, q).verb, verb, "{m} {p} {q:?}");
        }
    }

    #[test]
    fn coordinates_of_namespaced_cluster_and_subresources() {
        let log = ri("GET", "/api/v1/namespaces/ns1/pods/web/log", None);
        assert!(log.is_resource_request);
        assert_eq!(
            (
                log.namespace.as_str(),
                log.resource.as_str(),
                log.name.as_str(),
                log.subresource.as_str()
            ),
            ("ns1", "pods", "web", "log")
        );
        let dep = ri(
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            None,
        );
        assert_eq!(dep.api_group, "apps");
        assert_eq!(dep.api_version, "v1");
        assert_eq!(dep.subresource, "scale");
        let node = ri("PATCH", "/api/v1/nodes/n1/status", None);
        assert_eq!(
            (
                node.namespace.as_str(),
                node.resource.as_str(),
                node.name.as_str(),
                node.subresource.as_str()
            ),
            ("", "nodes", "n1", "status")
        );
        // A namespace is its own namespace, and /status is its subresource.
        let ns = ri("PUT", "/api/v1/namespaces/team/finalize", None);
        assert_eq!(
            (
                ns.namespace.as_str(),
                ns.resource.as_str(),
                ns.name.as_str(),
                ns.subresource.as_str()
            ),
            ("team", "namespaces", "team", "finalize")
        );
        let nss = ri("GET", "/api/v1/namespaces", None);
        assert_eq!(
            (nss.resource.as_str(), nss.verb.as_str()),
            ("namespaces", "list")
        );
    }

    #[test]
    fn discovery_and_health_are_non_resource_paths() {
        for p in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/healthz",
            "/version",
            "/openapi/v2",
        ] {
            let info = ri("GET", p, None);
            assert!(!info.is_resource_request, "{p}");
            assert_eq!(info.verb, "get");
            assert_eq!(info.path, p);
        }
    }

    #[test]
    fn field_selectors_of_lists_are_kept_and_a_name_pins_the_request() {
        let l = ri(
            "GET",
            "/api/v1/pods",
            Some("fieldSelector=spec.nodeName%3Dnode-a&limit=5"),
        );
        assert_eq!(l.field_selector.as_deref(), Some("spec.nodeName=node-a"));
        let w = ri(
            "GET",
            "/api/v1/namespaces/kube-system/configmaps",
            Some("watch=true&fieldSelector=metadata.name%3Dcluster-info"),
        );
        assert_eq!(
            (w.verb.as_str(), w.name.as_str()),
            ("watch", "cluster-info")
        );
    }
}
