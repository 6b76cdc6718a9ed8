//! The default RBAC policy: the roles and bindings every cluster starts
//! with (upstream's bootstrap policy, trimmed to the kinds this apiserver
//! serves), created at start when missing and brought back to these rules
//! when their `rbac.authorization.kubernetes.io/autoupdate` annotation is
//! still `"true"`.
//!
//! The scheduler and controller-manager roles grant exactly what
//! `scheduler/src` and `controller-manager/src` call.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tug_api::rbac::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject, GROUP,
};
use tug_api::{ObjectMeta, Resource};

use crate::objects::{Attempt, Stored};
use crate::server::ApiServer;

/// The annotation that lets the apiserver reconcile a default object.
pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// The lease names our control plane elects leaders with.
pub const SCHEDULER_LEASE: &str = "tug-scheduler";
pub const CONTROLLER_MANAGER_LEASE: &str = "tug-controller-manager";
/// The signer kubelet client certificates are issued by.
pub const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";

fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: name.into(),
        namespace: namespace.into(),
        labels: BTreeMap::from([("kubernetes.io/bootstrapping".into(), "rbac-defaults".into())]),
        annotations: BTreeMap::from([(AUTOUPDATE.into(), "true".into())]),
        ..Default::default()
    }
}

fn r(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule::resource(verbs, groups, resources)
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const EVENT_WRITE: &[&str] = &["create", "patch", "update"];

fn events_rules() -> Vec<PolicyRule> {
    vec![
        r(EVENT_WRITE, &[""], &["events"]),
        r(EVENT_WRITE, &["events.k8s.io"], &["events"]),
    ]
}

/// `view`: read everything namespaced except secrets.
fn view_rules() -> Vec<PolicyRule> {
    vec![
        r(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "events",
                "pods",
                "pods/log",
                "pods/status",
                "services",
                "services/status",
                "namespaces",
                "namespaces/status",
            ],
        ),
        r(
            READ,
            &["apps"],
            &[
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
            ],
        ),
        r(READ, &["events.k8s.io"], &["events"]),
    ]
}

/// `edit`: `view` plus writing workloads, services, configmaps and
/// secrets (and reading secrets); no roles.
fn edit_rules() -> Vec<PolicyRule> {
    let mut rules = view_rules();
    rules.extend([
        r(
            WRITE,
            &[""],
            &["pods", "configmaps", "endpoints", "secrets", "services"],
        ),
        r(READ, &[""], &["secrets"]),
        r(
            WRITE,
            &["apps"],
            &[
                "deployments",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
            ],
        ),
    ]);
    rules
}

/// `admin`: `edit` plus roles and bindings within the namespace.
fn admin_rules() -> Vec<PolicyRule> {
    let mut rules = edit_rules();
    rules.push(r(
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        &[GROUP],
        &["roles", "rolebindings"],
    ));
    rules.push(r(
        &["create"],
        &["authorization.k8s.io"],
        &["localsubjectaccessreviews"],
    ));
    rules
}

/// What `tug-scheduler` calls: pod and node informers, the binding
/// subresource, pod status patches (unschedulable conditions), events, and
/// its leader-election Lease.
fn scheduler_rules() -> Vec<PolicyRule> {
    let mut rules = vec![
        r(READ, &[""], &["pods", "nodes"]),
        r(&["create"], &[""], &["pods/binding", "bindings"]),
        r(&["patch", "update"], &[""], &["pods/status"]),
        r(&["create"], &["coordination.k8s.io"], &["leases"]),
        r(&["get", "update"], &["coordination.k8s.io"], &["leases"]).named(&[SCHEDULER_LEASE]),
    ];
    rules.extend(events_rules());
    rules
}

