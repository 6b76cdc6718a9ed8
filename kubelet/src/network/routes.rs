//! host-gw: a route `podCIDR via nodeInternalIP` to every other node's
//! pods, kept in sync with the Node list, and IP forwarding on.
//!
//! The routes are put in the main table with `ip route replace ... proto
//! N`, [`ROUTE_PROTO`] being a routing protocol number of our own: the
//! kernel keeps it with each route, so the applier can list exactly the
//! routes it made (`ip route show proto N`) and never deletes a route
//! someone else (an admin, another CNI, the bridge plugin) made.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::process::Command;
use tokio::sync::Notify;
use tug_api::core::Node;
use tug_client::{Api, Client, Informer, ListParams};

/// The routing protocol number tugboat's host-gw routes carry (`proto
/// 199` in `ip route`). 0-4 are the kernel's own (4 = `static`, what an
/// admin's `ip route add` gets) and `/etc/iproute2/rt_protos` names the
/// routing daemons' (zebra 11, bird 12, ..., bgp 186 to eigrp 192); 199
/// is unassigned there, so every route carrying it is ours.
pub const ROUTE_PROTO: u8 = 199;

/// How long a failed sync waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// How often the routes are re-checked without a Node change, so one
/// deleted by hand comes back.
const RESYNC: Duration = Duration::from_secs(60);

/// One route to another node's pods.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodRoute {
    /// The other node's pod CIDR.
    pub cidr: IpNet,
    /// The other node's InternalIP.
    pub via: IpAddr,
}

/// The routes this node (`self_name`) should have, given every Node.
///
/// One route per pod CIDR of every other node (`spec.podCIDRs`, or
/// `spec.podCIDR` alone), via that node's first InternalIP of the same IP
/// family. Nodes without a pod CIDR or without such an address get none;
/// unparsable values are skipped. Sorted, without duplicates.
pub fn desired_routes(nodes: &[Node], self_name: &str) -> Vec<PodRoute> {
    let mut out = BTreeSet::new();
    for node in nodes {
        if node.metadata.name == self_name {
            continue;
        }
        let cidrs: Vec<&String> = if node.spec.pod_cidrs.is_empty() {
            std::iter::once(&node.spec.pod_cidr)
                .filter(|c| !c.is_empty())
                .collect()
        } else {
            node.spec.pod_cidrs.iter().collect()
        };
        let internal: Vec<IpAddr> = node
            .status
            .addresses
            .iter()
            .filter(|a| a.type_ == "InternalIP")
            .filter_map(|a| a.address.parse().ok())
            .collect();
        for cidr in cidrs {
            let Ok(cidr) = cidr.parse::<IpNet>() else {
                continue;
            };
            let cidr = cidr.trunc();
            let via = internal
                .iter()
                .find(|ip| ip.is_ipv4() == cidr.addr().is_ipv4());
            if let Some(via) = via {
                out.insert(PodRoute { cidr, via: *via });
            }
        }
    }
    out.into_iter().collect()
}

/// Why syncing the routes failed.
#[derive(Debug, thiserror::Error)]
#[error("ip {args}: {message}")]
pub struct RouteError {
    /// The `ip` arguments that failed.
    pub args: String,
    /// Its stderr, or why it could not run.
    pub message: String,
}

/// Puts the kernel's routes of one protocol number in line with a set.
#[derive(Clone, Debug)]
pub struct RouteApplier {
    proto: u8,
}

impl Default for RouteApplier {
    fn default() -> Self {
        RouteApplier::new()
    }
}

impl RouteApplier {
    /// The applier of tugboat's routes ([`ROUTE_PROTO`]).
    pub fn new() -> RouteApplier {
        RouteApplier { proto: ROUTE_PROTO }
    }

    /// An applier owning routes of another protocol number (tests use
    /// their own so they never touch a running kubelet's routes).
    pub fn with_protocol(proto: u8) -> RouteApplier {
        RouteApplier { proto }
    }

    /// The routes of our protocol number the kernel has now (IPv4 and IPv6,
    /// main table).
    pub async fn current(&self) -> Result<Vec<PodRoute>, RouteError> {
        let mut out = Vec::new();
        for family in ["-4", "-6"] {
            let proto = self.proto.to_string();
            let json = ip(&[family, "-j", "route", "show", "proto", &proto]).await?;
            out.extend(parse_route_json(&json).map_err(|message| RouteError {
                args: format!("{family} -j route show proto {proto}"),
                message,
            })?);
        }
        out.sort();
        Ok(out)
    }

