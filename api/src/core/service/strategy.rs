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

    crate::status_update_from_status_field!();

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::service::ServicePort;
    use crate::decode::decode_strict;
    use crate::intstr::IntOrString;
    use crate::status::invalid_status;

    fn svc(yaml: &str) -> Service {
        let y: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        let mut s: Service = decode_strict(serde_json::to_value(y).unwrap()).unwrap();
        s.apply_defaults();
        s
    }

    fn web() -> Service {
        svc(r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9100}
"#)
    }

    fn lines(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn one(change: impl FnOnce(&mut Service)) -> String {
        let mut s = web();
        change(&mut s);
        let l = lines(&s.validate());
        assert_eq!(l.len(), 1, "{l:#?}");
        l[0].clone()
    }

    #[test]
    fn defaults() {
        let s = web();
        assert_eq!(lines(&s.validate()), Vec::<String>::new());
        assert_eq!(s.spec.type_, "ClusterIP");
        assert_eq!(s.spec.session_affinity, "None");
        assert_eq!(s.spec.internal_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(s.spec.ip_family_policy.as_deref(), Some("SingleStack"));
        assert_eq!(s.spec.ip_families, vec!["IPv4"]);
        assert_eq!(
            s.spec.external_traffic_policy, "",
            "only for external services"
        );
        let p = &s.spec.ports;
        assert_eq!(p[0].protocol, "TCP");
        assert_eq!(
            p[0].target_port,
            IntOrString::String("http".into()),
            "named target kept"
        );
        assert_eq!(
            p[1].target_port,
            IntOrString::Int(9100),
            "targetPort defaults to port"
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["spec"]["ports"][1]["targetPort"], 9100);
        assert_eq!(v["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(v["status"], serde_json::json!({"loadBalancer": {}}));
    }

    #[test]
    fn node_port_defaults() {
        let s = svc(r#"
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  clusterIP: 10.96.0.20
  ports: [{port: 443, targetPort: 8443, nodePort: 30443}]
"#);
        assert_eq!(s.spec.external_traffic_policy, "Cluster");
        assert_eq!(s.spec.allocate_load_balancer_node_ports, Some(true));
        assert_eq!(
            s.spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds),
            Some(10800)
        );
        assert_eq!(
            s.spec.cluster_ips,
            vec!["10.96.0.20"],
            "plural follows singular"
        );
        assert_eq!(lines(&s.validate()), Vec::<String>::new());
    }

    #[test]
    fn name_is_a_dns1035_label() {
        let mut s = web();
        s.metadata.name = "1web".into();
        let status = invalid_status("Service", "", "1web", &s.validate());
        assert!(
            status.message.starts_with(
                r#"Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character"#
            ),
            "{}",
            status.message
        );
    }

    #[test]
    fn ports() {
        assert_eq!(one(|s| s.spec.ports.clear()), "spec.ports: Required value");
        assert_eq!(
            one(|s| s.spec.ports[1].name.clear()),
            "spec.ports[1].name: Required value"
        );
        assert_eq!(
            one(|s| s.spec.ports[1].name = "http".into()),
            r#"spec.ports[1].name: Duplicate value: "http""#
        );
        assert_eq!(
            one(|s| s.spec.ports[1].port = 0),
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            one(|s| s.spec.ports[1].target_port = IntOrString::Int(70000)),
            "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            one(|s| s.spec.ports[1].target_port = IntOrString::String("Metrics".into())),
            r#"spec.ports[1].targetPort: Invalid value: "Metrics": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#
        );
        assert_eq!(
            one(|s| s.spec.ports[1].protocol = "ICMP".into()),
            r#"spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#
        );
        assert_eq!(
            one(|s| s.spec.ports[1].node_port = 30001),
            "spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
        );
        assert_eq!(
            one(|s| {
                s.spec.type_ = "NodePort".into();
                s.spec.external_traffic_policy = "Cluster".into();
                s.spec.ports[1].node_port = 70000;
            }),
            "spec.ports[1].nodePort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            one(|s| s.spec.ports[1].port = 80),
            "spec.ports[1]: Duplicate value: {port: 80, protocol: TCP}"
        );
    }

    #[test]
    fn single_unnamed_port_is_fine() {
        let mut s = web();
        s.spec.ports = vec![ServicePort {
            port: 80,
            ..Default::default()
        }];
        s.apply_defaults();
        assert_eq!(lines(&s.validate()), Vec::<String>::new());
    }

    #[test]
    fn types_ips_and_affinity() {
        assert_eq!(
            one(|s| s.spec.type_ = "Internal".into()),
            r#"spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#
        );
        assert_eq!(
            one(|s| {
                s.spec.cluster_ip = "10.96.0.300".into();
                s.spec.cluster_ips = vec!["10.96.0.300".into()];
            }),
            r#"spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#
        );
        let mut headless = web();
        headless.spec.cluster_ip = "None".into();
        headless.spec.ports.clear();
        headless.apply_defaults();
        assert_eq!(
            lines(&headless.validate()),
            Vec::<String>::new(),
            "headless needs no ports"
        );
        assert_eq!(
            one(|s| s.spec.session_affinity = "Cookie".into()),
            r#"spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None""#
        );
        assert_eq!(
            one(|s| {
                s.spec.session_affinity = "ClientIP".into();
                s.apply_defaults();
                s.spec
                    .session_affinity_config
                    .as_mut()
                    .unwrap()
                    .client_ip
                    .as_mut()
                    .unwrap()
                    .timeout_seconds = Some(86401);
            }),
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400"
        );
        assert_eq!(
            one(|s| s.spec.external_traffic_policy = "Local".into()),
            r#"spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services"#
        );
    }

    #[test]
    fn external_name() {
        let mut s = svc(r#"
metadata: {name: db, namespace: default}
spec: {type: ExternalName, externalName: db.example.com.}
"#);
        assert_eq!(lines(&s.validate()), Vec::<String>::new());
        assert_eq!(s.spec.internal_traffic_policy, None);
        assert!(s.spec.ip_families.is_empty());
        s.spec.external_name.clear();
        assert_eq!(
            lines(&s.validate()),
            vec!["spec.externalName: Required value"]
        );
        s.spec.external_name = "db_main".into();
        assert!(lines(&s.validate())[0].starts_with(
            r#"spec.externalName: Invalid value: "db_main": a lowercase RFC 1123 subdomain"#
        ));
    }

    #[test]
    fn cluster_ip_is_kept_and_immutable() {
        let mut old = web();
        old.spec.cluster_ip = "10.96.0.10".into();
        old.spec.cluster_ips = vec!["10.96.0.10".into()];
        old.prepare_for_create();

        // A PUT without the allocated IP keeps it.
        let mut put = web();
        put.prepare_for_update(&old);
        assert_eq!(put.spec.cluster_ip, "10.96.0.10");
        assert_eq!(put.spec.cluster_ips, vec!["10.96.0.10"]);
        assert_eq!(lines(&put.validate_update(&old)), Vec::<String>::new());

        // Changing it is refused.
        let mut moved = old.clone();
        moved.spec.cluster_ip = "10.96.0.11".into();
        moved.prepare_for_update(&old);
        assert_eq!(
            moved.spec.cluster_ips,
            vec!["10.96.0.11"],
            "plural follows singular"
        );
        assert_eq!(
            lines(&moved.validate_update(&old)),
            vec![
                r#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set"#
            ]
        );
    }

    #[test]
    fn switching_to_external_name_clears_cluster_ip() {
        let mut old = web();
        old.spec.cluster_ip = "10.96.0.10".into();
        old.spec.cluster_ips = vec!["10.96.0.10".into()];
        let mut new = old.clone();
        new.spec.type_ = "ExternalName".into();
        new.spec.external_name = "web.example.com".into();
        new.apply_defaults();
        new.prepare_for_update(&old);
        assert_eq!(new.spec.cluster_ip, "");
        assert!(new.spec.cluster_ips.is_empty());
        assert!(new.spec.ip_families.is_empty());
        assert_eq!(new.spec.ip_family_policy, None);
        assert_eq!(lines(&new.validate_update(&old)), Vec::<String>::new());
    }

    #[test]
    fn node_ports_are_kept_on_update() {
        let mut old = web();
        old.spec.type_ = "NodePort".into();
        old.apply_defaults();
        old.spec.ports[0].node_port = 30080;
        old.spec.ports[1].node_port = 30091;
        let mut new = old.clone();
        new.spec.ports[0].node_port = 0;
        new.prepare_for_update(&old);
        assert_eq!(new.spec.ports[0].node_port, 30080);

        let mut back = old.clone();
        back.spec.type_ = "ClusterIP".into();
        back.spec.external_traffic_policy.clear();
        back.prepare_for_update(&old);
        assert!(back.spec.ports.iter().all(|p| p.node_port == 0));
        assert_eq!(lines(&back.validate_update(&old)), Vec::<String>::new());
    }

    #[test]
    fn status_is_separate() {
        let old = web();
        let mut new = old.clone();
        new.status.load_balancer.ingress.push(Default::default());
        new.status.load_balancer.ingress[0].ip = "203.0.113.5".into();
        let stored = new.status_update(&old);
        assert_eq!(stored.status.load_balancer.ingress[0].ip, "203.0.113.5");
        new.prepare_for_update(&old);
        assert!(new.status.load_balancer.ingress.is_empty());
        assert_eq!(old.field_value("spec.type").as_deref(), Some("ClusterIP"));
    }
}
