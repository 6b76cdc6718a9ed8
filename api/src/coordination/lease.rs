//! `coordination.k8s.io/v1` Lease: node heartbeats and leader election.

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::{MicroTime, ObjectMeta};
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

const LEASE_STRATEGIES: &[&str] = &["OldestEmulationVersion"];

/// `coordination.k8s.io/v1.Lease`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
