//! Pod spec validation (`ValidatePodSpec` and friends upstream), shared by
//! Pods and the pod templates of ReplicaSets and Deployments.

mod container;
mod downward;
mod resources;
mod scheduling;
mod update;
mod volume;

pub use update::validate_pod_spec_update;

use super::spec::{PodDnsConfig, PodSecurityContext, PodSpec, PodTemplateSpec};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/// Validate a pod spec found at `path` (`spec`, or
/// `spec.template.spec` in a workload). Run after defaulting: fields the
/// defaulters fill (restartPolicy, dnsPolicy, imagePullPolicy, ...) are
/// required here.
pub fn validate_pod_spec(spec: &PodSpec, path: &str) -> FieldErrors {
    let (mut errs, volumes) = volume::volumes(&format!("{path}.volumes"), &spec.volumes);
    errs.extend(container::containers(spec, path, &volumes));
    let rp = format!("{path}.restartPolicy");
    match spec.restart_policy.as_str() {
        "" => errs.push(FieldError::required(&rp, "")),
        p if !RESTART_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&rp, p, RESTART_POLICIES))
        }
        _ => {}
    }
    let dp = format!("{path}.dnsPolicy");
    match spec.dns_policy.as_str() {
        "" => errs.push(FieldError::required(&dp, "")),
        p if !DNS_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&dp, p, DNS_POLICIES))
        }
        _ => {}
    }
    errs.extend(validation::labels(
        &format!("{path}.nodeSelector"),
        &spec.node_selector,
    ));
    if let Some(sc) = &spec.security_context {
        errs.extend(pod_security_context(&format!("{path}.securityContext"), sc));
    }
    if let Some(a) = &spec.affinity {
        errs.extend(scheduling::affinity(&format!("{path}.affinity"), a));
    }
    errs.extend(dns_config(
        &format!("{path}.dnsConfig"),
        spec.dns_config.as_ref(),
        &spec.dns_policy,
    ));
    for (i, g) in spec.readiness_gates.iter().enumerate() {
        errs.extend(validation::qualified_name(
            &format!("{path}.readinessGates[{i}].conditionType"),
            &g.condition_type,
        ));
    }
    errs.extend(scheduling::topology_spread(
        &format!("{path}.topologySpreadConstraints"),
        &spec.topology_spread_constraints,
    ));
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        if !value.is_empty() {
            errs.extend(validation::dns1123_subdomain(
                &format!("{path}.{field}"),
                value,
            ));
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        errs.extend(validation::non_negative(
            &format!("{path}.terminationGracePeriodSeconds"),
            g,
        ));
    }
    if let Some(d) = spec.active_deadline_seconds {
        errs.extend(validation::in_range(
            &format!("{path}.activeDeadlineSeconds"),
            d,
            1,
            i32::MAX.into(),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !value.is_empty() {
            errs.extend(validation::dns1123_label(&format!("{path}.{field}"), value));
        }
    }
    errs.extend(scheduling::tolerations(
        &format!("{path}.tolerations"),
        &spec.tolerations,
    ));
    for (i, ha) in spec.host_aliases.iter().enumerate() {
        let p = format!("{path}.hostAliases[{i}]");
        errs.extend(validation::ip_address(&format!("{p}.ip"), &ha.ip));
        for (j, h) in ha.hostnames.iter().enumerate() {
            errs.extend(validation::dns1123_subdomain(
                &format!("{p}.hostnames[{j}]"),
                h,
            ));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        const PP: &[&str] = &["Never", "PreemptLowerPriority"];
        if !PP.contains(&pp.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{path}.preemptionPolicy"),
                pp,
                PP,
            ));
        }
    }
    if let Some(os) = &spec.os {
        const OS: &[&str] = &["linux", "windows"];
        if !OS.contains(&os.name.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{path}.os.name"),
                &os.name,
                OS,
            ));
        }
    }
    errs
}

/// Validate a pod template at `path` (`spec.template`): its labels and
/// annotations, then its spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &str) -> FieldErrors {
    let mut errs = validation::labels(
        &format!("{path}.metadata.labels"),
        &template.metadata.labels,
    );
    errs.extend(validation::annotations(
        &format!("{path}.metadata.annotations"),
        &template.metadata.annotations,
    ));
    errs.extend(validate_pod_spec(&template.spec, &format!("{path}.spec")));
    errs
}

fn pod_security_context(p: &str, sc: &PodSecurityContext) -> FieldErrors {
    let mut errs = container::id(&format!("{p}.runAsUser"), sc.run_as_user);
    errs.extend(container::id(&format!("{p}.runAsGroup"), sc.run_as_group));
    errs.extend(container::id(&format!("{p}.fsGroup"), sc.fs_group));
    for (i, g) in sc.supplemental_groups.iter().enumerate() {
        errs.extend(container::id(
            &format!("{p}.supplementalGroups[{i}]"),
            Some(*g),
        ));
    }
    for (i, s) in sc.sysctls.iter().enumerate() {
        let valid = !s.name.is_empty()
            && s.name.len() <= 253
            && s.name.split(['.', '/']).all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            });
        if !valid {
            errs.push(FieldError::invalid(
                &format!("{p}.sysctls[{i}].name"),
                &s.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        errs.extend(container::seccomp_profile(
            &format!("{p}.seccompProfile"),
            &sp.type_,
            sp.localhost_profile.as_deref(),
        ));
    }
    errs
}

fn dns_config(p: &str, cfg: Option<&PodDnsConfig>, policy: &str) -> FieldErrors {
    let mut errs = Vec::new();
    if policy == "None" {
        match cfg {
            None => {
                return vec![FieldError::required(
                    p,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )]
            }
            Some(c) if c.nameservers.is_empty() => {
                return vec![FieldError::required(
                    &format!("{p}.nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )]
            }
            Some(_) => {}
        }
    }
    let Some(cfg) = cfg else { return errs };
    if cfg.nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            &format!("{p}.nameservers"),
            &cfg.nameservers,
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in cfg.nameservers.iter().enumerate() {
        errs.extend(validation::ip_address(&format!("{p}.nameservers[{i}]"), ns));
    }
    if cfg.searches.len() > 32 {
        errs.push(FieldError::invalid(
            &format!("{p}.searches"),
            &cfg.searches,
            "must not have more than 32 search paths",
        ));
    }
    for (i, s) in cfg.searches.iter().enumerate() {
        if s != "." {
            errs.extend(validation::dns1123_subdomain(
                &format!("{p}.searches[{i}]"),
                s.trim_end_matches('.'),
            ));
        }
    }
    for (i, o) in cfg.options.iter().enumerate() {
        if o.name.is_empty() {
            errs.push(FieldError::required(
                &format!("{p}.options[{i}]"),
                "must not be empty",
            ));
        }
    }
    errs
}
