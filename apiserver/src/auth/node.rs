//! The Node authorizer and its admission half (upstream's Node authorizer
//! plus NodeRestriction): a kubelet, user `system:node:<name>` in group
//! `system:nodes`, may touch only its own Node and Lease, only the pods
//! bound to it, and only the secrets and configmaps those pods use.
//!
//! Pods are looked up in storage at request time (one read), so a pod
//! bound a moment ago is seen at once; a pod that does not exist is let
//! through to the handler, which answers 404 (a kubelet deleting a pod
//! that is already gone expects that).

use std::collections::BTreeSet;

use serde_json::Value;
use tug_api::core::Pod;
use tug_api::selector::FieldSelector;

use crate::auth::decision::Decision;
use crate::auth::forbidden::forbidden_object;
use crate::auth::request_info::RequestInfo;
use crate::auth::UserInfo;
use crate::error::{ApiError, ApiResult};
use crate::objects::name_of;
use crate::registry::ResourceInfo;
use crate::server::ApiServer;
use crate::storage::ListOptions;

/// The group every node credential is in.
pub const NODES_GROUP: &str = "system:nodes";
/// User name prefix of node credentials.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// Where node heartbeat Leases live.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user is, if it is a node credential.
pub fn node_name(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    (!name.is_empty() && user.in_group(NODES_GROUP)).then_some(name)
}

fn no_relationship(node: &str) -> String {
    format!("no relationship found between node '{node}' and this object")
}

fn is(req: &RequestInfo, group: &str, resource: &str) -> bool {
    req.api_group == group && req.resource == resource
}

fn verb_in(req: &RequestInfo, verbs: &[&str]) -> bool {
    verbs.contains(&req.verb.as_str())
}

/// The rules that need no object lookup: what every kubelet (and the
/// tug-proxy running with its credential) may do regardless of which
/// node it is.
fn static_rules(req: &RequestInfo) -> bool {
    let events = (is(req, "", "events") || is(req, "events.k8s.io", "events"))
        && verb_in(req, &["create", "patch", "update"]);
    let services = (is(req, "", "services") || is(req, "", "endpoints"))
        && req.subresource.is_empty()
        && verb_in(req, &["get", "list", "watch"]);
    let csrs = is(req, "certificates.k8s.io", "certificatesigningrequests")
        && req.subresource.is_empty()
        && verb_in(req, &["create", "get", "list", "watch"]);
    let reviews = is(req, "authorization.k8s.io", "subjectaccessreviews") && req.verb == "create";
    events || services || csrs || reviews
}

/// Nodes: read any; create (the name is checked at admission); update or
/// patch only itself and its status; delete none.
fn authorize_nodes(node: &str, req: &RequestInfo) -> Decision {
    if !matches!(req.subresource.as_str(), "" | "status") {
        return Decision::no(no_relationship(node));
    }
    match req.verb.as_str() {
        "get" | "list" | "watch" => Decision::Allow,
        "create" if req.subresource.is_empty() => Decision::Allow,
        "update" | "patch" => Decision::allow_if(req.name == node, || {
            format!("node '{node}' cannot modify node '{}'", req.name)
        }),
        _ => Decision::no(format!("node '{node}' cannot {} nodes", req.verb)),
    }
}

/// Leases: only its own, only in `kube-node-lease` (a create's name is
/// checked at admission).
fn authorize_lease(node: &str, req: &RequestInfo) -> Decision {
    let own_namespace = req.namespace == NODE_LEASE_NAMESPACE && req.subresource.is_empty();
    let ok = own_namespace
        && match req.verb.as_str() {
            "create" => true,
            "get" | "update" | "patch" | "delete" => req.name == node,
            _ => false,
        };
    Decision::allow_if(ok, || {
        "can only access node lease with the same name as the requesting node".to_string()
    })
}

