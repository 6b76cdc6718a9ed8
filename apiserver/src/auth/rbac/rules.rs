//! Whether one RBAC rule allows a request, and whether a binding's
//! subject is the requesting user (upstream's `rbac/v1` helpers).

use tug_api::rbac::{PolicyRule, Subject};

use crate::auth::request_info::RequestInfo;
use crate::auth::UserInfo;

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// `resources` entries match `pods`, `pods/log` (resource/subresource),
/// `*` and `*/scale` (a subresource of any resource).
fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    let combined = if subresource.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{subresource}")
    };
    rule.resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// An empty `resourceNames` allows every name.
fn name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `/healthz` exactly, `*`, or a prefix ending in `*` (`/apis/*`).
fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == "*"
            || u == path
            || u.strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

/// Whether `rule` allows the request.
pub fn rule_allows(rule: &PolicyRule, req: &RequestInfo) -> bool {
    if !has(&rule.verbs, &req.verb) {
        return false;
    }
    if req.is_resource_request {
        has(&rule.api_groups, &req.api_group)
            && resource_matches(rule, &req.resource, &req.subresource)
            && name_matches(rule, &req.name)
    } else {
        url_matches(rule, &req.path)
    }
}

/// Whether a binding subject names `user`. `binding_namespace` is the
/// namespace a service account subject without one is taken from.
pub fn subject_matches(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = if subject.namespace.is_empty() {
                binding_namespace
            } else {
                &subject.namespace
            };
            user.name == format!("system:serviceaccount:{ns}:{}", subject.name)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::from_request(method, path, query)
    }

    #[test]
    fn verbs_groups_and_resources_all_have_to_match() {
        let rule = PolicyRule::resource(&["get", "list"], &[""], &["pods"]);
        assert!(rule_allows(
            &rule,
            &req("GET", "/api/v1/namespaces/d/pods/web", None)
        ));
        assert!(rule_allows(&rule, &req("GET", "/api/v1/pods", None)));
        assert!(!rule_allows(
            &rule,
            &req("GET", "/api/v1/pods", Some("watch=true"))
        ));
        assert!(!rule_allows(
            &rule,
            &req("DELETE", "/api/v1/namespaces/d/pods/web", None)
        ));
        assert!(!rule_allows(
            &rule,
            &req("GET", "/apis/apps/v1/namespaces/d/deployments", None)
        ));
        assert!(!rule_allows(
            &rule,
            &req("GET", "/api/v1/namespaces/d/services", None)
        ));
    }

    #[test]
    fn subresources_need_their_own_grant_or_a_wildcard() {
        let pods = PolicyRule::resource(&["get"], &[""], &["pods"]);
        let log = req("GET", "/api/v1/namespaces/d/pods/web/log", None);
        assert!(!rule_allows(&pods, &log));
        assert!(rule_allows(
            &PolicyRule::resource(&["get"], &[""], &["pods/log"]),
            &log
        ));
        assert!(rule_allows(
            &PolicyRule::resource(&["get"], &[""], &["*"]),
            &log
        ));
        let scale = PolicyRule::resource(&["update"], &["*"], &["*/scale"]);
        assert!(rule_allows(
            &scale,
            &req(
                "PUT",
                "/apis/apps/v1/namespaces/d/deployments/x/scale",
                None
            )
        ));
        assert!(!rule_allows(
            &scale,
            &req("PUT", "/apis/apps/v1/namespaces/d/deployments/x", None)
        ));
        let all = PolicyRule::resource(&["*"], &["*"], &["*"]);
        assert!(rule_allows(
            &all,
            &req("DELETE", "/apis/apps/v1/namespaces/d/deployments", None)
        ));
    }

    #[test]
    fn resource_names_restrict_to_those_objects() {
        let rule = PolicyRule::resource(&["get", "update"], &["coordination.k8s.io"], &["leases"])
            .named(&["tug-scheduler"]);
        let path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
        assert!(rule_allows(
            &rule,
            &req("GET", &format!("{path}/tug-scheduler"), None)
        ));
        assert!(!rule_allows(
            &rule,
            &req("GET", &format!("{path}/other"), None)
        ));
        assert!(!rule_allows(&rule, &req("POST", path, None)));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_star_prefix() {
        let rule = PolicyRule::urls(&["get"], &["/healthz", "/apis/*"]);
        assert!(rule_allows(&rule, &req("GET", "/healthz", None)));
        assert!(rule_allows(&rule, &req("GET", "/apis/apps/v1", None)));
        assert!(!rule_allows(&rule, &req("GET", "/api", None)));
        assert!(!rule_allows(&rule, &req("POST", "/healthz", None)));
        // A URL rule never allows resource requests.
        assert!(!rule_allows(
            &rule,
            &req("GET", "/apis/apps/v1/deployments", None)
        ));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let user = UserInfo {
            name: "jane".into(),
            uid: String::new(),
            groups: vec!["devs".into()],
        };
        let s = |kind: &str, name: &str, ns: &str| Subject {
            kind: kind.into(),
            api_group: String::new(),
            name: name.into(),
            namespace: ns.into(),
        };
        assert!(subject_matches(&s("User", "jane", ""), &user, "d"));
        assert!(!subject_matches(&s("User", "joe", ""), &user, "d"));
        assert!(subject_matches(&s("Group", "devs", ""), &user, "d"));
        assert!(!subject_matches(&s("Group", "jane", ""), &user, "d"));
        let sa = UserInfo {
            name: "system:serviceaccount:d:builder".into(),
            ..Default::default()
        };
        assert!(subject_matches(
            &s("ServiceAccount", "builder", ""),
            &sa,
            "d"
        ));
        assert!(!subject_matches(
            &s("ServiceAccount", "builder", "other"),
            &sa,
            "d"
        ));
    }
}
