//! The RBAC kinds, as `rbac.authorization.k8s.io/v1` defines them.

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::{LabelSelector, ObjectMeta};
use crate::status::FieldErrors;
use crate::strategy::Strategy;

use super::validation::{binding_meta, binding_update, role_meta, rules, subjects_and_ref};

/// `rbac/v1.PolicyRule`: verbs allowed on resources (or non-resource URLs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    /// `get`, `list`, `create`, ... or `*`.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// API groups (`""` = core) or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`, `*`, `*/scale`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names the rule is restricted to; empty = every name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource paths (`/healthz`, `/apis/*`); ClusterRoles only.
    #[serde(
        default,
        rename = "nonResourceURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// A resource rule (test and default-policy shorthand).
    pub fn resource(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            ..Default::default()
        }
    }

    /// A non-resource-URL rule.
    pub fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            non_resource_urls: strings(urls),
            ..Default::default()
        }
    }

    /// The same rule restricted to `names`.
    pub fn named(mut self, names: &[&str]) -> PolicyRule {
        self.resource_names = strings(names);
        self
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// `rbac/v1.Subject`: who a binding grants to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// `rbac.authorization.k8s.io` for users and groups, `""` for
    /// service accounts (defaulted so).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    pub name: String,
    /// The service account's namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// `rbac/v1.RoleRef`: the role a binding grants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleRef {
    #[serde(default)]
    pub api_group: String,
    /// `Role` or `ClusterRole`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// `rbac/v1.AggregationRule` (accepted and stored; aggregation itself is
/// not performed by this apiserver).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregationRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

/// `rbac/v1.Role`: rules within one namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Role {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
}

/// `rbac/v1.ClusterRole`: rules cluster-wide (or, through a RoleBinding,
/// in one namespace).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterRole {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_rule: Option<AggregationRule>,
}

/// `rbac/v1.RoleBinding`: a Role or ClusterRole granted in one namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBinding {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default)]
    pub role_ref: RoleRef,
}

/// `rbac/v1.ClusterRoleBinding`: a ClusterRole granted everywhere.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterRoleBinding {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default)]
    pub role_ref: RoleRef,
}

impl_resource!(
    Role,
    group = "rbac.authorization.k8s.io",
    version = "v1",
    kind = "Role",
    plural = "roles",
    singular = "role",
    namespaced = true,
    short = []
);
impl_resource!(
    ClusterRole,
    group = "rbac.authorization.k8s.io",
    version = "v1",
    kind = "ClusterRole",
    plural = "clusterroles",
    singular = "clusterrole",
    namespaced = false,
    short = []
);
impl_resource!(
    RoleBinding,
    group = "rbac.authorization.k8s.io",
    version = "v1",
    kind = "RoleBinding",
    plural = "rolebindings",
    singular = "rolebinding",
    namespaced = true,
    short = []
);
impl_resource!(
    ClusterRoleBinding,
    group = "rbac.authorization.k8s.io",
    version = "v1",
    kind = "ClusterRoleBinding",
    plural = "clusterrolebindings",
    singular = "clusterrolebinding",
    namespaced = false,
    short = []
);

/// Subjects of kind ServiceAccount default to the core group, users and
/// groups to the RBAC group (upstream's `SetDefaults_Subject`).
fn default_subjects(subjects: &mut [Subject]) {
    for s in subjects {
        if s.api_group.is_empty() && (s.kind == "User" || s.kind == "Group") {
            s.api_group = super::GROUP.into();
        }
    }
}

impl Strategy for Role {
    fn validate(&self) -> FieldErrors {
        let mut errs = role_meta(&self.metadata, None, true);
        errs.extend(rules(&self.rules, true));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = role_meta(&self.metadata, Some(&old.metadata), true);
        errs.extend(rules(&self.rules, true));
        errs
    }
}

impl Strategy for ClusterRole {
    fn validate(&self) -> FieldErrors {
        let mut errs = role_meta(&self.metadata, None, false);
        errs.extend(rules(&self.rules, false));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = role_meta(&self.metadata, Some(&old.metadata), false);
        errs.extend(rules(&self.rules, false));
        errs
    }
}

impl Strategy for RoleBinding {
    fn apply_defaults(&mut self) {
        default_subjects(&mut self.subjects);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = binding_meta(&self.metadata, None, true);
        errs.extend(subjects_and_ref(
            &self.subjects,
            &self.role_ref,
            &["Role", "ClusterRole"],
            true,
        ));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = binding_meta(&self.metadata, Some(&old.metadata), true);
        errs.extend(subjects_and_ref(
            &self.subjects,
            &self.role_ref,
            &["Role", "ClusterRole"],
            true,
        ));
        errs.extend(binding_update(&self.role_ref, &old.role_ref));
        errs
    }
}

impl Strategy for ClusterRoleBinding {
    fn apply_defaults(&mut self) {
        default_subjects(&mut self.subjects);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = binding_meta(&self.metadata, None, false);
        errs.extend(subjects_and_ref(
            &self.subjects,
            &self.role_ref,
            &["ClusterRole"],
            false,
        ));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = binding_meta(&self.metadata, Some(&old.metadata), false);
        errs.extend(subjects_and_ref(
            &self.subjects,
            &self.role_ref,
            &["ClusterRole"],
            false,
        ));
        errs.extend(binding_update(&self.role_ref, &old.role_ref));
        errs
    }
}
