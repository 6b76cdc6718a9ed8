//! The RBAC authorizer: a request is allowed when a rule of a role bound
//! to the user allows it — ClusterRoleBindings everywhere, RoleBindings in
//! their namespace. Roles and bindings come from in-memory views of the
//! four kinds.

pub mod rules;
mod view;

use std::sync::Arc;

use tug_api::rbac::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef};
use tug_api::Resource;

use crate::auth::decision::Decision;
use crate::auth::request_info::RequestInfo;
use crate::auth::UserInfo;
use crate::server::ApiServer;

pub use view::KindView;

use rules::{rule_allows, subject_matches};

/// Views of the four RBAC kinds.
pub struct Rbac {
    roles: Arc<KindView<Role>>,
    cluster_roles: Arc<KindView<ClusterRole>>,
    role_bindings: Arc<KindView<RoleBinding>>,
    cluster_role_bindings: Arc<KindView<ClusterRoleBinding>>,
}

async fn view_of<T: Resource + serde::de::DeserializeOwned>(
    server: &ApiServer,
) -> Arc<KindView<T>> {
    let handler = server
        .registry
        .get(T::GROUP, T::VERSION, T::PLURAL)
        .expect("the RBAC kinds are served");
    let info = handler.info();
    KindView::start(
        server.objects.storage().clone(),
        info.prefix(""),
        server.cache(info).clone(),
    )
    .await
}

impl Rbac {
    /// Load the views (returns once each has its first list).
    pub async fn start(server: &ApiServer) -> Rbac {
        Rbac {
            roles: view_of(server).await,
            cluster_roles: view_of(server).await,
            role_bindings: view_of(server).await,
            cluster_role_bindings: view_of(server).await,
        }
    }

    /// The rules of a binding's role, or the "not found" error upstream
    /// reports for a dangling reference.
    fn role_rules(&self, role_ref: &RoleRef, namespace: &str) -> Result<Vec<PolicyRule>, String> {
        match role_ref.kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .get("", &role_ref.name)
                .map(|r| r.rules.clone())
                .ok_or_else(|| {
                    format!(
                        "clusterrole.rbac.authorization.k8s.io \"{}\" not found",
                        role_ref.name
                    )
                }),
            "Role" => self
                .roles
                .get(namespace, &role_ref.name)
                .map(|r| r.rules.clone())
                .ok_or_else(|| {
                    format!(
                        "role.rbac.authorization.k8s.io \"{}\" not found",
                        role_ref.name
                    )
                }),
            other => Err(format!("unknown role kind {other:?}")),
        }
    }

    /// Whether the user's roles allow the request. Without an allowing
    /// rule the reason names roles that bindings refer to but that do not
    /// exist (empty otherwise), as upstream reports.
    pub fn authorize(&self, user: &UserInfo, req: &RequestInfo) -> Decision {
        let mut errors = Vec::new();
        let mut check = |role_ref: &RoleRef, namespace: &str| -> bool {
            match self.role_rules(role_ref, namespace) {
                Ok(rules) => rules.iter().any(|r| rule_allows(r, req)),
                Err(e) => {
                    errors.push(e);
                    false
                }
            }
        };
        for b in self.cluster_role_bindings.list(None) {
            if b.subjects.iter().any(|s| subject_matches(s, user, "")) && check(&b.role_ref, "") {
                return Decision::Allow;
            }
        }
        if req.is_resource_request && !req.namespace.is_empty() {
            for b in self.role_bindings.list(Some(&req.namespace)) {
                if b.subjects
                    .iter()
                    .any(|s| subject_matches(s, user, &req.namespace))
                    && check(&b.role_ref, &req.namespace)
                {
                    return Decision::Allow;
                }
            }
        }
        if errors.is_empty() {
            Decision::NoOpinion(String::new())
        } else {
            errors.sort();
            errors.dedup();
            // Upstream's error aggregate: one message bare, several in [].
            let all = if errors.len() == 1 {
                errors.remove(0)
            } else {
                format!("[{}]", errors.join(", "))
            };
            Decision::NoOpinion(format!("RBAC: {all}"))
        }
    }
}
