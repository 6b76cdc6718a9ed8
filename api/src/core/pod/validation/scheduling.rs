//! Tolerations, affinity and topology spread constraints.

use crate::core::pod::scheduling::{
    Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinity,
    PodAffinityTerm, Toleration, TopologySpreadConstraint,
};
use crate::selector::validate_label_selector;
use crate::status::{FieldError, FieldErrors};
use crate::validation;

/// `spec.tolerations`.
pub(super) fn tolerations(path: &str, tolerations: &[Toleration]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let op = format!("{p}.operator");
        if !t.key.is_empty() {
            errs.extend(validation::qualified_name(&format!("{p}.key"), &t.key));
        } else if t.operator != "Exists" {
            errs.push(FieldError::invalid(
                &op,
                &t.operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &format!("{p}.effect"),
                &t.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match t.operator.as_str() {
            "" | "Equal" => {
                let value_errs = validation::label_value(&op, &t.value);
                if !value_errs.is_empty() {
                    let msgs: Vec<String> = value_errs.into_iter().map(|e| e.detail).collect();
                    errs.push(FieldError::invalid(&op, &t.value, &msgs.join(";")));
                }
            }
            "Exists" => {
                if !t.value.is_empty() {
                    errs.push(FieldError::invalid(
                        &op,
                        &t.value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(&op, other, &["Equal", "Exists"])),
        }
        errs.extend(validation::taint_effect(
            &format!("{p}.effect"),
            &t.effect,
            true,
        ));
    }
    errs
}

/// `spec.affinity`.
pub(super) fn affinity(path: &str, a: &Affinity) -> FieldErrors {
    let mut errs = Vec::new();
    if let Some(na) = &a.node_affinity {
        let p = format!("{path}.nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errs.extend(node_selector(
                &format!("{p}.requiredDuringSchedulingIgnoredDuringExecution"),
                req,
            ));
        }
        for (i, term) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            let tp = format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            errs.extend(weight(&format!("{tp}.weight"), term.weight));
            errs.extend(node_selector_term(
                &format!("{tp}.preference"),
                &term.preference,
            ));
        }
    }
    for (pa, name) in [
        (&a.pod_affinity, "podAffinity"),
        (&a.pod_anti_affinity, "podAntiAffinity"),
    ] {
        if let Some(pa) = pa {
            errs.extend(pod_affinity(&format!("{path}.{name}"), pa));
        }
    }
    errs
}

fn weight(field: &str, w: i32) -> FieldErrors {
    if (1..=100).contains(&w) {
        Vec::new()
    } else {
        vec![FieldError::invalid(field, w, "must be in the range 1-100")]
    }
}

fn node_selector(path: &str, ns: &NodeSelector) -> FieldErrors {
    let tp = format!("{path}.nodeSelectorTerms");
    if ns.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            &tp,
            "must have at least one node selector term",
        )];
    }
    ns.node_selector_terms
        .iter()
        .enumerate()
        .flat_map(|(i, t)| node_selector_term(&format!("{tp}[{i}]"), t))
        .collect()
}

fn node_selector_term(path: &str, t: &NodeSelectorTerm) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, r) in t.match_expressions.iter().enumerate() {
        errs.extend(node_selector_requirement(
            &format!("{path}.matchExpressions[{i}]"),
            r,
        ));
    }
    for (i, r) in t.match_fields.iter().enumerate() {
        errs.extend(node_field_requirement(
            &format!("{path}.matchFields[{i}]"),
            r,
        ));
    }
    errs
}

fn node_selector_requirement(p: &str, r: &NodeSelectorRequirement) -> FieldErrors {
    let mut errs = Vec::new();
    let vp = format!("{p}.values");
    match r.operator.as_str() {
        "In" | "NotIn" if r.values.is_empty() => errs.push(FieldError::required(
            &vp,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !r.values.is_empty() => errs.push(FieldError::forbidden(
            &vp,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if r.values.len() != 1 => errs.push(FieldError::required(
            &vp,
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errs.push(FieldError::invalid(
            &format!("{p}.operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(validation::qualified_name(&format!("{p}.key"), &r.key));
    errs
}

/// `matchFields`: only `metadata.name`, with `In`/`NotIn` and one value.
fn node_field_requirement(p: &str, r: &NodeSelectorRequirement) -> FieldErrors {
    let mut errs = Vec::new();
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if r.values.len() != 1 {
                errs.push(FieldError::required(
                    &format!("{p}.values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &format!("{p}.operator"),
            other,
            "not a valid selector operator",
        )),
    }
    if r.key != "metadata.name" {
        errs.push(FieldError::invalid(
            &format!("{p}.key"),
            &r.key,
            "not a valid field selector key",
        ));
    } else {
        for (i, v) in r.values.iter().enumerate() {
            errs.extend(validation::dns1123_subdomain(
                &format!("{p}.values[{i}]"),
                v,
            ));
        }
    }
    errs
}

fn pod_affinity(path: &str, pa: &PodAffinity) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, t) in pa
        .required_during_scheduling_ignored_during_execution
        .iter()
        .enumerate()
    {
        errs.extend(pod_affinity_term(
            &format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
            t,
        ));
    }
    for (i, w) in pa
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .enumerate()
    {
        let p = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        errs.extend(weight(&format!("{p}.weight"), w.weight));
        errs.extend(pod_affinity_term(
            &format!("{p}.podAffinityTerm"),
            &w.pod_affinity_term,
        ));
    }
    errs
}

fn pod_affinity_term(p: &str, t: &PodAffinityTerm) -> FieldErrors {
    let mut errs = Vec::new();
    if let Some(ls) = &t.label_selector {
        errs.extend(validate_label_selector(&format!("{p}.labelSelector"), ls));
    }
    if let Some(ns) = &t.namespace_selector {
        errs.extend(validate_label_selector(
            &format!("{p}.namespaceSelector"),
            ns,
        ));
    }
    for ns in &t.namespaces {
        errs.extend(validation::dns1123_label(&format!("{p}.namespace"), ns));
    }
    let tk = format!("{p}.topologyKey");
    if t.topology_key.is_empty() {
        errs.push(FieldError::required(&tk, "can not be empty"));
    } else {
        errs.extend(validation::qualified_name(&tk, &t.topology_key));
    }
    errs
}

/// `spec.topologySpreadConstraints`.
pub(super) fn topology_spread(path: &str, constraints: &[TopologySpreadConstraint]) -> FieldErrors {
    const ACTIONS: &[&str] = &["DoNotSchedule", "ScheduleAnyway"];
    let mut errs = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid(
                &format!("{p}.maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(
                &format!("{p}.topologyKey"),
                "can not be empty",
            ));
        }
        if !ACTIONS.contains(&c.when_unsatisfiable.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{p}.whenUnsatisfiable"),
                &c.when_unsatisfiable,
                ACTIONS,
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errs.push(FieldError::duplicate(
                &format!("{p}.{{topologyKey, whenUnsatisfiable}}"),
                validation::Raw(format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable)),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(FieldError::invalid(
                    &format!("{p}.minDomains"),
                    md,
                    "must be greater than 0",
                ));
            } else if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    &format!("{p}.minDomains"),
                    md,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
                ));
            }
        }
        if let Some(ls) = &c.label_selector {
            errs.extend(validate_label_selector(&format!("{p}.labelSelector"), ls));
        }
    }
    errs
}
