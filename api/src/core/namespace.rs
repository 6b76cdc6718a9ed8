//! `v1` Namespace.

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::{ObjectMeta, Time};
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The finalizer the namespace controller removes once the namespace is empty.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";
const STANDARD_FINALIZERS: &[&str] = &[NAMESPACE_FINALIZER, "orphan", "foregroundDeletion"];

/// `v1.Namespace`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Namespace {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NamespaceSpec,
    #[serde(default)]
    pub status: NamespaceStatus,
}

/// `v1.NamespaceSpec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSpec {
    /// Finalizers that must be cleared before the namespace goes away
    /// (`kubernetes`, added at create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// `v1.NamespaceStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NamespaceCondition>,
}

/// `v1.NamespaceCondition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceCondition {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl_resource!(
    Namespace,
    group = "",
    version = "v1",
    kind = "Namespace",
    plural = "namespaces",
    singular = "namespace",
    namespaced = false,
    short = ["ns"]
);

impl Strategy for Namespace {
    const HAS_STATUS_SUBRESOURCE: bool = true;

    /// `status.phase: Active`, and the `kubernetes.io/metadata.name` label.
    fn apply_defaults(&mut self) {
        if self.status.phase.is_empty() {
            self.status.phase = "Active".into();
        }
        if !self.metadata.name.is_empty() {
            self.metadata
                .labels
                .insert(NAMESPACE_NAME_LABEL.into(), self.metadata.name.clone());
        }
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta_with_name_rule(
            &self.metadata,
            false,
            validation::dns1123_label,
        );
        errs.extend(finalizers(&self.spec.finalizers));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update_with_name_rule(
            &self.metadata,
            &old.metadata,
            false,
            validation::dns1123_label,
        );
        errs.extend(finalizers(&self.spec.finalizers));
        if self.status != old.status {
            errs.extend(phase_matches_deletion(self));
        }
        errs
    }

    /// A new namespace is `Active` and carries the `kubernetes` finalizer.
    fn prepare_for_create(&mut self) {
        self.status = NamespaceStatus {
            phase: "Active".into(),
            ..Default::default()
        };
        if !self
            .spec
            .finalizers
            .iter()
            .any(|f| f == NAMESPACE_FINALIZER)
        {
            self.spec.finalizers.push(NAMESPACE_FINALIZER.into());
        }
    }

    /// Spec finalizers change only through the `finalize` subresource.
    fn prepare_for_update(&mut self, old: &Self) {
        self.spec.finalizers = old.spec.finalizers.clone();
        self.status = old.status.clone();
    }

    crate::status_update_from_status_field!();

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }

    fn field_value(&self, path: &str) -> Option<String> {
        (path == "status.phase").then(|| self.status.phase.clone())
    }
}

fn finalizers(list: &[String]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let field = format!("spec.finalizers[{i}]");
        errs.extend(validation::qualified_name(&field, f));
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldError::invalid(
                &field,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// `Active` while alive, `Terminating` once deletion started.
fn phase_matches_deletion(ns: &Namespace) -> FieldErrors {
    let phase = &ns.status.phase;
    if ns.metadata.deletion_timestamp.is_none() {
        if phase != "Active" {
            return vec![FieldError::invalid(
                "status.phase",
                phase,
                "may only be 'Active' if `deletionTimestamp` is empty",
            )];
        }
    } else if phase != "Terminating" {
        return vec![FieldError::invalid(
            "status.phase",
            phase,
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str) -> Namespace {
        let mut n = Namespace {
            metadata: ObjectMeta {
                name: name.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        n.apply_defaults();
        n
    }

    #[test]
    fn create_sets_active_phase_finalizer_and_name_label() {
        let mut n = ns("team-a");
        n.status.phase = "Terminating".into();
        n.prepare_for_create();
        assert_eq!(n.status.phase, "Active");
        assert_eq!(n.spec.finalizers, vec!["kubernetes"]);
        assert_eq!(n.metadata.labels[NAMESPACE_NAME_LABEL], "team-a");
        assert_eq!(n.validate(), vec![]);
        assert_eq!(n.field_value("status.phase").as_deref(), Some("Active"));
    }

    #[test]
    fn name_is_a_dns1123_label() {
        let n = ns("team.a");
        let errs = n.validate();
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .to_string()
            .starts_with(r#"metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label"#));
        let namespaced = Namespace {
            metadata: ObjectMeta {
                name: "x".into(),
                namespace: "default".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            namespaced.validate()[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
    }

    #[test]
    fn name_is_immutable_and_status_follows_deletion() {
        let mut old = ns("team-a");
        old.prepare_for_create();
        let mut renamed = old.clone();
        renamed.metadata.name = "team-b".into();
        assert_eq!(
            renamed.validate_update(&old)[0].to_string(),
            r#"metadata.name: Invalid value: "team-b": field is immutable"#
        );

        let mut status = old.clone();
        status.status.phase = "Terminating".into();
        let stored = status.status_update(&old);
        assert_eq!(
            stored.validate_update(&old)[0].to_string(),
            r#"status.phase: Invalid value: "Terminating": may only be 'Active' if `deletionTimestamp` is empty"#
        );

        let mut main = old.clone();
        main.spec.finalizers.clear();
        main.status.phase = "Terminating".into();
        main.prepare_for_update(&old);
        assert_eq!(
            main.spec.finalizers,
            vec!["kubernetes"],
            "finalizers change via /finalize"
        );
        assert_eq!(main.status.phase, "Active");
    }

    #[test]
    fn finalizer_names() {
        let mut n = ns("a");
        n.spec.finalizers = vec!["custom".into(), "example.com/cleanup".into()];
        assert_eq!(
            n.validate()[0].to_string(),
            r#"spec.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified"#
        );
    }
}
