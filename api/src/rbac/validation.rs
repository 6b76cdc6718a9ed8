//! Upstream's RBAC validation (`pkg/apis/rbac/validation`): rule shape,
//! role references, subjects, names that are path segments.

use std::fmt;

use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};
use crate::validation;

use super::{PolicyRule, RoleRef, Subject, GROUP};

/// Problems of a name used as a URL path segment (RBAC names may contain
/// `:`, as `system:kube-scheduler` does).
pub fn path_segment_name(field: &str, name: &str) -> FieldErrors {
    let msg = match name {
        "." => Some("may not be '.'"),
        ".." => Some("may not be '..'"),
        n if n.contains('/') => Some("may not contain '/'"),
        n if n.contains('%') => Some("may not contain '%'"),
        _ => None,
    };
    msg.map(|m| FieldError::invalid(field, name, m))
        .into_iter()
        .collect()
}

/// A string list rendered as Go's `%#v` renders it: `[]string{"a"}`.
struct GoSlice<'a>(&'a [String]);

impl fmt::Debug for GoSlice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: Vec<String> = self.0.iter().map(|v| format!("{v:?}")).collect();
        write!(f, "[]string{{{}}}", body.join(", "))
    }
}

/// Metadata of a Role or ClusterRole (`old` on update).
pub(super) fn role_meta(
    meta: &ObjectMeta,
    old: Option<&ObjectMeta>,
    namespaced: bool,
) -> FieldErrors {
    match old {
        None => validation::object_meta_with_name_rule(meta, namespaced, path_segment_name),
        Some(old) => {
            validation::object_meta_update_with_name_rule(meta, old, namespaced, path_segment_name)
        }
    }
}

/// Bindings follow the same name rule as roles.
pub(super) fn binding_meta(
    meta: &ObjectMeta,
    old: Option<&ObjectMeta>,
    namespaced: bool,
) -> FieldErrors {
    role_meta(meta, old, namespaced)
}

/// Every rule of a role; `namespaced` rules (of a Role) may not name
/// non-resource URLs.
pub(super) fn rules(rules: &[PolicyRule], namespaced: bool) -> FieldErrors {
    rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| validate_policy_rule(&format!("rules[{i}]"), r, namespaced))
        .collect()
}

/// One rule: verbs required; either non-resource URLs alone, or API groups
/// and resources.
pub fn validate_policy_rule(path: &str, rule: &PolicyRule, namespaced: bool) -> FieldErrors {
    let mut errs = Vec::new();
    if rule.verbs.is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    if !rule.non_resource_urls.is_empty() {
        let field = format!("{path}.nonResourceURLs");
        if namespaced {
            errs.push(FieldError::invalid(
                &field,
                GoSlice(&rule.non_resource_urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !rule.api_groups.is_empty()
            || !rule.resources.is_empty()
            || !rule.resource_names.is_empty()
        {
            errs.push(FieldError::invalid(
                &field,
                GoSlice(&rule.non_resource_urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if rule.api_groups.is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if rule.resources.is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// `roleRef`: the RBAC group, one of `kinds`, a valid name.
pub fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> FieldErrors {
    let mut errs = Vec::new();
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            &role_ref.kind,
            kinds,
        ));
    }
    if role_ref.api_group != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            &role_ref.api_group,
            &[GROUP],
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        errs.extend(path_segment_name("roleRef.name", &role_ref.name));
    }
    errs
}

/// One subject. Service accounts of a ClusterRoleBinding (`namespaced`
/// false) must say their namespace.
pub fn validate_subject(path: &str, s: &Subject, namespaced: bool) -> FieldErrors {
    let mut errs = Vec::new();
    if s.name.is_empty() {
        errs.push(FieldError::required(&format!("{path}.name"), ""));
    }
    match s.kind.as_str() {
        "ServiceAccount" => {
            if !s.name.is_empty() {
                errs.extend(validation::dns1123_subdomain(
                    &format!("{path}.name"),
                    &s.name,
                ));
            }
            if !s.api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    &format!("{path}.apiGroup"),
                    &s.api_group,
                    &[""],
                ));
            }
            if !namespaced && s.namespace.is_empty() {
                errs.push(FieldError::required(&format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if s.api_group != GROUP {
                errs.push(FieldError::not_supported(
                    &format!("{path}.apiGroup"),
                    &s.api_group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

/// A binding's role reference and subjects.
pub(super) fn subjects_and_ref(
    subjects: &[Subject],
    role_ref: &RoleRef,
    kinds: &[&str],
    namespaced: bool,
) -> FieldErrors {
    let mut errs = validate_role_ref(role_ref, kinds);
    for (i, s) in subjects.iter().enumerate() {
        errs.extend(validate_subject(&format!("subjects[{i}]"), s, namespaced));
    }
    errs
}

/// A binding's role reference never changes (delete and recreate it).
pub(super) fn binding_update(new: &RoleRef, old: &RoleRef) -> FieldErrors {
    if new == old {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "roleRef",
        RoleRefValue(new),
        "cannot change roleRef",
    )]
}

/// `roleRef` as Go prints the struct: `rbac.RoleRef{APIGroup:"...", ...}`.
struct RoleRefValue<'a>(&'a RoleRef);

impl fmt::Debug for RoleRefValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}",
            self.0.api_group, self.0.kind, self.0.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;
    use crate::rbac::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use crate::strategy::Strategy;
    use serde_json::json;

    fn lines(errs: FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn colon_names_are_valid_and_slashes_are_not() {
        let role: ClusterRole = decode_strict(json!({
            "metadata": {"name": "system:kube-scheduler"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
        }))
        .unwrap();
        assert_eq!(lines(role.validate()), Vec::<String>::new());
        let mut bad = role.clone();
        bad.metadata.name = "a/b".into();
        assert_eq!(
            lines(bad.validate()),
            vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
        );
    }

    #[test]
    fn namespaced_roles_cannot_name_urls_and_rules_need_groups_and_resources() {
        let role: Role = decode_strict(json!({
            "metadata": {"name": "r", "namespace": "default"},
            "rules": [
                {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
                {"verbs": [], "resources": ["pods"]}
            ]
        }))
        .unwrap();
        assert_eq!(
            lines(role.validate()),
            vec![
                "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                "rules[1].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
            ]
        );
    }

    #[test]
    fn bindings_check_role_ref_and_subjects_and_keep_role_ref() {
        let mut b: RoleBinding = decode_strict(json!({
            "metadata": {"name": "b", "namespace": "default"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Robot", "name": "r2"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Deployment", "name": "view"}
        }))
        .unwrap();
        b.apply_defaults();
        assert_eq!(b.subjects[0].api_group, GROUP);
        assert_eq!(
            lines(b.validate()),
            vec![
                "roleRef.kind: Unsupported value: \"Deployment\": supported values: \"Role\", \"ClusterRole\"",
                "subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            ]
        );
        let old: ClusterRoleBinding = decode_strict(json!({
            "metadata": {"name": "b"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
        }))
        .unwrap();
        assert!(old.validate().is_empty());
        let mut new = old.clone();
        new.role_ref.name = "edit".into();
        assert_eq!(
            lines(new.validate_update(&old)),
            vec!["roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"]
        );
    }
}