/// The node a pod is bound to, read from storage; `None` when the pod
/// does not exist.
async fn pod_node(
    server: &ApiServer,
    pods: &ResourceInfo,
    ns: &str,
    name: &str,
) -> ApiResult<Option<String>> {
    match server.objects.get(pods, ns, name).await {
        Ok(stored) => Ok(Some(
            stored
                .object
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )),
        Err(e) if e.code() == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pods: list/watch only with `fieldSelector=spec.nodeName=<itself>`;
/// get/update/patch/delete (and `status`) only pods bound to it; create
/// none.
async fn authorize_pods(server: &ApiServer, node: &str, req: &RequestInfo) -> ApiResult<Decision> {
    if !matches!(req.subresource.as_str(), "" | "status") {
        return Ok(Decision::no(no_relationship(node)));
    }
    match req.verb.as_str() {
        "list" | "watch" => {
            let pinned = req
                .field_selector
                .as_deref()
                .and_then(|s| FieldSelector::parse(s).ok())
                .is_some_and(|s| s.exact_value("spec.nodeName") == Some(node));
            Ok(Decision::allow_if(
                pinned && req.subresource.is_empty(),
                || "can only list/watch pods with spec.nodeName field selector".into(),
            ))
        }
        "get" | "update" | "patch" | "delete" if !req.name.is_empty() => {
            let Some(pods) = server.registry.get("", "v1", "pods") else {
                return Ok(Decision::no(no_relationship(node)));
            };
            let bound = pod_node(server, pods.info(), &req.namespace, &req.name).await?;
            Ok(Decision::allow_if(
                bound.as_deref().is_none_or(|n| n == node),
                || no_relationship(node),
            ))
        }
        _ => Ok(Decision::no(format!(
            "node '{node}' cannot {} pods",
            req.verb
        ))),
    }
}

/// The ConfigMaps and Secrets a pod uses: volumes (also projected), env,
/// envFrom of every container, and image pull secrets.
pub fn pod_references(pod: &Pod) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cms = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let spec = &pod.spec;
    for c in spec.init_containers.iter().chain(&spec.containers) {
        for f in &c.env_from {
            if let Some(r) = &f.config_map_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &f.secret_ref {
                secrets.insert(r.name.clone());
            }
        }
        for v in c.env.iter().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &v.config_map_key_ref {
                cms.insert(r.name.clone());
            }
            if let Some(r) = &v.secret_key_ref {
                secrets.insert(r.name.clone());
            }
        }
    }
    for v in &spec.volumes {
        if let Some(c) = &v.config_map {
            cms.insert(c.name.clone());
        }
        if let Some(s) = &v.secret {
            secrets.insert(s.secret_name.clone());
        }
        for p in v.projected.iter().flat_map(|p| &p.sources) {
            if let Some(c) = &p.config_map {
                cms.insert(c.name.clone());
            }
            if let Some(s) = &p.secret {
                secrets.insert(s.name.clone());
            }
        }
    }
    for r in &spec.image_pull_secrets {
        secrets.insert(r.name.clone());
    }
    (cms, secrets)
}

/// Secrets and ConfigMaps: `get` only, only when a pod bound to the node
/// in the same namespace uses it.
async fn authorize_referenced(
    server: &ApiServer,
    node: &str,
    req: &RequestInfo,
) -> ApiResult<Decision> {
    if req.verb != "get" || req.name.is_empty() || !req.subresource.is_empty() {
        return Ok(Decision::no(format!(
            "node '{node}' can only get individual {}",
            req.resource
        )));
    }
    let Some(pods) = server.registry.get("", "v1", "pods") else {
        return Ok(Decision::no(no_relationship(node)));
    };
    let listed = server
        .objects
        .storage()
        .list(&pods.info().prefix(&req.namespace), ListOptions::default())
        .await
        .map_err(|e| ApiError::from_storage(e, "pods", "", ""))?;
    let used = listed
        .items
        .iter()
        .filter_map(|kv| serde_json::from_slice::<Pod>(&kv.value).ok())
        .filter(|p| p.spec.node_name == node)
        .any(|p| {
            let (cms, secrets) = pod_references(&p);
            let names = if req.resource == "secrets" {
                secrets
            } else {
                cms
            };
            names.contains(&req.name)
        });
    Ok(Decision::allow_if(used, || no_relationship(node)))
}

/// The Node authorizer's answer for `node`.
pub async fn authorize(server: &ApiServer, node: &str, req: &RequestInfo) -> ApiResult<Decision> {
    if !req.is_resource_request {
        return Ok(Decision::no(""));
    }
    if static_rules(req) {
        return Ok(Decision::Allow);
    }
    Ok(match (req.api_group.as_str(), req.resource.as_str()) {
        ("", "nodes") => authorize_nodes(node, req),
        ("coordination.k8s.io", "leases") => authorize_lease(node, req),
        ("", "pods") => authorize_pods(server, node, req).await?,
        ("", "secrets") | ("", "configmaps") => authorize_referenced(server, node, req).await?,
        _ => Decision::no(""),
    })
}

