//! Render a [`ProxyModel`] into the table kube-proxy's nftables mode
//! builds (KEP-3866, `pkg/proxy/nftables/proxier.go`), as a pure
//! function.
//!
//! Packet path for a new connection to `clusterIP:port`:
//!
//! 1. `filter-*` base chains (priority dstnat-10, before DNAT): a
//!    destination in `no-endpoint-services` / `no-endpoint-nodeports`
//!    (a service without ready endpoints) jumps to `reject-chain`, so the
//!    client gets ICMP port unreachable ("connection refused") at once
//!    instead of a timeout.
//! 2. `nat-prerouting` / `nat-output` (dstnat) → `services`: one lookup of
//!    `daddr . l4proto . dport` in the verdict map `service-ips` (and of
//!    `l4proto . dport` in `service-nodeports` for local destinations)
//!    jumps to the service port's chain.
//! 3. `service-…`: marks for masquerade when the client is outside the
//!    cluster CIDR, sends affinity hits back to their endpoint, then picks
//!    an endpoint with `numgen random mod N`.
//! 4. `endpoint-…`: hairpin (pod → its own service → itself) is marked for
//!    masquerade, the affinity set remembers the client, `dnat to ip:port`.
//! 5. `nat-postrouting` → `masquerading`: marked packets (mark 0x4000) are
//!    masqueraded, the mark cleared.

use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use crate::model::{Endpoint, ProxyModel, ServicePort, ServicePortName};
use crate::nft::ruleset::{Chain, Ruleset};

/// The mark bit that asks `masquerading` to SNAT a packet (kube-proxy's).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// Verdict map from `ip . proto . port` to the service chain.
pub const SERVICE_IPS: &str = "service-ips";
/// Verdict map from `proto . port` to the NodePort chain.
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
/// Verdict map of ClusterIP ports without ready endpoints → reject.
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
/// Verdict map of node ports without ready endpoints → reject.
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";

const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
const MASQUERADING: &str = "masquerading";
const SERVICES: &str = "services";
const SERVICE_ENDPOINTS_CHECK: &str = "service-endpoints-check";
const NODEPORT_ENDPOINTS_CHECK: &str = "nodeport-endpoints-check";
const REJECT_CHAIN: &str = "reject-chain";

/// What the rendering depends on besides the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderConfig {
    /// The table `ip <table>`.
    pub table: String,
    /// The pod range: ClusterIP traffic from outside it is masqueraded so
    /// replies come back through this node. `None`: nothing is.
    pub cluster_cidr: Option<Ipv4Net>,
}

/// The whole table for `model`.
pub fn render(model: &ProxyModel, config: &RenderConfig) -> Ruleset {
    let mut rs = Ruleset::new(&config.table);
    base_chains(&mut rs);
    for port in model.ports.values() {
        service_port(&mut rs, port, config);
    }
    rs
}