    /// Make the routes of our protocol number exactly `desired`: replace
    /// the missing or different ones, delete ours that are not wanted.
    /// Routes of other protocols are never deleted.
    pub async fn apply(&self, desired: &[PodRoute]) -> Result<(), RouteError> {
        let current = self.current().await?;
        let proto = self.proto.to_string();
        for route in desired {
            if current.contains(route) {
                continue;
            }
            let (cidr, via) = (route.cidr.to_string(), route.via.to_string());
            ip(&["route", "replace", &cidr, "via", &via, "proto", &proto]).await?;
        }
        for route in &current {
            if desired.contains(route) {
                continue;
            }
            let (cidr, via) = (route.cidr.to_string(), route.via.to_string());
            // A replace above may already have taken it over.
            match ip(&["route", "del", &cidr, "via", &via, "proto", &proto]).await {
                Err(e) if e.message.contains("No such process") => {}
                r => {
                    r?;
                }
            }
        }
        Ok(())
    }
}

/// Parse `ip -j route show` output into routes with a gateway (others,
/// such as `dev`-only routes, are not ours to have made and are skipped).
fn parse_route_json(json: &str) -> Result<Vec<PodRoute>, String> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in v.as_array().into_iter().flatten() {
        let dst = r.get("dst").and_then(|d| d.as_str()).unwrap_or_default();
        let gw = r.get("gateway").and_then(|g| g.as_str());
        let cidr = match dst {
            "default" => None,
            d if d.contains('/') => d.parse::<IpNet>().ok(),
            d => d.parse::<IpAddr>().ok().map(IpNet::from),
        };
        if let (Some(cidr), Some(via)) = (cidr, gw.and_then(|g| g.parse().ok())) {
            out.push(PodRoute { cidr, via });
        }
    }
    Ok(out)
}

async fn ip(args: &[&str]) -> Result<String, RouteError> {
    let fail = |message: String| RouteError {
        args: args.join(" "),
        message,
    };
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new("ip").args(args).kill_on_drop(true).output(),
    )
    .await
    .map_err(|_| fail("timed out".into()))?
    .map_err(|e| fail(format!("running ip: {e}")))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Turn on IP forwarding for the families asked for, without which a
/// node routes nothing between pods and other nodes. IPv6 is only
/// touched when asked for: forwarding on makes the kernel ignore router
/// advertisements, which would cost a SLAAC host its IPv6 default route.
pub fn enable_ip_forwarding(ipv4: bool, ipv6: bool) -> std::io::Result<()> {
    if ipv4 {
        write_sysctl("/proc/sys/net/ipv4/ip_forward")?;
    }
    if ipv6 {
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding")?;
    }
    Ok(())
}

fn write_sysctl(path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
    let path = path.as_ref();
    if std::fs::read_to_string(path)?.trim() == "1" {
        return Ok(());
    }
    std::fs::write(path, "1")
}

/// Keep this node's (`node_name`) host-gw routes in sync with the Node
/// list, for ever: a Node informer wakes the sync on every change and
/// every [`RESYNC`]; a failure is logged and retried after [`RETRY`].
/// Only routes of [`ROUTE_PROTO`] are ever deleted.
pub async fn run_route_sync(client: Client, node_name: String) {
    run_route_sync_with(client, node_name, RouteApplier::new()).await
}

