//! Service validation (`ValidateService`, `ValidateServiceUpdate`).

use std::collections::BTreeSet;

use super::types::{Service, ServiceSpec, ServiceStatus};
use crate::status::{FieldError, FieldErrors};
use crate::validation::{self, go_string_slice, Raw};

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES: &[&str] = &["ClientIP", "None"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
const IP_FAMILIES: &[&str] = &["IPv4", "IPv6"];
const IP_FAMILY_POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
/// The longest ClientIP affinity: one day.
pub const MAX_CLIENT_IP_TIMEOUT_SECONDS: i32 = 86400;

/// Validate a Service's spec (metadata is checked by the strategy).
pub fn validate_service_spec(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    let headless = spec.is_headless();
    if spec.ports.is_empty() && !headless && spec.type_ != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match spec.type_.as_str() {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            "None",
            &format!("may not be set to 'None' for {} services", spec.type_),
        )),
        "ExternalName" => errs.extend(external_name(spec)),
        _ => {}
    }
    errs.extend(ports(spec));
    errs.extend(validation::labels("spec.selector", &spec.selector));
    errs.extend(session_affinity(spec));
    errs.extend(cluster_ips(spec));
    for (i, ip) in spec.external_ips.iter().enumerate() {
        let f = format!("spec.externalIPs[{i}]");
        let e = validation::ip_address(&f, ip);
        if e.is_empty() {
            errs.extend(validation::non_special_ip(&f, ip));
        } else {
            errs.extend(e);
        }
    }
    if spec.type_.is_empty() {
        errs.push(FieldError::required("spec.type", ""));
    } else if !SERVICE_TYPES.contains(&spec.type_.as_str()) {
        errs.push(FieldError::not_supported(
            "spec.type",
            &spec.type_,
            SERVICE_TYPES,
        ));
    }
    for (i, r) in spec.load_balancer_source_ranges.iter().enumerate() {
        errs.extend(validation::cidr(
            &format!("spec.loadBalancerSourceRanges[{i}]"),
            r.trim(),
        ));
    }
    if !spec.load_balancer_ip.is_empty() {
        errs.extend(validation::ip_address(
            "spec.loadBalancerIP",
            &spec.load_balancer_ip,
        ));
    }
    errs.extend(traffic_policies(spec));
    errs
}

fn external_name(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    if !spec.cluster_ips.is_empty() || !spec.cluster_ip.is_empty() {
        errs.push(FieldError::forbidden(
            "spec.clusterIPs",
            "may not be set for ExternalName services",
        ));
    }
    if !spec.ip_families.is_empty() {
        errs.push(FieldError::forbidden(
            "spec.ipFamilies",
            "may not be set for ExternalName services",
        ));
    }
    if spec.ip_family_policy.is_some() {
        errs.push(FieldError::forbidden(
            "spec.ipFamilyPolicy",
            "may not be set for ExternalName services",
        ));
    }
    let clean = spec.external_name.trim_end_matches('.');
    if clean.is_empty() {
        errs.push(FieldError::required("spec.externalName", ""));
    } else {
        errs.extend(validation::dns1123_subdomain("spec.externalName", clean));
    }
    errs
}