/// The fixed skeleton: base chains, dispatch chains, the four maps.
fn base_chains(rs: &mut Ruleset) {
    // Numeric priorities: nft before 1.1 accepts the names (`dstnat`,
    // `srcnat`) only on some hooks. dstnat is -100, srcnat 100; the
    // filter chains run just before DNAT (dstnat - 10), as upstream's.
    const FILTER: &str = "priority -110 ;";
    for hook in ["prerouting", "input", "forward", "output"] {
        rs.base_chain(
            &format!("filter-{hook}"),
            &format!("type filter hook {hook} {FILTER}"),
        );
    }
    rs.base_chain("nat-prerouting", "type nat hook prerouting priority -100 ;");
    rs.base_chain("nat-output", "type nat hook output priority -100 ;");
    rs.base_chain(
        "nat-postrouting",
        "type nat hook postrouting priority 100 ;",
    );

    let new_conn_check = |rs: &mut Ruleset, base: &str, check: &str| {
        rs.rule(base, format!("ct state new jump {check}"));
    };
    new_conn_check(rs, "filter-input", NODEPORT_ENDPOINTS_CHECK);
    new_conn_check(rs, "filter-input", SERVICE_ENDPOINTS_CHECK);
    new_conn_check(rs, "filter-forward", SERVICE_ENDPOINTS_CHECK);
    new_conn_check(rs, "filter-output", SERVICE_ENDPOINTS_CHECK);
    rs.rule("nat-prerouting", format!("jump {SERVICES}"));
    rs.rule("nat-output", format!("jump {SERVICES}"));
    rs.rule("nat-postrouting", format!("jump {MASQUERADING}"));

    rs.rule(
        MARK_FOR_MASQUERADE,
        format!("mark set mark or {MASQUERADE_MARK:#x}"),
    );
    rs.rule(
        MASQUERADING,
        format!("mark and {MASQUERADE_MARK:#x} == 0 return"),
    );
    rs.rule(
        MASQUERADING,
        format!("mark set mark xor {MASQUERADE_MARK:#x}"),
    );
    rs.rule(MASQUERADING, "masquerade fully-random");

    // NodePorts answer on this node's own addresses, never on loopback
    // (a packet to 127.0.0.1 cannot be DNATed off the host).
    let local = "fib daddr type local ip daddr != 127.0.0.0/8";
    rs.rule(
        SERVICES,
        format!("ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"),
    );
    rs.rule(
        SERVICES,
        format!("{local} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
    );
    rs.rule(
        SERVICE_ENDPOINTS_CHECK,
        format!("ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"),
    );
    rs.rule(
        NODEPORT_ENDPOINTS_CHECK,
        format!("{local} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
    );
    rs.rule(REJECT_CHAIN, "reject");

    let by_ip = "type ipv4_addr . inet_proto . inet_service : verdict ;";
    let by_port = "type inet_proto . inet_service : verdict ;";
    rs.map(SERVICE_IPS, by_ip);
    rs.map(SERVICE_NODEPORTS, by_port);
    rs.map(NO_ENDPOINT_SERVICES, by_ip);
    rs.map(NO_ENDPOINT_NODEPORTS, by_port);
}

/// The chains, sets and map elements of one service port.
fn service_port(rs: &mut Ruleset, port: &ServicePort, config: &RenderConfig) {
    let id = &port.id;
    let proto = id.protocol.nft();
    let ip_key = format!("{} . {proto} . {}", port.cluster_ip, id.port);
    let node_key = port.node_port.map(|np| format!("{proto} . {np}"));

    if port.endpoints.is_empty() {
        let reject = format!("goto {REJECT_CHAIN}");
        rs.element(NO_ENDPOINT_SERVICES, ip_key, reject.clone());
        if let Some(key) = node_key {
            rs.element(NO_ENDPOINT_NODEPORTS, key, reject);
        }
        return;
    }

    let svc_chain = service_chain_name(id);
    rs.element(SERVICE_IPS, ip_key, format!("goto {svc_chain}"));
    if let Some(key) = node_key {
        // Traffic from outside the node: always masquerade, so the reply
        // returns through this node to be un-NATed.
        let ext = external_chain_name(id);
        rs.rule(&ext, format!("jump {MARK_FOR_MASQUERADE}"));
        rs.rule(&ext, format!("goto {svc_chain}"));
        rs.element(SERVICE_NODEPORTS, key, format!("goto {ext}"));
    }

    // Names are computed once per endpoint: rendering 10,000 endpoints
    // is on every sync's path.
    let endpoint_chains: Vec<String> = port
        .endpoints
        .iter()
        .map(|ep| endpoint_chain_name(id, ep))
        .collect();
    let mut rules = Vec::with_capacity(port.endpoints.len() + 2);
    if let Some(cidr) = config.cluster_cidr {
        rules.push(format!(
            "ip daddr {} {proto} dport {} ip saddr != {cidr} jump {MARK_FOR_MASQUERADE}",
            port.cluster_ip, id.port
        ));
    }
    let mut affinity_sets = Vec::new();
    if let Some(timeout) = port.affinity_timeout {
        for (ep, chain) in port.endpoints.iter().zip(&endpoint_chains) {
            let set = affinity_set_name(id, ep);
            rules.push(format!("ip saddr @{set} goto {chain}"));
            rs.dynamic_set(
                &set,
                format!("type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ;"),
            );
            affinity_sets.push(set);
        }
    }
    let mut dispatch = format!("numgen random mod {} vmap {{ ", port.endpoints.len());
    for (i, chain) in endpoint_chains.iter().enumerate() {
        if i > 0 {
            dispatch.push_str(", ");
        }
        let _ = write!(dispatch, "{i} : goto {chain}");
    }
    dispatch.push_str(" }");
    rules.push(dispatch);
    rs.chains.insert(svc_chain, Chain { hook: None, rules });

    for (i, (ep, name)) in port.endpoints.iter().zip(endpoint_chains).enumerate() {
        // Hairpin: a pod reaching itself through the service is
        // masqueraded, or it would answer itself directly.
        let mut rules = vec![format!("ip saddr {} jump {MARK_FOR_MASQUERADE}", ep.ip)];
        if let Some(set) = affinity_sets.get(i) {
            rules.push(format!("update @{set} {{ ip saddr }}"));
        }
        rules.push(format!("meta l4proto {proto} dnat to {ep}"));
        rs.chains.insert(name, Chain { hook: None, rules });
    }
}

/// An 8-hex-digit hash of `text`, so names stay unique however they are
/// truncated or spelled.
fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!("{n:08X}")
}

/// `service-<hash>-ns/name/tcp/80`.
pub fn service_chain_name(id: &ServicePortName) -> String {
    let text = id.to_string();
    format!("service-{}-{text}", short_hash(&text))
}

/// `external-<hash>-ns/name/tcp/80`: NodePort traffic enters here.
pub fn external_chain_name(id: &ServicePortName) -> String {
    let text = id.to_string();
    format!("external-{}-{text}", short_hash(&text))
}

/// `endpoint-<hash>-ns/name/tcp/80__10.244.1.5/8080`.
pub fn endpoint_chain_name(id: &ServicePortName, ep: &Endpoint) -> String {
    let text = endpoint_text(id, ep);
    format!("endpoint-{}-{text}", short_hash(&text))
}

/// `affinity-<hash>-ns/name/tcp/80__10.244.1.5/8080`.
pub fn affinity_set_name(id: &ServicePortName, ep: &Endpoint) -> String {
    let text = endpoint_text(id, ep);
    format!("affinity-{}-{text}", short_hash(&text))
}

fn endpoint_text(id: &ServicePortName, ep: &Endpoint) -> String {
    format!("{id}__{}/{}", ep.ip, ep.port)
}

/// The endpoint IPs a UDP service port lost between two models, with the
/// service's ClusterIP and node port: their conntrack entries must go, or
/// the client's flow keeps being sent to the dead endpoint.
pub fn removed_udp_endpoints(
    old: &ProxyModel,
    new: &ProxyModel,
) -> Vec<(Ipv4Addr, Option<u16>, Ipv4Addr)> {
    let mut out = Vec::new();
    for (id, old_port) in &old.ports {
        if id.protocol != crate::model::Protocol::Udp {
            continue;
        }
        let kept = new.ports.get(id);
        for ep in &old_port.endpoints {
            let still = kept.is_some_and(|p| p.endpoints.iter().any(|e| e.ip == ep.ip));
            if !still {
                out.push((old_port.cluster_ip, old_port.node_port, ep.ip));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;
    use crate::nft::fixtures::config;

    fn id(name: &str, port: u16) -> ServicePortName {
        ServicePortName {
            namespace: "default".into(),
            name: name.into(),
            port,
            protocol: Protocol::Tcp,
        }
    }

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::new(10, 244, 1, last),
            port,
        }
    }

    fn sp(name: &str, ip: [u8; 4], endpoints: Vec<Endpoint>) -> ServicePort {
        ServicePort {
            id: id(name, 80),
            port_name: String::new(),
            cluster_ip: Ipv4Addr::from(ip),
            node_port: None,
            affinity_timeout: None,
            endpoints,
        }
    }

    fn model(ports: Vec<ServicePort>) -> ProxyModel {
        ProxyModel {
            ports: ports.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }

    #[test]
    fn every_endpoint_is_reachable_through_the_numgen_vmap() {
        let eps = vec![ep(2, 8080), ep(3, 8080), ep(4, 8080)];
        let rs = render(
            &model(vec![sp("web", [10, 96, 0, 10], eps.clone())]),
            &config(),
        );
        let svc = service_chain_name(&id("web", 80));
        assert_eq!(
            rs.sets[SERVICE_IPS].elements["10.96.0.10 . tcp . 80"],
            format!("goto {svc}")
        );
        let last = rs.chains[&svc].rules.last().unwrap();
        assert!(last.starts_with("numgen random mod 3 vmap {"), "{last}");
        for (i, e) in eps.iter().enumerate() {
            let chain = endpoint_chain_name(&id("web", 80), e);
            assert!(last.contains(&format!("{i} : goto {chain}")), "{last}");
            let rules = &rs.chains[&chain].rules;
            assert_eq!(
                rules.last().unwrap(),
                &format!("meta l4proto tcp dnat to {e}")
            );
            // Hairpin: a pod reaching itself through the service is masqueraded.
            assert_eq!(
                rules[0],
                format!("ip saddr {} jump mark-for-masquerade", e.ip)
            );
        }
        assert!(rs.sets[NO_ENDPOINT_SERVICES].elements.is_empty());
    }

    #[test]
    fn clusterip_traffic_from_outside_the_pod_range_is_marked_for_masquerade() {
        let rs = render(
            &model(vec![sp("web", [10, 96, 0, 10], vec![ep(2, 80)])]),
            &config(),
        );
        let svc = service_chain_name(&id("web", 80));
        assert_eq!(
            rs.chains[&svc].rules[0],
            "ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade"
        );
        assert_eq!(
            rs.chains["masquerading"].rules,
            vec![
                "mark and 0x4000 == 0 return",
                "mark set mark xor 0x4000",
                "masquerade fully-random"
            ]
        );
        assert_eq!(
            rs.chains["mark-for-masquerade"].rules,
            vec!["mark set mark or 0x4000"]
        );
        assert_eq!(
            rs.chains["nat-postrouting"].rules,
            vec!["jump masquerading"]
        );
    }

    #[test]
    fn a_service_without_ready_endpoints_rejects_instead_of_dispatching() {
        let mut p = sp("empty", [10, 96, 0, 20], vec![]);
        p.node_port = Some(30020);
        let rs = render(&model(vec![p]), &config());
        assert!(rs.sets[SERVICE_IPS].elements.is_empty());
        assert!(rs.sets[SERVICE_NODEPORTS].elements.is_empty());
        assert_eq!(
            rs.sets[NO_ENDPOINT_SERVICES].elements["10.96.0.20 . tcp . 80"],
            "goto reject-chain"
        );
        assert_eq!(
            rs.sets[NO_ENDPOINT_NODEPORTS].elements["tcp . 30020"],
            "goto reject-chain"
        );
        assert_eq!(rs.chains["reject-chain"].rules, vec!["reject"]);
        // The check runs on new connections in input, forward and output.
        for base in ["filter-input", "filter-forward", "filter-output"] {
            assert!(rs.chains[base]
                .rules
                .contains(&"ct state new jump service-endpoints-check".to_string()));
        }
        assert!(!rs
            .chains
            .keys()
            .any(|c| c.starts_with("service-0") || c.starts_with("endpoint-")));
    }

    #[test]
    fn node_ports_dispatch_through_an_external_chain_that_always_masquerades() {
        let mut p = sp("np", [10, 96, 0, 30], vec![ep(2, 80)]);
        p.node_port = Some(30080);
        let rs = render(&model(vec![p]), &config());
        let ext = external_chain_name(&id("np", 80));
        assert_eq!(
            rs.sets[SERVICE_NODEPORTS].elements["tcp . 30080"],
            format!("goto {ext}")
        );
        assert_eq!(
            rs.chains[&ext].rules,
            vec![
                "jump mark-for-masquerade".to_string(),
                format!("goto {}", service_chain_name(&id("np", 80)))
            ]
        );
        assert_eq!(
            rs.chains["services"].rules[1],
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"
        );
    }

    #[test]
    fn client_ip_affinity_checks_the_sets_first_and_updates_them_per_endpoint() {
        let mut p = sp("sticky", [10, 96, 0, 40], vec![ep(2, 80), ep(3, 80)]);
        p.affinity_timeout = Some(600);
        let rs = render(&model(vec![p]), &config());
        let svc = &rs.chains[&service_chain_name(&id("sticky", 80))].rules;
        for (i, e) in [ep(2, 80), ep(3, 80)].iter().enumerate() {
            let set = affinity_set_name(&id("sticky", 80), e);
            let chain = endpoint_chain_name(&id("sticky", 80), e);
            assert_eq!(svc[1 + i], format!("ip saddr @{set} goto {chain}"));
            assert_eq!(
                rs.sets[&set].spec,
                "type ipv4_addr ; flags dynamic,timeout ; timeout 600s ;"
            );
            assert!(
                !rs.sets[&set].managed_elements,
                "affinity sets are never flushed"
            );
            assert!(rs.chains[&chain]
                .rules
                .contains(&format!("update @{set} {{ ip saddr }}")));
        }
        assert!(svc.last().unwrap().starts_with("numgen random mod 2"));
    }

    #[test]
    fn chain_names_are_readable_stable_and_distinct() {
        let a = service_chain_name(&id("web", 80));
        assert!(
            a.starts_with("service-") && a.ends_with("-default/web/tcp/80"),
            "{a}"
        );
        assert_eq!(a, service_chain_name(&id("web", 80)));
        assert_ne!(a, service_chain_name(&id("web", 81)));
        let e = endpoint_chain_name(&id("web", 80), &ep(2, 8080));
        assert!(e.ends_with("-default/web/tcp/80__10.244.1.2/8080"), "{e}");
    }

    #[test]
    fn removed_udp_endpoints_are_listed_for_conntrack_cleanup() {
        let mut a = sp("dns", [10, 96, 0, 53], vec![ep(2, 53), ep(3, 53)]);
        a.id.protocol = Protocol::Udp;
        a.node_port = Some(30053);
        let mut b = a.clone();
        b.endpoints = vec![ep(3, 53)];
        let old = model(vec![a.clone(), sp("web", [10, 96, 0, 1], vec![ep(9, 80)])]);
        let new = model(vec![b]);
        assert_eq!(
            removed_udp_endpoints(&old, &new),
            vec![(Ipv4Addr::new(10, 96, 0, 53), Some(30053), ep(2, 53).ip)],
            "TCP endpoints are left alone"
        );
    }
}
