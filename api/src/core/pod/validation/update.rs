//! What a Pod update may change (`ValidatePodUpdate` upstream): container
//! images, a shrinking `activeDeadlineSeconds`, added tolerations. Nothing
//! else in the spec, `nodeName` included (the `binding` subresource sets it).

use serde_json::Value;

use super::scheduling;
use crate::core::pod::scheduling::Toleration;
use crate::core::pod::spec::PodSpec;
use crate::status::{FieldError, FieldErrors};
use crate::validation;

/// The text Kubernetes uses when an update touches an immutable pod field.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Validate the spec change of a Pod update (`new` replaces `old`).
pub fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec) -> FieldErrors {
    let mut errs = Vec::new();
    for (list, new_list, old_list) in [
        ("containers", &new.containers, &old.containers),
        ("initContainers", &new.init_containers, &old.init_containers),
    ] {
        if new_list.len() != old_list.len() {
            errs.push(FieldError::forbidden(
                &format!("spec.{list}"),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_list.iter().enumerate() {
            if c.image.is_empty() {
                errs.push(FieldError::required(&format!("spec.{list}[{i}].image"), ""));
            }
        }
    }

    let adp = "spec.activeDeadlineSeconds";
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                adp,
                n,
                &validation::range_message(0, i32::MAX.into()),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                adp,
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            adp,
            validation::Raw("null".into()),
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    errs.extend(only_added_tolerations(&new.tolerations, &old.tolerations));

    let mut munged = new.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
        c.image = o.image.clone();
    }
    for (c, o) in munged.init_containers.iter_mut().zip(&old.init_containers) {
        c.image = o.image.clone();
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.tolerations = old.tolerations.clone();
    munged.scheduling_gates = old.scheduling_gates.clone();
    if munged != *old {
        let diff = json_diff(old, &munged);
        errs.push(FieldError::forbidden(
            "spec",
            &format!("{POD_UPDATE_FORBIDDEN}\n{diff}"),
        ));
    }
    errs
}

/// Every old toleration must still be there (its `tolerationSeconds` may change).
fn only_added_tolerations(new: &[Toleration], old: &[Toleration]) -> FieldErrors {
    let kept = old.iter().all(|o| {
        new.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            o == *n
        })
    });
    if !kept {
        return vec![FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        )];
    }
    if new.len() != old.len() {
        return scheduling::tolerations("spec.tolerations", new);
    }
    Vec::new()
}

/// A short `-old`/`+new` listing of the paths that differ, like the
/// `cmp.Diff` Kubernetes appends to the message.
fn json_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (Ok(a), Ok(b)) = (serde_json::to_value(old), serde_json::to_value(new)) else {
        return String::new();
    };
    let mut lines = Vec::new();
    diff_values("spec", &a, &b, &mut lines);
    lines.join("\n")
}

fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff_values(&p, u, v, out),
                    (Some(u), None) => out.push(format!("- {p}: {u}")),
                    (None, Some(v)) => out.push(format!("+ {p}: {v}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff_values(&format!("{path}[{i}]"), u, v, out);
            }
        }
        _ if a != b => {
            out.push(format!("- {path}: {a}"));
            out.push(format!("+ {path}: {b}"));
        }
        _ => {}
    }
}