fn ports(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    let require_name = spec.ports.len() > 1;
    let mut names = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, sp) in spec.ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        if require_name && sp.name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        } else if !sp.name.is_empty() {
            errs.extend(validation::dns1123_label(&format!("{p}.name"), &sp.name));
            if !names.insert(sp.name.as_str()) {
                errs.push(FieldError::duplicate(&format!("{p}.name"), &sp.name));
            }
        }
        errs.extend(validation::port_number(&format!("{p}.port"), sp.port));
        errs.extend(validation::protocol(&format!("{p}.protocol"), &sp.protocol));
        errs.extend(validation::port_num_or_name(
            &format!("{p}.targetPort"),
            &sp.target_port,
        ));
        if let Some(ap) = &sp.app_protocol {
            errs.extend(validation::qualified_name(&format!("{p}.appProtocol"), ap));
        }
        if sp.node_port != 0 {
            let np = format!("{p}.nodePort");
            if !spec.needs_node_ports() {
                errs.push(FieldError::forbidden(
                    &np,
                    &format!("may not be used when `type` is '{}'", spec.type_),
                ));
            }
            errs.extend(validation::port_number(&np, sp.node_port));
            if !node_ports.insert((sp.protocol.as_str(), sp.node_port)) {
                errs.push(FieldError::duplicate(&np, sp.node_port));
            }
        }
        if !port_keys.insert((sp.protocol.as_str(), sp.port)) {
            errs.push(FieldError::duplicate(
                &p,
                Raw(format!("{{port: {}, protocol: {}}}", sp.port, sp.protocol)),
            ));
        }
    }
    errs
}