/// What `tug-controller-manager` calls. The garbage collector and the
/// namespace controller work on every kind the server serves (found by
/// discovery), so — as upstream's `generic-garbage-collector` and
/// `namespace-controller` roles — they get read, patch and delete on
/// every resource; creates and updates are granted kind by kind.
fn controller_manager_rules() -> Vec<PolicyRule> {
    let mut rules = vec![
        // garbage collector + namespace controller (+ token cleaner's
        // secret list/watch/delete).
        r(
            &[
                "get",
                "list",
                "watch",
                "patch",
                "delete",
                "deletecollection",
            ],
            &["*"],
            &["*"],
        ),
        // replicaset: pods; deployment: replicasets; endpoints.
        r(&["create"], &[""], &["pods", "endpoints"]),
        r(&["update"], &[""], &["endpoints"]),
        r(&["create", "update"], &["apps"], &["replicasets"]),
        // status writers: deployment, replicaset, node lifecycle (pods and
        // nodes), namespace controller.
        r(
            &["update"],
            &["apps"],
            &["deployments/status", "replicasets/status"],
        ),
        r(
            &["update"],
            &[""],
            &[
                "pods/status",
                "nodes/status",
                "namespaces/status",
                "namespaces/finalize",
            ],
        ),
        // CSR approver and signer.
        r(
            &["update"],
            &["certificates.k8s.io"],
            &[
                "certificatesigningrequests/approval",
                "certificatesigningrequests/status",
            ],
        ),
        r(&["approve"], &["certificates.k8s.io"], &["signers"]).named(&[KUBELET_CLIENT_SIGNER]),
        r(&["sign"], &["certificates.k8s.io"], &["signers"]).named(&[
            KUBELET_CLIENT_SIGNER,
            "kubernetes.io/kube-apiserver-client",
            "kubernetes.io/kubelet-serving",
        ]),
        r(
            &["create"],
            &["authorization.k8s.io"],
            &["subjectaccessreviews"],
        ),
        // leader election.
        r(&["create"], &["coordination.k8s.io"], &["leases"]),
        r(&["get", "update"], &["coordination.k8s.io"], &["leases"])
            .named(&[CONTROLLER_MANAGER_LEASE]),
    ];
    rules.extend(events_rules());
    rules
}

/// What `tug-proxy` reads (services, endpoints, nodes) and writes
/// (events).
fn node_proxier_rules() -> Vec<PolicyRule> {
    let mut rules = vec![
        r(READ, &[""], &["services", "endpoints", "nodes"]),
        r(
            &["list", "watch"],
            &["discovery.k8s.io"],
            &["endpointslices"],
        ),
    ];
    rules.extend(events_rules());
    rules
}

