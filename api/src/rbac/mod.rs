//! The `rbac.authorization.k8s.io/v1` group: Role, ClusterRole,
//! RoleBinding and ClusterRoleBinding, with upstream's validation.

mod types;
mod validation;

pub use types::*;
pub use validation::{
    path_segment_name, validate_policy_rule, validate_role_ref, validate_subject,
};

/// The API group of the RBAC kinds (and of `roleRef.apiGroup`, and of
/// User and Group subjects).
pub const GROUP: &str = "rbac.authorization.k8s.io";
