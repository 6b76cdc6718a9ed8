//! The settings of one node, as the flags give them: its name and
//! address, what it registers with, and its timings. A process running
//! `--hollow-nodes N` holds N of these, one per node.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use tug_api::core::Taint;
use tug_api::Quantity;

use crate::node::machine::MachineIds;

/// What the node offers pods (capacity = allocatable for hollow nodes).
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    /// CPU, e.g. `4`.
    pub cpu: Quantity,
    /// Memory, e.g. `8Gi`.
    pub memory: Quantity,
    /// The most pods the node runs.
    pub pods: u32,
}

/// Everything one node needs to know about itself.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Node's name.
    pub name: String,
    /// Its `InternalIP`.
    pub ip: IpAddr,
    /// Labels it registers with (defaults included).
    pub labels: BTreeMap<String, String>,
    /// Taints it registers with.
    pub taints: Vec<Taint>,
    /// Capacity and allocatable.
    pub capacity: Capacity,
    /// How often the Lease is renewed.
    pub lease_renew_interval: Duration,
    /// `leaseDurationSeconds` of the Lease.
    pub lease_duration_seconds: i32,
    /// How often the node status is computed (and written if it changed).
    pub status_update_frequency: Duration,
    /// How often the node status is written even when it did not change.
    pub status_report_frequency: Duration,
    /// The base of the CrashLoopBackOff delay.
    pub crash_backoff: Duration,
    /// Workers syncing this node's pods concurrently.
    pub pod_workers: usize,
    /// `nodeInfo.bootID`: the machine's for a real node; for hollow
    /// nodes new for every start of the process.
    pub boot_id: String,
    /// The kubelet's HTTP port, reported as
    /// `daemonEndpoints.kubeletEndpoint.Port` (where the apiserver fetches
    /// logs); 0 when no server runs (hollow nodes).
    pub kubelet_port: u16,
    /// The real machine behind the node; `None` for hollow nodes, which
    /// report made-up identities and never pressure.
    pub machine: Option<MachineConfig>,
}

/// What a node running on a real machine knows of it beyond capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineConfig {
    /// The kubelet's state directory: its filesystem's free space decides
    /// `DiskPressure`.
    pub root_dir: PathBuf,
    /// `machineID` and `systemUUID` (and the boot id) in `nodeInfo`.
    pub ids: MachineIds,
    /// Below these, the node reports memory or disk pressure.
    pub eviction: crate::node::eviction::EvictionThresholds,
}

/// The labels every kubelet puts on its Node, next to the user's.
pub fn default_labels(node_name: &str) -> BTreeMap<String, String> {
    let arch = go_arch();
    BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), node_name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch.to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch.to_string()),
    ])
}

/// This machine's architecture as Go (and so Kubernetes) spells it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The names of the nodes a process hosts: `base` for one node, else
/// `base-0` .. `base-(n-1)`.
pub fn hollow_node_names(base: &str, n: usize) -> Vec<String> {
    if n <= 1 {
        vec![base.to_string()]
    } else {
        (0..n).map(|i| format!("{base}-{i}")).collect()
    }
}

/// The IPs of the nodes named `names`: from `base` counting up (one node
/// gets `base` itself) or, without one, synthesised in `10.200.0.0/16`
/// from each name's hash — the same name always gets the same IP, and the
/// nodes of one process never share one.
pub fn node_ips(names: &[String], base: Option<IpAddr>) -> Vec<IpAddr> {
    match base {
        Some(base) => (0..names.len()).map(|i| add(base, i as u128)).collect(),
        None => synthesize_ips(names),
    }
}

fn add(ip: IpAddr, n: u128) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4).wrapping_add(n as u32))),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6).wrapping_add(n))),
    }
}

/// Slots in `10.200.0.0/16` with a last octet of 1..=254.
const SLOTS: u32 = 256 * 254;

fn synthesize_ips(names: &[String]) -> Vec<IpAddr> {
    let mut used = HashSet::new();
    names
        .iter()
        .map(|name| {
            let mut slot = fnv1a(name) % SLOTS;
            loop {
                let ip = IpAddr::V4(Ipv4Addr::new(
                    10,
                    200,
                    (slot / 254) as u8,
                    (slot % 254 + 1) as u8,
                ));
                if used.insert(ip) {
                    return ip;
                }
                slot = (slot + 1) % SLOTS;
            }
        })
        .collect()
}

/// 32-bit FNV-1a.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A random UUID-shaped id (`bootID`).
pub fn random_id() -> String {
    use rand::Rng;
    let b: [u8; 16] = rand::thread_rng().gen();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A node's settings with the defaults the flags have, for tests.
#[cfg(test)]
pub(crate) fn test_config(name: &str) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        ip: "10.200.0.7".parse().unwrap(),
        labels: default_labels(name),
        taints: vec![],
        capacity: Capacity {
            cpu: Quantity("4".into()),
            memory: Quantity("8Gi".into()),
            pods: 110,
        },
        lease_renew_interval: Duration::from_secs(10),
        lease_duration_seconds: 40,
        status_update_frequency: Duration::from_secs(10),
        status_report_frequency: Duration::from_secs(300),
        crash_backoff: Duration::from_secs(10),
        pod_workers: 4,
        boot_id: "boot".into(),
        kubelet_port: 0,
        machine: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_keeps_its_name_many_get_an_index() {
        assert_eq!(hollow_node_names("n", 1), vec!["n"]);
        assert_eq!(hollow_node_names("n", 3), vec!["n-0", "n-1", "n-2"]);
    }

    #[test]
    fn synthesised_ips_are_stable_and_distinct() {
        let names = hollow_node_names("hollow", 2000);
        let ips = node_ips(&names, None);
        let distinct: HashSet<_> = ips.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert_eq!(
            ips,
            node_ips(&names, None),
            "the same names get the same IPs"
        );
        for ip in &ips {
            let IpAddr::V4(v4) = ip else {
                panic!("IPv4 expected")
            };
            let [a, b, _, d] = v4.octets();
            assert_eq!((a, b), (10, 200));
            assert!((1..=254).contains(&d));
        }
    }

    #[test]
    fn an_explicit_ip_counts_up() {
        let names = hollow_node_names("n", 3);
        let ips = node_ips(&names, Some("192.168.1.10".parse().unwrap()));
        let want: Vec<IpAddr> = ["192.168.1.10", "192.168.1.11", "192.168.1.12"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(ips, want);
    }

    #[test]
    fn default_labels_name_the_host_os_and_arch() {
        let l = default_labels("node-1");
        assert_eq!(l["kubernetes.io/hostname"], "node-1");
        assert_eq!(l["kubernetes.io/os"], "linux");
        assert!(!l["kubernetes.io/arch"].is_empty());
    }

    #[test]
    fn random_ids_look_like_uuids() {
        let id = random_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, random_id());
    }
}
