//! The Pod registry strategy (`pkg/registry/core/pod/strategy.go`).

use super::defaults::default_pod;
use super::qos::pod_qos_class;
use super::status::PodStatus;
use super::validation::{validate_pod_spec, validate_pod_spec_update};
use super::Pod;
use crate::status::FieldErrors;
use crate::strategy::Strategy;
use crate::validation;

impl Strategy for Pod {
    const HAS_STATUS_SUBRESOURCE: bool = true;
    const HAS_GENERATION: bool = true;

    fn apply_defaults(&mut self) {
        default_pod(&mut self.spec, &mut self.status);
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_pod_spec(&self.spec, "spec"));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_pod_spec(&self.spec, "spec"));
        errs.extend(validate_pod_spec_update(&self.spec, &old.spec));
        errs.extend(validate_status_ips(&self.status));
        errs
    }

    /// A new pod starts `Pending` with its QoS class; whatever status the
    /// client sent is dropped.
    fn prepare_for_create(&mut self) {
        self.status = PodStatus {
            phase: "Pending".into(),
            qos_class: pod_qos_class(&self.spec).into(),
            ..Default::default()
        };
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
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
        let s = &self.spec;
        Some(match path {
            "spec.nodeName" => s.node_name.clone(),
            "spec.schedulerName" => s.scheduler_name.clone(),
            "spec.restartPolicy" => s.restart_policy.clone(),
            "spec.serviceAccountName" => s.service_account_name.clone(),
            "spec.hostNetwork" => s.host_network.to_string(),
            "status.phase" => self.status.phase.clone(),
            "status.podIP" => self
                .status
                .pod_ips
                .first()
                .map(|ip| ip.ip.clone())
                .unwrap_or_else(|| self.status.pod_ip.clone()),
            "status.nominatedNodeName" => self.status.nominated_node_name.clone(),
            _ => return None,
        })
    }
}

/// The addresses a kubelet reports must be IPs.
fn validate_status_ips(status: &PodStatus) -> FieldErrors {
    let mut errs = Vec::new();
    for (list, name) in [(&status.pod_ips, "podIPs"), (&status.host_ips, "hostIPs")] {
        for (i, ip) in list.iter().enumerate() {
            errs.extend(validation::ip_address(
                &format!("status.{name}[{i}].ip"),
                &ip.ip,
            ));
        }
    }
    if !status.nominated_node_name.is_empty() {
        errs.extend(validation::dns1123_subdomain(
            "status.nominatedNodeName",
            &status.nominated_node_name,
        ));
    }
    errs
}