/// [`run_route_sync`] with a given applier (tests use one of their own
/// protocol number).
pub async fn run_route_sync_with(client: Client, node_name: String, applier: RouteApplier) {
    let changed = Arc::new(Notify::new());
    let wake = changed.clone();
    let informer = Informer::new(Api::<Node>::all(client), ListParams::default())
        .on_event(move |_| wake.notify_one());
    let nodes = informer.store();
    let informer = tokio::spawn(informer.run());
    // Stop the informer when this future is dropped.
    struct Abort(tokio::task::JoinHandle<()>);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _informer = Abort(informer);
    nodes.wait_synced().await;
    loop {
        let all: Vec<Node> = nodes.list().iter().map(|n| (**n).clone()).collect();
        let desired = desired_routes(&all, &node_name);
        let mut wait = RESYNC;
        let v4 = desired.iter().any(|r| r.cidr.addr().is_ipv4());
        let v6 = desired.iter().any(|r| r.cidr.addr().is_ipv6());
        if let Err(e) = enable_ip_forwarding(v4, v6) {
            tracing::error!(error = %e, "enabling IP forwarding");
            wait = RETRY;
        }
        match applier.apply(&desired).await {
            Ok(()) => tracing::debug!(routes = desired.len(), "host-gw routes in sync"),
            Err(e) => {
                tracing::error!(error = %e, "syncing host-gw routes; retrying");
                wait = RETRY;
            }
        }
        let _ = tokio::time::timeout(wait, changed.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::NodeAddress;

    fn node(name: &str, cidrs: &[&str], addrs: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = name.into();
        n.spec.pod_cidrs = cidrs.iter().map(|c| c.to_string()).collect();
        n.spec.pod_cidr = cidrs.first().map(|c| c.to_string()).unwrap_or_default();
        n.status.addresses = addrs
            .iter()
            .map(|(t, a)| NodeAddress {
                type_: t.to_string(),
                address: a.to_string(),
            })
            .collect();
        n
    }

    fn route(cidr: &str, via: &str) -> PodRoute {
        PodRoute {
            cidr: cidr.parse().unwrap(),
            via: via.parse().unwrap(),
        }
    }

    #[test]
    fn routes_to_every_other_node_but_not_self() {
        let nodes = [
            node("a", &["10.244.0.0/24"], &[("InternalIP", "192.168.1.10")]),
            node("b", &["10.244.1.0/24"], &[("InternalIP", "192.168.1.11")]),
            node("c", &["10.244.2.0/24"], &[("InternalIP", "192.168.1.12")]),
        ];
        assert_eq!(
            desired_routes(&nodes, "a"),
            vec![
                route("10.244.1.0/24", "192.168.1.11"),
                route("10.244.2.0/24", "192.168.1.12"),
            ]
        );
    }

    #[test]
    fn nodes_without_cidr_or_internal_ip_are_skipped() {
        let nodes = [
            node("a", &["10.244.0.0/24"], &[("InternalIP", "192.168.1.10")]),
            node("no-cidr", &[], &[("InternalIP", "192.168.1.11")]),
            node(
                "no-ip",
                &["10.244.2.0/24"],
                &[("ExternalIP", "1.2.3.4"), ("Hostname", "no-ip")],
            ),
            node("bad", &["not-a-cidr"], &[("InternalIP", "192.168.1.13")]),
        ];
        assert_eq!(desired_routes(&nodes, "a"), vec![]);
    }

    #[test]
    fn dual_stack_routes_pair_each_family() {
        let nodes = [node(
            "b",
            &["10.244.1.0/24", "fd00:10:244:1::/64"],
            &[("InternalIP", "fd00::11"), ("InternalIP", "192.168.1.11")],
        )];
        assert_eq!(
            desired_routes(&nodes, "a"),
            vec![
                route("10.244.1.0/24", "192.168.1.11"),
                route("fd00:10:244:1::/64", "fd00::11"),
            ]
        );
        // An IPv6-only address cannot carry the IPv4 CIDR.
        let v6_only = [node(
            "b",
            &["10.244.1.0/24", "fd00:10:244:1::/64"],
            &[("InternalIP", "fd00::11")],
        )];
        assert_eq!(
            desired_routes(&v6_only, "a"),
            vec![route("fd00:10:244:1::/64", "fd00::11")]
        );
    }

    #[test]
    fn legacy_single_pod_cidr_is_used() {
        let mut n = node("b", &[], &[("InternalIP", "192.168.1.11")]);
        n.spec.pod_cidr = "10.244.1.0/24".into();
        assert_eq!(
            desired_routes(&[n], "a"),
            vec![route("10.244.1.0/24", "192.168.1.11")]
        );
    }

    #[test]
    fn parses_ip_json_routes_with_gateways_only() {
        let json = r#"[{"dst":"10.244.1.0/24","gateway":"192.168.1.11","dev":"eth0","protocol":"199","flags":[]},
            {"dst":"10.9.9.9","gateway":"192.168.1.1","dev":"eth0","flags":[]},
            {"dst":"10.244.0.0/24","dev":"tug0","protocol":"kernel","scope":"link","flags":[]},
            {"dst":"default","gateway":"192.168.1.1","dev":"eth0","flags":[]}]"#;
        assert_eq!(
            parse_route_json(json).unwrap(),
            vec![
                route("10.244.1.0/24", "192.168.1.11"),
                route("10.9.9.9/32", "192.168.1.1"),
            ]
        );
        assert_eq!(parse_route_json("").unwrap(), vec![]);
        assert_eq!(parse_route_json("[]\n").unwrap(), vec![]);
    }
}