/// Every default ClusterRole.
pub fn cluster_roles() -> Vec<ClusterRole> {
    let role = |name: &str, rules: Vec<PolicyRule>| ClusterRole {
        metadata: meta(name, ""),
        rules,
        ..Default::default()
    };
    let csr = "certificates.k8s.io";
    vec![
        role(
            "cluster-admin",
            vec![r(&["*"], &["*"], &["*"]), PolicyRule::urls(&["*"], &["*"])],
        ),
        role("admin", admin_rules()),
        role("edit", edit_rules()),
        role("view", view_rules()),
        role(
            "system:basic-user",
            vec![
                r(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                r(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        role(
            "system:discovery",
            vec![PolicyRule::urls(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/readyz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                ],
            )],
        ),
        role(
            "system:public-info-viewer",
            vec![PolicyRule::urls(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        role("system:kube-scheduler", scheduler_rules()),
        role("system:kube-controller-manager", controller_manager_rules()),
        role("system:node-proxier", node_proxier_rules()),
        role(
            "system:node-bootstrapper",
            vec![r(
                &["create", "get", "list", "watch"],
                &[csr],
                &["certificatesigningrequests"],
            )],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![r(
                &["create"],
                &[csr],
                &["certificatesigningrequests/nodeclient"],
            )],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![r(
                &["create"],
                &[csr],
                &["certificatesigningrequests/selfnodeclient"],
            )],
        ),
    ]
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        kind: kind.into(),
        api_group: GROUP.into(),
        name: name.into(),
        namespace: String::new(),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: GROUP.into(),
        kind: kind.into(),
        name: name.into(),
    }
}

/// Every default ClusterRoleBinding.
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    let bind = |name: &str, role: &str, subjects: Vec<Subject>| ClusterRoleBinding {
        metadata: meta(name, ""),
        subjects,
        role_ref: role_ref("ClusterRole", role),
        ..Default::default()
    };
    let same = |role: &str, subjects: Vec<Subject>| bind(role, role, subjects);
    vec![
        same("cluster-admin", vec![subject("Group", "system:masters")]),
        same(
            "system:basic-user",
            vec![subject("Group", "system:authenticated")],
        ),
        same(
            "system:discovery",
            vec![subject("Group", "system:authenticated")],
        ),
        same(
            "system:public-info-viewer",
            vec![
                subject("Group", "system:authenticated"),
                subject("Group", "system:unauthenticated"),
            ],
        ),
        same(
            "system:kube-scheduler",
            vec![subject("User", "system:kube-scheduler")],
        ),
        same(
            "system:kube-controller-manager",
            vec![subject("User", "system:kube-controller-manager")],
        ),
        same(
            "system:node-proxier",
            vec![
                subject("User", "system:kube-proxy"),
                subject("Group", "system:nodes"),
            ],
        ),
        bind(
            "tug:kubelet-bootstrap",
            "system:node-bootstrapper",
            vec![subject("Group", "system:bootstrappers")],
        ),
        bind(
            "tug:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![subject("Group", "system:bootstrappers")],
        ),
        bind(
            "tug:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![subject("Group", "system:nodes")],
        ),
    ]
}

/// The role (and its binding) that lets joining nodes read
/// `kube-public/cluster-info` before they have a credential.
pub const CLUSTER_INFO_READER: &str = "tug:cluster-info-reader";

/// The default Roles (namespaced).
pub fn roles() -> Vec<Role> {
    vec![Role {
        metadata: meta(CLUSTER_INFO_READER, "kube-public"),
        rules: vec![r(&["get"], &[""], &["configmaps"]).named(&["cluster-info"])],
        ..Default::default()
    }]
}

/// The default RoleBindings.
pub fn role_bindings() -> Vec<RoleBinding> {
    vec![RoleBinding {
        metadata: meta(CLUSTER_INFO_READER, "kube-public"),
        subjects: vec![subject("User", "system:anonymous")],
        role_ref: role_ref("Role", CLUSTER_INFO_READER),
        ..Default::default()
    }]
}

/// The fields that make up a default object's meaning (its rules, or
/// its subjects and role).
fn payload(object: &Value) -> Value {
    json!({
        "rules": object.get("rules"),
        "subjects": object.get("subjects"),
        "roleRef": object.get("roleRef"),
    })
}

/// Create `want` when missing; bring it back to `want`'s payload when it
/// differs and still carries `autoupdate: "true"`.
async fn ensure<K: Resource>(server: &ApiServer, want: &K) -> anyhow::Result<()> {
    let handler = server
        .registry
        .get(K::GROUP, K::VERSION, K::PLURAL)
        .ok_or_else(|| anyhow::anyhow!("{} is not served", K::PLURAL))?;
    let info = handler.info();
    let mut body = serde_json::to_value(want)?;
    body["apiVersion"] = json!(K::api_version());
    body["kind"] = json!(K::KIND);
    let (ns, name) = (&want.meta().namespace, &want.meta().name);
    let err = |e: crate::error::ApiError| anyhow::anyhow!("{} {name}: {}", K::KIND, e.0.message);
    for _ in 0..crate::objects::MAX_UPDATE_RETRIES {
        let current: Stored = match server.objects.get(info, ns, name).await {
            Ok(c) => c,
            Err(e) if e.code() == 404 => {
                let object = handler.prepare_create(body.clone(), ns).map_err(err)?;
                match server.objects.insert(info, object, false).await {
                    Ok(_) => {
                        tracing::info!(kind = K::KIND, %name, "created default RBAC object");
                        return Ok(());
                    }
                    Err(e) if e.code() == 409 => continue,
                    Err(e) => return Err(err(e)),
                }
            }
            Err(e) => return Err(err(e)),
        };
        let autoupdate = current
            .object
            .pointer(&format!(
                "/metadata/annotations/{}",
                AUTOUPDATE.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            == Some("true");
        if !autoupdate || payload(&current.object) == payload(&body) {
            return Ok(());
        }
        let mut updated = current.object.clone();
        for key in ["rules", "subjects", "roleRef"] {
            match body.get(key) {
                Some(v) => updated[key] = v.clone(),
                None => {
                    if let Some(o) = updated.as_object_mut() {
                        o.remove(key);
                    }
                }
            }
        }
        let prepared = handler
            .prepare_update(updated, &current.object)
            .map_err(err)?;
        match server
            .objects
            .try_update(info, &current, prepared, None, false)
            .await
            .map_err(err)?
        {
            Attempt::Done(_) => {
                tracing::info!(kind = K::KIND, %name, "reconciled default RBAC object");
                return Ok(());
            }
            Attempt::Retry => continue,
        }
    }
    anyhow::bail!("{} {name}: too many conflicting writes", K::KIND)
}

/// Create (or reconcile) the whole default policy.
pub async fn ensure_default_policy(server: &ApiServer) -> anyhow::Result<()> {
    for o in cluster_roles() {
        ensure(server, &o).await?;
    }
    for o in cluster_role_bindings() {
        ensure(server, &o).await?;
    }
    for o in roles() {
        ensure(server, &o).await?;
    }
    for o in role_bindings() {
        ensure(server, &o).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::rules::rule_allows;
    use crate::auth::request_info::RequestInfo;
    use tug_api::Strategy;

    fn allows(rules: &[PolicyRule], method: &str, path: &str, query: Option<&str>) -> bool {
        let req = RequestInfo::from_request(method, path, query);
        rules.iter().any(|r| rule_allows(r, &req))
    }

    #[test]
    fn every_default_object_is_valid() {
        for o in cluster_roles() {
            assert_eq!(o.validate(), vec![], "{}", o.metadata.name);
        }
        for o in cluster_role_bindings() {
            assert_eq!(o.validate(), vec![], "{}", o.metadata.name);
        }
        for o in roles() {
            assert_eq!(o.validate(), vec![], "{}", o.metadata.name);
        }
        for o in role_bindings() {
            assert_eq!(o.validate(), vec![], "{}", o.metadata.name);
        }
    }

    #[test]
    fn view_reads_but_never_writes_or_reads_secrets() {
        let v = view_rules();
        assert!(allows(&v, "GET", "/api/v1/namespaces/d/pods", None));
        assert!(allows(&v, "GET", "/api/v1/namespaces/d/pods/p/log", None));
        assert!(allows(
            &v,
            "GET",
            "/apis/apps/v1/namespaces/d/deployments",
            Some("watch=1")
        ));
        assert!(!allows(&v, "POST", "/api/v1/namespaces/d/pods", None));
        assert!(!allows(&v, "GET", "/api/v1/namespaces/d/secrets/s", None));
        let e = edit_rules();
        assert!(allows(&e, "POST", "/api/v1/namespaces/d/pods", None));
        assert!(allows(&e, "GET", "/api/v1/namespaces/d/secrets/s", None));
        assert!(!allows(
            &e,
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/d/rolebindings",
            None
        ));
        assert!(allows(
            &admin_rules(),
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/d/rolebindings",
            None
        ));
    }

    #[test]
    fn scheduler_can_bind_and_elect_but_not_delete_or_write_nodes() {
        let s = scheduler_rules();
        assert!(allows(
            &s,
            "POST",
            "/api/v1/namespaces/d/pods/p/binding",
            None
        ));
        assert!(allows(
            &s,
            "PATCH",
            "/api/v1/namespaces/d/pods/p/status",
            None
        ));
        assert!(allows(&s, "GET", "/api/v1/nodes", Some("watch=true")));
        assert!(allows(
            &s,
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tug-scheduler",
            None
        ));
        assert!(!allows(
            &s,
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tug-controller-manager",
            None
        ));
        assert!(!allows(&s, "DELETE", "/api/v1/namespaces/d/pods/p", None));
        assert!(!allows(&s, "PATCH", "/api/v1/nodes/n", None));
        assert!(!allows(&s, "GET", "/api/v1/namespaces/d/secrets/s", None));
    }

    #[test]
    fn controller_manager_can_do_its_controllers_work_only() {
        let c = controller_manager_rules();
        assert!(allows(&c, "POST", "/api/v1/namespaces/d/pods", None));
        assert!(allows(
            &c,
            "DELETE",
            "/api/v1/namespaces/d/configmaps",
            None
        ));
        assert!(allows(&c, "PUT", "/api/v1/namespaces/d/finalize", None));
        assert!(allows(
            &c,
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/x/approval",
            None
        ));
        assert!(allows(
            &c,
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            None
        ));
        assert!(!allows(&c, "POST", "/api/v1/namespaces/d/secrets", None));
        assert!(!allows(&c, "PUT", "/api/v1/namespaces/d/pods/p", None));
        assert!(!allows(
            &c,
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            None
        ));
    }
}
