//! What a Service's Endpoints should hold, computed from its pods: which
//! pods count, which of their IPs and ports, ready or not, packed into
//! subsets in one canonical order (upstream `endpoints_controller.go`
//! `syncService` with `endpoints.RepackSubsets` and `truncateEndpoints`).
//!
//! Pure functions only, so that the same pods always give the same
//! subsets and the controller writes only when something really changed.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use tug_api::core::{
    is_pod_ready, is_pod_terminal, EndpointAddress, EndpointPort, EndpointSubset, ObjectReference,
    Pod, Service, ServicePort,
};
use tug_api::IntOrString;

/// At most this many addresses go into one Endpoints object.
pub const MAX_CAPACITY: usize = 1000;
/// Set (to `truncated`) on an Endpoints object that hit [`MAX_CAPACITY`].
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// Set (empty) on the Endpoints of a headless Service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// `ShouldPodBeInEndpoints`: not finished, has an IP, and not terminating
/// (unless the service publishes not-ready addresses, which keeps
/// terminating pods too).
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_pod_terminal(pod) {
        return false;
    }
    if pod.status.pod_ip.is_empty() && pod.status.pod_ips.is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// `podutil.FindPort`: a numeric targetPort is used as is; a named one is
/// the container port of that name and the service port's protocol.
/// `None` when the pod has no such port.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        IntOrString::Int(0) => Some(port.port),
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(name) if name.is_empty() => Some(port.port),
        IntOrString::String(name) => {
            let wanted = protocol_or_tcp(&port.protocol);
            // Sidecars (init containers that keep running) serve ports too.
            let sidecars = pod
                .spec
                .init_containers
                .iter()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            pod.spec
                .containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter())
                .find(|p| p.name == *name && protocol_or_tcp(&p.protocol) == wanted)
                .map(|p| p.container_port)
        }
    }
}

fn protocol_or_tcp(p: &str) -> &str {
    if p.is_empty() {
        "TCP"
    } else {
        p
    }
}

/// Whether the service wants IPv6 addresses (else IPv4); `None` when it
/// does not say (a headless service without `ipFamilies`).
fn service_wants_ipv6(svc: &Service) -> Option<bool> {
    if let Some(family) = svc.spec.ip_families.first() {
        return Some(family == "IPv6");
    }
    svc.spec
        .cluster_ip
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.is_ipv6())
}

/// The pod's IP of the service's family (`podToEndpointAddressForService`).
fn pod_ip_for(svc: &Service, pod: &Pod) -> Option<String> {
    let mut ips: Vec<&str> = pod.status.pod_ips.iter().map(|e| e.ip.as_str()).collect();
    if ips.is_empty() && !pod.status.pod_ip.is_empty() {
        ips.push(&pod.status.pod_ip);
    }
    match service_wants_ipv6(svc) {
        None => ips.first().map(|ip| ip.to_string()),
        Some(v6) => ips
            .into_iter()
            .find(|ip| ip.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6() == v6))
            .map(str::to_string),
    }
}

