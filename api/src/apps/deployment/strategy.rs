//! The Deployment registry strategy (`pkg/registry/apps/deployment/strategy.go`).

use super::defaults::default_deployment_spec;
use super::types::{Deployment, DeploymentStatus};
use super::validation::{validate_deployment_spec, validate_deployment_status};
use crate::apps::workload::{selector_immutable, selector_string};
use crate::status::FieldErrors;
use crate::strategy::{Scalable, Strategy};
use crate::validation;

impl Strategy for Deployment {
    const HAS_STATUS_SUBRESOURCE: bool = true;
    const HAS_GENERATION: bool = true;

    fn apply_defaults(&mut self) {
        default_deployment_spec(&mut self.spec);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_deployment_spec(&self.spec));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_deployment_spec(&self.spec));
        errs.extend(selector_immutable(
            self.spec.selector.as_ref(),
            old.spec.selector.as_ref(),
        ));
        errs.extend(validate_deployment_status(&self.status));
        errs
    }

    fn prepare_for_create(&mut self) {
        self.status = DeploymentStatus::default();
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    fn status_update(&self, old: &Self) -> Self {
        let mut out = old.clone();
        out.status = self.status.clone();
        out
    }

    /// The spec changed, or the annotations did: Kubernetes bumps a
    /// Deployment's generation for both, because annotations are copied
    /// to its ReplicaSets (`kubectl rollout` relies on it).
    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec || self.metadata.annotations != old.metadata.annotations
    }
}

impl Scalable for Deployment {
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