fn session_affinity(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    let cfg_path = "spec.sessionAffinityConfig";
    match spec.session_affinity.as_str() {
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => {
            const WHEN: &str = "when session affinity type is ClientIP";
            let client_ip = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref());
            match (&spec.session_affinity_config, client_ip) {
                (None, _) => errs.push(FieldError::required(cfg_path, WHEN)),
                (Some(_), None) => {
                    errs.push(FieldError::required(&format!("{cfg_path}.clientIP"), WHEN))
                }
                (Some(_), Some(c)) => {
                    let tp = format!("{cfg_path}.clientIP.timeoutSeconds");
                    match c.timeout_seconds {
                        None => errs.push(FieldError::required(&tp, WHEN)),
                        Some(t) if t <= 0 || t > MAX_CLIENT_IP_TIMEOUT_SECONDS => {
                            errs.push(FieldError::invalid(
                                &tp,
                                t,
                                &format!(
                                    "must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}"
                                ),
                            ))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    cfg_path,
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            AFFINITIES,
        )),
    }
    errs
}

/// clusterIP / clusterIPs / ipFamilies / ipFamilyPolicy consistency.
fn cluster_ips(spec: &ServiceSpec) -> FieldErrors {
    if !spec.needs_cluster_ip() {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let ips = &spec.cluster_ips;
    if !spec.cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required("spec.clusterIPs", ""));
        } else if ips[0] != spec.cluster_ip {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                go_string_slice(ips),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            go_string_slice(ips),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, fam) in spec.ip_families.iter().enumerate() {
        let f = format!("spec.ipFamilies[{i}]");
        if !IP_FAMILIES.contains(&fam.as_str()) {
            errs.push(FieldError::not_supported(&f, fam, IP_FAMILIES));
        }
        if !seen.insert(fam.as_str()) {
            errs.push(FieldError::duplicate(&f, fam));
        }
    }
    if let Some(p) = &spec.ip_family_policy {
        if !IP_FAMILY_POLICIES.contains(&p.as_str()) {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                p,
                IP_FAMILY_POLICIES,
            ));
        }
    }
    let mut bad_ip = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad_ip = true;
                errs.push(FieldError::invalid(
                    "spec.clusterIPs",
                    go_string_slice(ips),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = validation::ip_address(&format!("spec.clusterIPs[{i}]"), ip);
        bad_ip |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            go_string_slice(ips),
            "may only hold up to 2 values",
        ));
    }
    if bad_ip {
        return errs;
    }
    let parsed: Vec<_> = ips
        .iter()
        .filter_map(|ip| validation::parse_ip(ip))
        .collect();
    if ips.len() == 2 && !(parsed.len() == 2 && parsed[0].is_ipv4() != parsed[1].is_ipv4()) {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            go_string_slice(ips),
            "may specify no more than one IP for each IP family",
        ));
    }
    if !spec.is_headless() {
        for (i, (ip, fam)) in parsed.iter().zip(&spec.ip_families).enumerate() {
            let want_v6 = fam == "IPv6";
            if ip.is_ipv6() != want_v6 {
                errs.push(FieldError::invalid(
                    &format!("spec.clusterIPs[{i}]"),
                    &ips[i],
                    &format!("expected an {fam} value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn traffic_policies(spec: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    let etp = "spec.externalTrafficPolicy";
    if !spec.externally_accessible() {
        if !spec.external_traffic_policy.is_empty() {
            errs.push(FieldError::invalid(
                etp,
                &spec.external_traffic_policy,
                "may only be set for externally-accessible services",
            ));
        }
    } else if spec.external_traffic_policy.is_empty() {
        errs.push(FieldError::required(etp, ""));
    } else if !TRAFFIC_POLICIES.contains(&spec.external_traffic_policy.as_str()) {
        errs.push(FieldError::not_supported(
            etp,
            &spec.external_traffic_policy,
            TRAFFIC_POLICIES,
        ));
    }
    let itp = "spec.internalTrafficPolicy";
    match &spec.internal_traffic_policy {
        None if matches!(
            spec.type_.as_str(),
            "ClusterIP" | "NodePort" | "LoadBalancer"
        ) =>
        {
            errs.push(FieldError::required(itp, ""))
        }
        Some(p) if !TRAFFIC_POLICIES.contains(&p.as_str()) => {
            errs.push(FieldError::not_supported(itp, p, TRAFFIC_POLICIES))
        }
        _ => {}
    }
    errs
}

/// Cluster IPs are fixed once allocated; a secondary IP may be added or
/// released, and anything goes to or from ExternalName.
pub fn validate_service_spec_update(new: &ServiceSpec, old: &ServiceSpec) -> FieldErrors {
    let mut errs = Vec::new();
    if !new.needs_cluster_ip()
        || !old.needs_cluster_ip()
        || (new.is_headless() && old.is_headless())
    {
        return errs;
    }
    let (n, o) = (&new.cluster_ips, &old.cluster_ips);
    const CHANGED: &str = "may not change once set";
    if n.len() == o.len() {
        for (i, ip) in o.iter().enumerate() {
            if *ip != n[i] {
                errs.push(FieldError::invalid(
                    &format!("spec.clusterIPs[{i}]"),
                    go_string_slice(n),
                    CHANGED,
                ));
            }
        }
    } else if n.len() < o.len() {
        if n.is_empty() {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                go_string_slice(n),
                "primary clusterIP can not be unset",
            ));
        } else if n[0] != o[0] {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                go_string_slice(n),
                CHANGED,
            ));
        }
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            go_string_slice(n),
            CHANGED,
        ));
    }
    if !old.ip_families.is_empty()
        && !new.ip_families.is_empty()
        && new.ip_families[0] != old.ip_families[0]
    {
        errs.push(FieldError::invalid(
            "spec.ipFamilies[0]",
            &new.ip_families[0],
            CHANGED,
        ));
    }
    errs
}

/// Load-balancer ingress points must be IPs or DNS names.
pub fn validate_service_status(status: &ServiceStatus) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, ing) in status.load_balancer.ingress.iter().enumerate() {
        let p = format!("status.loadBalancer.ingress[{i}]");
        if !ing.ip.is_empty() {
            errs.extend(validation::ip_address(&format!("{p}.ip"), &ing.ip));
        }
        if !ing.hostname.is_empty() {
            let hp = format!("{p}.hostname");
            errs.extend(validation::dns1123_subdomain(&hp, &ing.hostname));
            if validation::parse_ip(&ing.hostname).is_some() {
                errs.push(FieldError::invalid(
                    &hp,
                    &ing.hostname,
                    "must be a DNS name, not an IP address",
                ));
            }
        }
    }
    errs
}

/// Whole-object validation for create.
pub(super) fn validate_service(svc: &Service) -> FieldErrors {
    let mut errs =
        validation::object_meta_with_name_rule(&svc.metadata, true, validation::dns1035_label);
    errs.extend(validate_service_spec(&svc.spec));
    errs
}
