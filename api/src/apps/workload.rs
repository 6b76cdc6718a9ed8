//! Rules ReplicaSets and Deployments share: the selector, the pod template
//! they stamp out, and the replica count.

use crate::core::pod::{validate_pod_template_spec, PodTemplateSpec};
use crate::meta::LabelSelector;
use crate::selector::{validate_label_selector, Selector};
use crate::status::{FieldError, FieldErrors};
use crate::validation::{self, go_string_map, Raw};

/// `spec.replicas`, `spec.selector` and `spec.template` of a workload.
pub(crate) fn validate_workload_spec(
    replicas: Option<i32>,
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
) -> FieldErrors {
    let mut errs = Vec::new();
    if let Some(r) = replicas {
        errs.extend(validation::non_negative("spec.replicas", r.into()));
    }
    match selector {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => errs.extend(selector_rules(sel, template)),
    }
    errs.extend(validate_pod_template_spec(template, "spec.template"));
    errs.extend(template_for_replicas(template));
    errs
}

/// The selector is valid, not empty, and selects the template's pods.
fn selector_rules(sel: &LabelSelector, template: &PodTemplateSpec) -> FieldErrors {
    let mut errs = validate_label_selector("spec.selector", sel);
    if sel.match_labels.is_empty() && sel.match_expressions.is_empty() {
        errs.push(FieldError::invalid(
            "spec.selector",
            Raw("{}".into()),
            "empty selector is invalid for deployment",
        ));
    }
    match Selector::from_label_selector(sel) {
        Err(_) => errs.push(FieldError::invalid(
            "spec.selector",
            Raw(selector_string(sel)),
            "invalid label selector",
        )),
        Ok(s) => {
            if !s.is_empty() && !s.matches(&template.metadata.labels) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    go_string_map(&template.metadata.labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    errs
}

/// Replicated pods restart forever and have no deadline.
fn template_for_replicas(template: &PodTemplateSpec) -> FieldErrors {
    let mut errs = Vec::new();
    let rp = &template.spec.restart_policy;
    if !rp.is_empty() && rp != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if let Some(d) = template.spec.active_deadline_seconds {
        errs.push(FieldError::invalid(
            "spec.template.spec.activeDeadlineSeconds",
            d,
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

/// `spec.selector` never changes after create (apps/v1).
pub(crate) fn selector_immutable(
    new: Option<&LabelSelector>,
    old: Option<&LabelSelector>,
) -> FieldErrors {
    if new == old {
        return Vec::new();
    }
    let shown = new.map(selector_string).unwrap_or_else(|| "null".into());
    vec![FieldError::invalid(
        "spec.selector",
        Raw(format!("{shown:?}")),
        "field is immutable",
    )]
}

/// A label selector in string form, as `autoscaling/v1` Scale reports it
/// and `kubectl get -o wide` shows it: `app=web,tier in (a,b),!canary`
/// (requirements sorted by key, values sorted). Empty when the selector is
/// empty or not valid.
pub fn selector_string(selector: &LabelSelector) -> String {
    Selector::from_label_selector(selector)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Non-negative status counters and `field <= status.replicas` relations.
pub(crate) struct StatusCounts<'a> {
    pub counters: Vec<(&'a str, i64)>,
    pub replicas: i32,
    pub bounded_by_replicas: Vec<(&'a str, i32)>,
    pub ready: i32,
    pub available: i32,
}

impl StatusCounts<'_> {
    pub(crate) fn validate(&self) -> FieldErrors {
        let mut errs = Vec::new();
        for (name, v) in &self.counters {
            errs.extend(validation::non_negative(&format!("status.{name}"), *v));
        }
        for (name, v) in &self.bounded_by_replicas {
            if *v > self.replicas {
                errs.push(FieldError::invalid(
                    &format!("status.{name}"),
                    *v,
                    "cannot be greater than status.replicas",
                ));
            }
        }
        if self.available > self.ready {
            errs.push(FieldError::invalid(
                "status.availableReplicas",
                self.available,
                "cannot be greater than readyReplicas",
            ));
        }
        errs
    }
}
