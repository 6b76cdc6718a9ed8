//! The Service registry strategy (`pkg/registry/core/service/strategy.go`)
//! and the update-time patching of allocated values (`patchAllocatedValues`,
//! `dropTypeDependentFields`, `NormalizeClusterIPs`).

use super::defaults::default_service_spec;
use super::types::{Service, ServiceSpec, ServiceStatus};
use super::validation::{
    validate_service, validate_service_spec, validate_service_spec_update, validate_service_status,
};
use crate::status::FieldErrors;
use crate::strategy::Strategy;
use crate::validation;

impl Strategy for Service {
    const HAS_STATUS_SUBRESOURCE: bool = true;

    fn apply_defaults(&mut self) {
        default_service_spec(&mut self.spec);
    }

    fn validate(&self) -> FieldErrors {
        validate_service(self)
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update_with_name_rule(
            &self.metadata,
            &old.metadata,
            true,
            validation::dns1035_label,
        );
        errs.extend(validate_service_spec_update(&self.spec, &old.spec));
        errs.extend(validate_service_spec(&self.spec));
        errs.extend(validate_service_status(&self.status));
        errs
    }

    fn prepare_for_create(&mut self) {
        self.status = ServiceStatus::default();
        if !self.spec.cluster_ip.is_empty() && self.spec.cluster_ips.is_empty() {
            self.spec.cluster_ips = vec![self.spec.cluster_ip.clone()];
        }
    }

    /// Keep allocated values a client left out (clusterIP, nodePorts),
    /// drop the ones the new type no longer uses, and keep status.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
        patch_allocated_values(&mut self.spec, &old.spec);
        drop_type_dependent_fields(&mut self.spec, &old.spec);
        normalize_cluster_ips(&mut self.spec, &old.spec);
    }

    fn status_update(&self, old: &Self) -> Self {
        let mut out = old.clone();
        out.status = self.status.clone();
        out
    }

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }

    fn field_value(&self, path: &str) -> Option<String> {
        match path {
            "spec.clusterIP" => Some(self.spec.cluster_ip.clone()),
            "spec.type" => Some(self.spec.type_.clone()),
            _ => None,
        }
    }
}

/// A client that PUTs a Service without the fields the apiserver
/// allocated gets them carried over rather than reallocated.
fn patch_allocated_values(new: &mut ServiceSpec, old: &ServiceSpec) {
    if old.needs_cluster_ip() && new.needs_cluster_ip() {
        if new.cluster_ip.is_empty() {
            new.cluster_ip = old.cluster_ip.clone();
        }
        if new.cluster_ips.is_empty() && !old.cluster_ips.is_empty() {
            new.cluster_ips = old.cluster_ips.clone();
        }
    }
    if old.needs_node_ports() && new.needs_node_ports() {
        let used: Vec<i32> = new
            .ports
            .iter()
            .map(|p| p.node_port)
            .filter(|np| *np != 0)
            .collect();
        for p in &mut new.ports {
            if p.node_port != 0 {
                continue;
            }
            let old_port = old
                .ports
                .iter()
                .find(|o| o.name == p.name)
                .map(|o| o.node_port)
                .unwrap_or(0);
            if old_port != 0 && !used.contains(&old_port) {
                p.node_port = old_port;
            }
        }
    }
    if new.type_ == "LoadBalancer"
        && old.type_ == "LoadBalancer"
        && new.external_traffic_policy == "Local"
        && old.external_traffic_policy == "Local"
        && new.health_check_node_port == 0
    {
        new.health_check_node_port = old.health_check_node_port;
    }
}

/// Switching to a type that no longer uses a field the apiserver filled
/// clears it, unless the client changed it too (then validation decides).
fn drop_type_dependent_fields(new: &mut ServiceSpec, old: &ServiceSpec) {
    if old.needs_cluster_ip() && !new.needs_cluster_ip() {
        if new.cluster_ip == old.cluster_ip && new.cluster_ips == old.cluster_ips {
            new.cluster_ip.clear();
            new.cluster_ips.clear();
        }
        if new.ip_families == old.ip_families {
            new.ip_families.clear();
        }
        if new.ip_family_policy == old.ip_family_policy {
            new.ip_family_policy = None;
        }
        if new.internal_traffic_policy == old.internal_traffic_policy {
            new.internal_traffic_policy = None;
        }
    }
    if old.needs_node_ports() && !new.needs_node_ports() {
        let same = new.ports.len() == old.ports.len()
            && new
                .ports
                .iter()
                .zip(&old.ports)
                .all(|(n, o)| n.node_port == o.node_port);
        if same {
            for p in &mut new.ports {
                p.node_port = 0;
            }
        }
    }
    if old.externally_accessible()
        && !new.externally_accessible()
        && new.external_traffic_policy == old.external_traffic_policy
    {
        new.external_traffic_policy.clear();
    }
    if old.type_ == "LoadBalancer" && new.type_ != "LoadBalancer" {
        if new.health_check_node_port == old.health_check_node_port {
            new.health_check_node_port = 0;
        }
        if new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports {
            new.allocate_load_balancer_node_ports = None;
        }
    }
}

/// Keep `clusterIP` and `clusterIPs` in step when a client changed only one.
fn normalize_cluster_ips(new: &mut ServiceSpec, old: &ServiceSpec) {
    if !old.cluster_ips.is_empty() && new.cluster_ips.is_empty() && old.cluster_ip == new.cluster_ip
    {
        new.cluster_ips = old.cluster_ips.clone();
    }
    if old.cluster_ip != new.cluster_ip {
        if !old.cluster_ip.is_empty() && new.cluster_ip.is_empty() {
            if new.cluster_ips == old.cluster_ips {
                new.cluster_ips.clear();
            }
        } else if new.cluster_ips == old.cluster_ips {
            new.cluster_ips = vec![new.cluster_ip.clone()];
        }
    }
}
