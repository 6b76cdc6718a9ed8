//! `coordination.k8s.io/v1` Lease: node heartbeats and leader election.

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::{MicroTime, ObjectMeta};
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

const LEASE_STRATEGIES: &[&str] = &["OldestEmulationVersion"];

/// `coordination.k8s.io/v1.Lease`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lease {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: LeaseSpec,
}

/// `coordination.k8s.io/v1.LeaseSpec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<MicroTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<MicroTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_holder: Option<String>,
}

impl_resource!(
    Lease,
    group = "coordination.k8s.io",
    version = "v1",
    kind = "Lease",
    plural = "leases",
    singular = "lease",
    namespaced = true,
    short = []
);

impl Strategy for Lease {
    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_lease_spec(&self.spec));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_lease_spec(&self.spec));
        errs
    }

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }
}

/// Durations positive, transitions non-negative, a known coordination
/// strategy, and a preferred holder only with a strategy.
pub fn validate_lease_spec(spec: &LeaseSpec) -> FieldErrors {
    let mut errs = Vec::new();
    if let Some(d) = spec.lease_duration_seconds {
        errs.extend(validation::positive("spec.leaseDurationSeconds", d.into()));
    }
    if let Some(t) = spec.lease_transitions {
        errs.extend(validation::non_negative("spec.leaseTransitions", t.into()));
    }
    if let Some(s) = &spec.strategy {
        if s.contains('/') {
            errs.extend(validation::qualified_name("spec.strategy", s));
        } else if !LEASE_STRATEGIES.contains(&s.as_str()) {
            errs.push(FieldError::not_supported(
                "spec.strategy",
                s,
                LEASE_STRATEGIES,
            ));
        }
    }
    let has_strategy = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
    if spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !has_strategy
    {
        errs.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn lease() -> Lease {
        decode_strict(serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                "renewTime": "2024-05-01T10:00:00.123456Z", "leaseTransitions": 0}
        }))
        .unwrap()
    }

    #[test]
    fn round_trips_micro_time() {
        let l = lease();
        assert_eq!(l.validate(), vec![]);
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["spec"]["renewTime"], "2024-05-01T10:00:00.123456Z");
        assert_eq!(v["spec"]["leaseTransitions"], 0);
        assert_eq!(
            <Lease as crate::resource::Resource>::api_version(),
            "coordination.k8s.io/v1"
        );
    }

    #[test]
    fn durations_positive_transitions_non_negative() {
        let mut l = lease();
        l.spec.lease_duration_seconds = Some(0);
        l.spec.lease_transitions = Some(-1);
        l.spec.preferred_holder = Some("node-2".into());
        let lines: Vec<String> = l.validate().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
            ]
        );
    }
}
