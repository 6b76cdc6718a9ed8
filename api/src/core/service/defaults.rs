//! Service defaulting (`SetDefaults_Service`, plus the IP-family fields the
//! registry fills for a single-stack cluster).

use super::types::{ClientIpConfig, ServiceSpec, SessionAffinityConfig};
use crate::intstr::IntOrString;
use crate::validation;

/// The ClientIP affinity timeout when none is given: 3 hours.
pub const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i32 = 10800;

/// Fill the defaults Kubernetes fills on a Service spec.
pub fn default_service_spec(spec: &mut ServiceSpec) {
    if spec.session_affinity.is_empty() {
        spec.session_affinity = "None".into();
    }
    if spec.session_affinity == "None" {
        spec.session_affinity_config = None;
    }
    if spec.session_affinity == "ClientIP" {
        let timeout = spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds);
        if timeout.is_none() {
            spec.session_affinity_config = Some(SessionAffinityConfig {
                client_ip: Some(ClientIpConfig {
                    timeout_seconds: Some(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS),
                }),
            });
        }
    }
    if spec.type_.is_empty() {
        spec.type_ = "ClusterIP".into();
    }
    for p in &mut spec.ports {
        if p.protocol.is_empty() {
            p.protocol = "TCP".into();
        }
        if p.target_port == IntOrString::Int(0)
            || p.target_port == IntOrString::String(String::new())
        {
            p.target_port = IntOrString::Int(p.port);
        }
    }
    if spec.externally_accessible() && spec.external_traffic_policy.is_empty() {
        spec.external_traffic_policy = "Cluster".into();
    }
    if spec.internal_traffic_policy.is_none()
        && matches!(
            spec.type_.as_str(),
            "ClusterIP" | "NodePort" | "LoadBalancer"
        )
    {
        spec.internal_traffic_policy = Some("Cluster".into());
    }
    if spec.type_ == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
    // Old clients set only the singular field.
    if !spec.cluster_ip.is_empty() && spec.cluster_ips.is_empty() {
        spec.cluster_ips = vec![spec.cluster_ip.clone()];
    }
    if spec.needs_cluster_ip() {
        if spec.ip_family_policy.is_none() {
            spec.ip_family_policy = Some("SingleStack".into());
        }
        if spec.ip_families.is_empty() {
            let v6 = spec
                .cluster_ips
                .first()
                .and_then(|ip| validation::parse_ip(ip))
                .is_some_and(|ip| ip.is_ipv6());
            spec.ip_families = vec![if v6 { "IPv6" } else { "IPv4" }.into()];
        }
    }
}