/// Admission of creates by nodes (upstream NodeRestriction): the name is
/// only in the body, so authorization could not check it — a node may
/// create only its own Node and its own Lease.
pub fn admit_create(user: &UserInfo, info: &ResourceInfo, object: &Value) -> ApiResult<()> {
    let Some(node) = node_name(user) else {
        return Ok(());
    };
    let name = name_of(object);
    match (info.group, info.plural) {
        ("", "nodes") if name != node => Err(forbidden_object(
            info.plural,
            info.group,
            name,
            &format!("node \"{node}\" is not allowed to modify node \"{name}\""),
        )),
        ("coordination.k8s.io", "leases") if name != node => Err(forbidden_object(
            info.plural,
            info.group,
            name,
            &format!("node \"{node}\" is not allowed to modify lease \"{name}\""),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo::from_request(method, path, query)
    }

    #[test]
    fn node_credentials_need_the_prefix_and_the_group() {
        let mut u = UserInfo {
            name: "system:node:a".into(),
            uid: String::new(),
            groups: vec![NODES_GROUP.into()],
        };
        assert_eq!(node_name(&u), Some("a"));
        u.groups.clear();
        assert_eq!(node_name(&u), None);
    }

    #[test]
    fn a_node_writes_only_its_own_node_and_lease() {
        assert_eq!(
            authorize_nodes("a", &req("PUT", "/api/v1/nodes/a/status", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize_nodes("a", &req("PATCH", "/api/v1/nodes/a", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize_nodes("a", &req("GET", "/api/v1/nodes", Some("watch=1"))),
            Decision::Allow
        );
        assert_ne!(
            authorize_nodes("a", &req("PATCH", "/api/v1/nodes/b/status", None)),
            Decision::Allow
        );
        assert_ne!(
            authorize_nodes("a", &req("DELETE", "/api/v1/nodes/a", None)),
            Decision::Allow
        );
        let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
        assert_eq!(
            authorize_lease("a", &req("PUT", &format!("{leases}/a"), None)),
            Decision::Allow
        );
        assert_eq!(
            authorize_lease("a", &req("POST", leases, None)),
            Decision::Allow
        );
        assert_ne!(
            authorize_lease("a", &req("PUT", &format!("{leases}/b"), None)),
            Decision::Allow
        );
        assert_ne!(
            authorize_lease(
                "a",
                &req(
                    "GET",
                    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/a",
                    None
                )
            ),
            Decision::Allow
        );
    }

    #[test]
    fn creates_of_another_node_or_lease_are_refused_at_admission() {
        let node = UserInfo {
            name: "system:node:a".into(),
            uid: String::new(),
            groups: vec![NODES_GROUP.into()],
        };
        let nodes = crate::registry::all_kinds()
            .into_iter()
            .find(|h| h.info().plural == "nodes")
            .unwrap();
        let e = admit_create(&node, nodes.info(), &json!({"metadata": {"name": "b"}})).unwrap_err();
        assert_eq!(
            e.0.message,
            "nodes \"b\" is forbidden: node \"a\" is not allowed to modify node \"b\""
        );
        assert!(admit_create(&node, nodes.info(), &json!({"metadata": {"name": "a"}})).is_ok());
        assert!(admit_create(
            &UserInfo::unsecured(),
            nodes.info(),
            &json!({"metadata": {"name": "b"}})
        )
        .is_ok());
    }

    #[test]
    fn references_cover_volumes_env_and_pull_secrets() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {
                "nodeName": "a",
                "imagePullSecrets": [{"name": "pull"}],
                "initContainers": [{"name": "i", "image": "x",
                    "envFrom": [{"configMapRef": {"name": "cm-from"}}]}],
                "containers": [{"name": "c", "image": "x",
                    "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}}]}],
                "volumes": [
                    {"name": "v1", "secret": {"secretName": "s-vol"}},
                    {"name": "v2", "configMap": {"name": "cm-vol"}},
                    {"name": "v3", "projected": {"sources": [{"secret": {"name": "s-proj"}}]}}
                ]
            }
        }))
        .unwrap();
        let (cms, secrets) = pod_references(&pod);
        assert_eq!(
            cms.into_iter().collect::<Vec<_>>(),
            vec!["cm-from", "cm-vol"]
        );
        assert_eq!(
            secrets.into_iter().collect::<Vec<_>>(),
            vec!["pull", "s-env", "s-proj", "s-vol"]
        );
    }
}
