//! `apps/v1` ReplicaSet.

use serde::{Deserialize, Serialize};

use super::workload::{selector_immutable, selector_string, validate_workload_spec, StatusCounts};
use crate::core::pod::{default_pod_spec, PodTemplateSpec};
use crate::core::skip::{is_zero_i32, is_zero_i64};
use crate::impl_resource;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::status::FieldErrors;
use crate::strategy::{Scalable, Strategy};
use crate::validation;

/// `apps/v1.ReplicaSet`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSet {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ReplicaSetSpec,
    #[serde(default)]
    pub status: ReplicaSetStatus,
}

/// `apps/v1.ReplicaSetSpec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSetSpec {
    /// Defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub min_ready_seconds: i32,
    /// Required; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub template: PodTemplateSpec,
}

/// `apps/v1.ReplicaSetStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSetStatus {
    #[serde(default)]
    pub replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub fully_labeled_replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub ready_replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub available_replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ReplicaSetCondition>,
}

/// `apps/v1.ReplicaSetCondition` (`ReplicaFailure`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSetCondition {
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
    ReplicaSet,
    group = "apps",
    version = "v1",
    kind = "ReplicaSet",
    plural = "replicasets",
    singular = "replicaset",
    namespaced = true,
    short = ["rs"]
);

impl Strategy for ReplicaSet {
    const HAS_STATUS_SUBRESOURCE: bool = true;
    const HAS_GENERATION: bool = true;

    /// `replicas: 1` and the pod template defaults.
    fn apply_defaults(&mut self) {
        self.spec.replicas.get_or_insert(1);
        default_pod_spec(&mut self.spec.template.spec);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_spec(&self.spec));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_spec(&self.spec));
        errs.extend(selector_immutable(
            self.spec.selector.as_ref(),
            old.spec.selector.as_ref(),
        ));
        errs.extend(validate_status(&self.status));
        errs
    }

    fn prepare_for_create(&mut self) {
        self.status = ReplicaSetStatus::default();
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    crate::status_update_from_status_field!();

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }

    fn field_value(&self, path: &str) -> Option<String> {
        (path == "status.replicas").then(|| self.status.replicas.to_string())
    }
}

impl Scalable for ReplicaSet {
    fn spec_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
    fn set_spec_replicas(&mut self, replicas: i32) {
        self.spec.replicas = Some(replicas);
    }
    fn status_replicas(&self) -> i32 {
        self.status.replicas
    }
    fn selector_string(&self) -> String {
        self.spec
            .selector
            .as_ref()
            .map(selector_string)
            .unwrap_or_default()
    }
}

fn validate_spec(spec: &ReplicaSetSpec) -> FieldErrors {
    let mut errs = validate_workload_spec(spec.replicas, spec.selector.as_ref(), &spec.template);
    errs.extend(validation::non_negative(
        "spec.minReadySeconds",
        spec.min_ready_seconds.into(),
    ));
    errs
}

fn validate_status(s: &ReplicaSetStatus) -> FieldErrors {
    StatusCounts {
        counters: vec![
            ("replicas", s.replicas.into()),
            ("fullyLabeledReplicas", s.fully_labeled_replicas.into()),
            ("readyReplicas", s.ready_replicas.into()),
            ("availableReplicas", s.available_replicas.into()),
            ("observedGeneration", s.observed_generation),
            (
                "terminatingReplicas",
                s.terminating_replicas.unwrap_or(0).into(),
            ),
        ],
        replicas: s.replicas,
        bounded_by_replicas: vec![
            ("fullyLabeledReplicas", s.fully_labeled_replicas),
            ("readyReplicas", s.ready_replicas),
            ("availableReplicas", s.available_replicas),
        ],
        ready: s.ready_replicas,
        available: s.available_replicas,
    }
    .validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn rs() -> ReplicaSet {
        let mut r: ReplicaSet = decode_strict(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-5d4f8", "namespace": "default",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "uid": "d1", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {
                "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8"}},
                "template": {
                    "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]}
                }
            }
        }))
        .unwrap();
        r.apply_defaults();
        r
    }

    fn lines(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_and_validation() {
        let r = rs();
        assert_eq!(r.spec.replicas, Some(1));
        assert_eq!(
            r.spec.template.spec.containers[0].image_pull_policy,
            "Always"
        );
        assert_eq!(lines(&r.validate()), Vec::<String>::new());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], serde_json::json!({"replicas": 0}));
        assert_eq!(r.field_value("status.replicas").as_deref(), Some("0"));
    }

    #[test]
    fn shared_workload_rules() {
        let mut r = rs();
        r.spec.replicas = Some(-3);
        r.spec.template.spec.active_deadline_seconds = Some(10);
        r.spec.template.spec.containers[0].name = "Web".into();
        let l = lines(&r.validate());
        assert_eq!(
            l[0],
            "spec.replicas: Invalid value: -3: must be greater than or equal to 0"
        );
        assert!(l[1].starts_with(r#"spec.template.spec.containers[0].name: Invalid value: "Web""#));
        assert_eq!(
            l[2],
            "spec.template.spec.activeDeadlineSeconds: Invalid value: 10: activeDeadlineSeconds in ReplicaSet is not Supported"
        );
    }

    #[test]
    fn selector_immutable_status_separate() {
        let old = rs();
        let mut new = old.clone();
        new.spec
            .selector
            .as_mut()
            .unwrap()
            .match_labels
            .remove("pod-template-hash");
        assert_eq!(
            lines(&new.validate_update(&old)),
            vec![r#"spec.selector: Invalid value: "app=web": field is immutable"#]
        );

        let mut status = old.clone();
        status.status.replicas = 1;
        status.status.ready_replicas = 1;
        status.status.available_replicas = 2;
        status.spec.replicas = Some(9);
        let stored = status.status_update(&old);
        assert_eq!(stored.spec.replicas, Some(1));
        assert_eq!(
            lines(&stored.validate_update(&old)),
            vec![
                "status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas",
            ]
        );
        assert_eq!(stored.status_replicas(), 1);
        assert_eq!(old.selector_string(), "app=web,pod-template-hash=5d4f8");
    }
}