/// The address a pod contributes: its IP, node and a reference to it; the
/// pod's hostname when it names this service as its subdomain.
fn address_for(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let ip = pod_ip_for(svc, pod)?;
    let hostname = if !pod.spec.hostname.is_empty()
        && pod.spec.subdomain == svc.metadata.name
        && pod.metadata.namespace == svc.metadata.namespace
    {
        pod.spec.hostname.clone()
    } else {
        String::new()
    };
    Some(EndpointAddress {
        ip,
        hostname,
        node_name: Some(pod.spec.node_name.clone()).filter(|n| !n.is_empty()),
        target_ref: Some(ObjectReference {
            kind: "Pod".into(),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
    })
}

/// The subsets of `svc`'s Endpoints given the pods its selector matches,
/// in canonical (repacked, sorted) form, not yet truncated.
pub fn desired_subsets<P: Borrow<Pod>>(svc: &Service, pods: &[P]) -> Vec<EndpointSubset> {
    let tolerate_unready = svc.spec.publish_not_ready_addresses;
    let headless = svc.spec.cluster_ip == "None";
    let mut raw: Vec<EndpointSubset> = Vec::new();
    for pod in pods.iter().map(Borrow::borrow) {
        if !should_pod_be_in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let Some(address) = address_for(svc, pod) else {
            continue;
        };
        let ready = tolerate_unready || is_pod_ready(pod);
        let subset = |ports: Vec<EndpointPort>| {
            if ready {
                EndpointSubset {
                    addresses: vec![address.clone()],
                    ports,
                    ..Default::default()
                }
            } else {
                EndpointSubset {
                    not_ready_addresses: vec![address.clone()],
                    ports,
                    ..Default::default()
                }
            }
        };
        if svc.spec.ports.is_empty() {
            // A headless service may have no ports; others get nothing.
            if headless {
                raw.push(subset(Vec::new()));
            }
            continue;
        }
        for sp in &svc.spec.ports {
            let Some(port) = find_port(pod, sp) else {
                continue;
            };
            raw.push(subset(vec![EndpointPort {
                name: sp.name.clone(),
                port,
                protocol: sp.protocol.clone(),
                app_protocol: sp.app_protocol.clone(),
            }]));
        }
    }
    repack(raw)
}

/// An address's identity: the same IP from two pods stays two addresses.
type AddressKey = (String, String);
/// An `EndpointPort` as an ordered key (`-1` is the "no ports" sentinel).
type PortKey = (String, i32, String, Option<String>);

fn address_key(a: &EndpointAddress) -> AddressKey {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .map(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone(),
        p.port,
        p.protocol.clone(),
        p.app_protocol.clone(),
    )
}

/// `RepackSubsets`: expand subsets to (port → addresses with readiness),
/// then group the ports that have exactly the same addresses into one
/// subset. Pods whose named ports resolve differently end up in different
/// subsets. An address ready for a port in one subset and not ready in
/// another counts as ready. The output is sorted: subsets by their
/// addresses, addresses by IP then pod UID, ports by name then number.
pub fn repack(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    let no_port: PortKey = (String::new(), -1, String::new(), None);
    let mut all: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    let mut by_port: BTreeMap<PortKey, (Option<EndpointPort>, BTreeMap<AddressKey, bool>)> =
        BTreeMap::new();
    for subset in subsets {
        let ports: Vec<(PortKey, Option<EndpointPort>)> = if subset.ports.is_empty() {
            vec![(no_port.clone(), None)]
        } else {
            subset
                .ports
                .iter()
                .map(|p| (port_key(p), Some(p.clone())))
                .collect()
        };
        let addresses = subset
            .addresses
            .iter()
            .map(|a| (a, true))
            .chain(subset.not_ready_addresses.iter().map(|a| (a, false)));
        for (address, ready) in addresses {
            let key = address_key(address);
            all.entry(key.clone()).or_insert_with(|| address.clone());
            for (pk, port) in &ports {
                let entry = by_port
                    .entry(pk.clone())
                    .or_insert_with(|| (port.clone(), BTreeMap::new()));
                let was_ready = entry.1.entry(key.clone()).or_insert(ready);
                *was_ready |= ready;
            }
        }
    }
    // Address set (with readiness) → the ports served by exactly that set.
    let mut by_addresses: BTreeMap<Vec<(AddressKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (_, (port, addresses)) in by_port {
        let set: Vec<(AddressKey, bool)> = addresses.into_iter().collect();
        let ports = by_addresses.entry(set).or_default();
        ports.extend(port);
    }
    by_addresses
        .into_iter()
        .map(|(set, mut ports)| {
            ports.sort_by_key(port_key);
            let mut subset = EndpointSubset {
                ports,
                ..Default::default()
            };
            for (key, ready) in set {
                let address = all[&key].clone();
                if ready {
                    subset.addresses.push(address);
                } else {
                    subset.not_ready_addresses.push(address);
                }
            }
            subset
        })
        .collect()
}

/// `truncateEndpoints`: keep at most [`MAX_CAPACITY`] addresses, ready
/// ones first, each subset keeping its share (rounded up; the last subset
/// gets what is left). Returns whether anything was cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let total_ready: usize = subsets.iter().map(|s| s.addresses.len()).sum();
    let total_not_ready: usize = subsets.iter().map(|s| s.not_ready_addresses.len()).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    let last = subsets.len().saturating_sub(1);
    for (i, subset) in subsets.iter_mut().enumerate() {
        let in_subset = if truncate_ready {
            subset.addresses.len()
        } else {
            subset.not_ready_addresses.len()
        };
        let share = if i == last {
            can_be_added
        } else {
            (in_subset * max).div_ceil(total)
        };
        let keep = share.min(can_be_added);
        if truncate_ready {
            subset.addresses.truncate(keep);
            subset.not_ready_addresses.clear();
            can_be_added -= subset.addresses.len();
        } else {
            subset.not_ready_addresses.truncate(keep);
            can_be_added -= subset.not_ready_addresses.len();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10", "ports": ports}
        }))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool, ports: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "c", "image": "x", "ports": ports}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready",
                                       "status": if ready { "True" } else { "False" }}]}
        }))
        .unwrap()
    }

    fn ips(addresses: &[EndpointAddress]) -> Vec<&str> {
        addresses.iter().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_pods_are_addresses_the_rest_not_ready() {
        let svc =
            service(json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]));
        let pods = vec![
            pod("b", "10.244.0.3", true, json!([])),
            pod("a", "10.244.0.2", false, json!([])),
            pod("c", "10.244.0.1", true, json!([])),
        ];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.1", "10.244.0.3"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.244.0.2"]);
        assert_eq!(
            subsets[0].ports,
            vec![EndpointPort {
                name: "http".into(),
                port: 8080,
                protocol: "TCP".into(),
                app_protocol: None
            }]
        );
        let a = &subsets[0].addresses[0];
        assert_eq!(a.node_name.as_deref(), Some("node-1"));
        let r = a.target_ref.as_ref().unwrap();
        assert_eq!(
            (r.kind.as_str(), r.name.as_str(), r.uid.as_str()),
            ("Pod", "c", "uid-c")
        );
    }

    #[test]
    fn publish_not_ready_addresses_puts_everyone_in_addresses() {
        let mut svc = service(json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
        svc.spec.publish_not_ready_addresses = true;
        let mut terminating = pod("t", "10.244.0.9", false, json!([]));
        terminating.metadata.deletion_timestamp = Some(tug_api::Time::now());
        let pods = vec![pod("a", "10.244.0.2", false, json!([])), terminating];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.2", "10.244.0.9"]);
        assert!(subsets[0].not_ready_addresses.is_empty());
    }

    #[test]
    fn terminating_finished_and_ipless_pods_are_left_out() {
        let svc = service(json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
        let mut terminating = pod("t", "10.244.0.9", true, json!([]));
        terminating.metadata.deletion_timestamp = Some(tug_api::Time::now());
        let mut done = pod("d", "10.244.0.8", false, json!([]));
        done.status.phase = "Succeeded".into();
        let mut no_ip = pod("n", "", false, json!([]));
        no_ip.status.pod_ips.clear();
        let pods = vec![terminating, done, no_ip];
        assert!(desired_subsets(&svc, &pods).is_empty());
    }

    #[test]
    fn named_ports_resolve_per_pod_into_separate_subsets() {
        let svc = service(json!([
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
            {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}
        ]));
        let pods = vec![
            pod(
                "a",
                "10.244.0.2",
                true,
                json!([{"name": "web", "containerPort": 8080, "protocol": "TCP"}]),
            ),
            pod(
                "b",
                "10.244.0.3",
                true,
                json!([{"name": "web", "containerPort": 8080}]),
            ),
            pod(
                "c",
                "10.244.0.4",
                true,
                json!([{"name": "web", "containerPort": 9000, "protocol": "TCP"}]),
            ),
            // No port named "web": only the numeric port.
            pod("d", "10.244.0.5", true, json!([])),
            // Same name, wrong protocol: no match.
            pod(
                "e",
                "10.244.0.6",
                true,
                json!([{"name": "web", "containerPort": 8080, "protocol": "UDP"}]),
            ),
        ];
        let subsets = desired_subsets(&svc, &pods);
        let summary: Vec<(Vec<&str>, Vec<i32>)> = subsets
            .iter()
            .map(|s| (ips(&s.addresses), s.ports.iter().map(|p| p.port).collect()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (vec!["10.244.0.2", "10.244.0.3"], vec![8080]),
                (
                    vec![
                        "10.244.0.2",
                        "10.244.0.3",
                        "10.244.0.4",
                        "10.244.0.5",
                        "10.244.0.6"
                    ],
                    vec![9090]
                ),
                (vec!["10.244.0.4"], vec![9000]),
            ]
        );
    }

    #[test]
    fn ports_shared_by_the_same_pods_share_a_subset() {
        let svc = service(json!([
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
        ]));
        let pods = vec![
            pod("a", "10.244.0.2", true, json!([])),
            pod("b", "10.244.0.3", false, json!([])),
        ];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(subsets.len(), 1);
        let names: Vec<&str> = subsets[0].ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["http", "https"]);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.244.0.3"]);
    }

    #[test]
    fn output_does_not_depend_on_pod_order() {
        let svc =
            service(json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"}]));
        let mut pods: Vec<Pod> = (0..20)
            .map(|i| {
                let port = if i % 3 == 0 { 8080 } else { 9090 };
                pod(
                    &format!("p{i}"),
                    &format!("10.244.1.{i}"),
                    i % 2 == 0,
                    json!([{"name": "web", "containerPort": port, "protocol": "TCP"}]),
                )
            })
            .collect();
        let first = desired_subsets(&svc, &pods);
        pods.reverse();
        assert_eq!(desired_subsets(&svc, &pods), first);
    }

    #[test]
    fn headless_services_without_ports_still_list_pods() {
        let mut svc = service(json!([]));
        svc.spec.cluster_ip = "None".into();
        let mut p = pod("a", "10.244.0.2", true, json!([]));
        p.spec.hostname = "a".into();
        p.spec.subdomain = "web".into();
        let subsets = desired_subsets(&svc, &[p.clone()]);
        assert_eq!(subsets.len(), 1);
        assert!(subsets[0].ports.is_empty());
        assert_eq!(subsets[0].addresses[0].hostname, "a");
        // A service with a cluster IP and no ports gets nothing.
        let plain = service(json!([]));
        assert!(desired_subsets(&plain, &[p]).is_empty());
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let address = |i: usize| EndpointAddress {
            ip: format!("10.0.{}.{}", i / 256, i % 256),
            ..Default::default()
        };
        let mut subsets = vec![
            EndpointSubset {
                addresses: (0..600).map(address).collect(),
                not_ready_addresses: (600..900).map(address).collect(),
                ..Default::default()
            },
            EndpointSubset {
                addresses: (900..1100).map(address).collect(),
                not_ready_addresses: (1100..1300).map(address).collect(),
                ..Default::default()
            },
        ];
        assert!(truncate(&mut subsets));
        let ready: usize = subsets.iter().map(|s| s.addresses.len()).sum();
        let not_ready: usize = subsets.iter().map(|s| s.not_ready_addresses.len()).sum();
        assert_eq!((ready, not_ready), (800, 200));
        // 300 of 500 not-ready addresses are in the first subset: 3/5 of 200.
        assert_eq!(subsets[0].not_ready_addresses.len(), 120);

        let mut small = vec![EndpointSubset {
            addresses: (0..10).map(address).collect(),
            ..Default::default()
        }];
        assert!(!truncate(&mut small));
        assert_eq!(small[0].addresses.len(), 10);
    }
}
