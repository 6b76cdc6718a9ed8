//! Deployment validation (`ValidateDeploymentSpec`, `ValidateDeploymentStrategy`).

use super::types::{DeploymentSpec, DeploymentStatus, DeploymentStrategy};
use crate::apps::workload::{validate_workload_spec, StatusCounts};
use crate::intstr::IntOrString;
use crate::status::{FieldError, FieldErrors};
use crate::validation::{self, int_or_string, Raw};

/// Validate a Deployment spec.
pub fn validate_deployment_spec(spec: &DeploymentSpec) -> FieldErrors {
    let mut errs = validate_workload_spec(spec.replicas, spec.selector.as_ref(), &spec.template);
    errs.extend(strategy(&spec.strategy));
    errs.extend(validation::non_negative(
        "spec.minReadySeconds",
        spec.min_ready_seconds.into(),
    ));
    if let Some(l) = spec.revision_history_limit {
        errs.extend(validation::non_negative(
            "spec.revisionHistoryLimit",
            l.into(),
        ));
    }
    if let Some(d) = spec.progress_deadline_seconds {
        errs.extend(validation::non_negative(
            "spec.progressDeadlineSeconds",
            d.into(),
        ));
        if d <= spec.min_ready_seconds {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                d,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

fn strategy(s: &DeploymentStrategy) -> FieldErrors {
    let mut errs = Vec::new();
    match s.type_.as_str() {
        "Recreate" => {
            if s.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &s.rolling_update {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = "spec.strategy.rollingUpdate";
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                errs.extend(int_or_percent(&format!("{p}.maxUnavailable"), mu));
                errs.extend(int_or_percent(&format!("{p}.maxSurge"), ms));
                if is_zero(mu) && is_zero(ms) {
                    errs.push(FieldError::invalid(
                        &format!("{p}.maxUnavailable"),
                        int_or_string(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if percent(mu).is_some_and(|v| v > 100) {
                    errs.push(FieldError::invalid(
                        &format!("{p}.maxUnavailable"),
                        int_or_string(mu),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        other => errs.push(FieldError::not_supported(
            "spec.strategy.type",
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

/// A non-negative integer or a percentage string (`ValidatePositiveIntOrPercent`).
fn int_or_percent(field: &str, v: &IntOrString) -> FieldErrors {
    match v {
        IntOrString::Int(i) => validation::non_negative(field, (*i).into()),
        IntOrString::String(s) if !validation::is_percent(s) => vec![FieldError::invalid(
            field,
            Raw(format!("{s:?}")),
            validation::PERCENT_MESSAGE,
        )],
        IntOrString::String(_) => Vec::new(),
    }
}

fn percent(v: &IntOrString) -> Option<u64> {
    match v {
        IntOrString::String(s) if validation::is_percent(s) => {
            s.trim_end_matches('%').parse().ok().or(Some(u64::MAX))
        }
        _ => None,
    }
}

/// `0` or `0%` (an invalid string counts as non-zero; it is reported apart).
fn is_zero(v: &IntOrString) -> bool {
    match v {
        IntOrString::Int(i) => *i == 0,
        IntOrString::String(_) => percent(v) == Some(0),
    }
}

/// Status counters are non-negative and consistent with `status.replicas`.
pub fn validate_deployment_status(s: &DeploymentStatus) -> FieldErrors {
    let mut errs = StatusCounts {
        counters: vec![
            ("observedGeneration", s.observed_generation),
            ("replicas", s.replicas.into()),
            ("updatedReplicas", s.updated_replicas.into()),
            ("readyReplicas", s.ready_replicas.into()),
            ("availableReplicas", s.available_replicas.into()),
            ("unavailableReplicas", s.unavailable_replicas.into()),
            (
                "terminatingReplicas",
                s.terminating_replicas.unwrap_or(0).into(),
            ),
        ],
        replicas: s.replicas,
        bounded_by_replicas: vec![
            ("updatedReplicas", s.updated_replicas),
            ("readyReplicas", s.ready_replicas),
            ("availableReplicas", s.available_replicas),
        ],
        ready: s.ready_replicas,
        available: s.available_replicas,
    }
    .validate();
    if let Some(c) = s.collision_count {
        errs.extend(validation::non_negative("status.collisionCount", c.into()));
    }
    errs
}
