//! [`NodeInfo`]: a node and the running total of what the pods on it
//! (bound and assumed) take from it, kept incrementally so that a
//! scheduling decision never walks the pods.

use std::collections::HashMap;
use std::sync::Arc;

use tug_api::core::Node;
use tug_api::quantity::Quantity;

use crate::pod_info::{HostPort, PodInfo, Resources};

/// What a node offers pods: `status.allocatable` (each resource falling
/// back to `status.capacity` when allocatable does not list it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocatable {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// How many pods.
    pub pods: i64,
}

impl Allocatable {
    /// The node's allocatable resources.
    pub fn of(node: &Node) -> Allocatable {
        let get = |name: &str| {
            node.status
                .allocatable
                .get(name)
                .or_else(|| node.status.capacity.get(name))
        };
        Allocatable {
            milli_cpu: get("cpu").map_or(0, Quantity::milli_value),
            memory: get("memory").map_or(0, Quantity::value),
            pods: get("pods").map_or(0, Quantity::value),
        }
    }

    /// CPU and memory.
    pub fn resources(&self) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu,
            memory: self.memory,
        }
    }
}

/// A node and the pods the scheduler counts on it.
#[derive(Debug, Default)]
pub struct NodeInfo {
    /// The Node object; `None` while pods name a node the cache has not
    /// seen (or no longer sees).
    node: Option<Arc<Node>>,
    allocatable: Allocatable,
    requested: Resources,
    non_zero_requested: Resources,
    pod_count: usize,
    /// (protocol, port) → host IP → how many pods bind it.
    host_ports: HashMap<(String, i32), HashMap<String, u32>>,
    /// Spread group → how many of its pods are here.
    spread: HashMap<String, u32>,
}

impl NodeInfo {
    /// Info for `node`, with no pods yet.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo::default();
        info.set_node(Some(node));
        info
    }

    /// Replace (or drop) the Node object, keeping the pods.
    pub fn set_node(&mut self, node: Option<Arc<Node>>) {
        self.allocatable = node.as_deref().map(Allocatable::of).unwrap_or_default();
        self.node = node;
    }

    /// The Node object, if known.
    pub fn node(&self) -> Option<&Arc<Node>> {
        self.node.as_ref()
    }

    /// The node's name (empty when unknown).
    pub fn name(&self) -> &str {
        self.node
            .as_deref()
            .map_or("", |n| n.metadata.name.as_str())
    }

    /// What the node offers.
    pub fn allocatable(&self) -> Allocatable {
        self.allocatable
    }

    /// The sum of the requests of the pods here.
    pub fn requested(&self) -> Resources {
        self.requested
    }

    /// The same sum with default requests for containers that set none.
    pub fn non_zero_requested(&self) -> Resources {
        self.non_zero_requested
    }

    /// How many pods are here.
    pub fn pod_count(&self) -> usize {
        self.pod_count
    }

    /// How many pods of spread group `key` are here.
    pub fn spread_count(&self, key: &str) -> u32 {
        self.spread.get(key).copied().unwrap_or(0)
    }

    /// Whether binding `port` would clash with a pod here: the same
    /// protocol and port on the same address, or on every address
    /// (`0.0.0.0`) on either side (upstream `HostPortInfo.CheckConflict`).
    pub fn port_conflicts(&self, port: &HostPort) -> bool {
        let Some(ips) = self.host_ports.get(&(port.protocol.clone(), port.port)) else {
            return false;
        };
        port.ip == "0.0.0.0" || ips.contains_key("0.0.0.0") || ips.contains_key(&port.ip)
    }

    /// Count `pod` here.
    pub fn add_pod(&mut self, pod: &PodInfo) {
        self.requested = self.requested.plus(pod.requests);
        self.non_zero_requested = self.non_zero_requested.plus(pod.non_zero_requests);
        self.pod_count += 1;
        for p in &pod.host_ports {
            *self
                .host_ports
                .entry((p.protocol.clone(), p.port))
                .or_default()
                .entry(p.ip.clone())
                .or_default() += 1;
        }
        if let Some(key) = &pod.spread_key {
            *self.spread.entry(key.clone()).or_default() += 1;
        }
    }

    /// Stop counting `pod` here (it must have been added).
    pub fn remove_pod(&mut self, pod: &PodInfo) {
        self.requested = self.requested.minus(pod.requests);
        self.non_zero_requested = self.non_zero_requested.minus(pod.non_zero_requests);
        self.pod_count = self.pod_count.saturating_sub(1);
        for p in &pod.host_ports {
            let slot = (p.protocol.clone(), p.port);
            if let Some(ips) = self.host_ports.get_mut(&slot) {
                if let Some(n) = ips.get_mut(&p.ip) {
                    *n -= 1;
                    if *n == 0 {
                        ips.remove(&p.ip);
                    }
                }
                if ips.is_empty() {
                    self.host_ports.remove(&slot);
                }
            }
        }
        if let Some(key) = &pod.spread_key {
            if let Some(n) = self.spread.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    self.spread.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod_info, with_host_port};

    #[test]
    fn totals_follow_pods_in_and_out() {
        let mut info = NodeInfo::new(Arc::new(node("n1", "4", "8Gi", 110)));
        assert_eq!(
            info.allocatable(),
            Allocatable {
                milli_cpu: 4000,
                memory: 8 << 30,
                pods: 110
            }
        );
        let a = pod_info("a", "500m", "1Gi");
        let b = pod_info("b", "", "");
        info.add_pod(&a);
        info.add_pod(&b);
        assert_eq!(info.pod_count(), 2);
        assert_eq!(info.requested().milli_cpu, 500);
        assert_eq!(info.non_zero_requested().milli_cpu, 600);
        info.remove_pod(&a);
        assert_eq!(info.requested(), Resources::default());
        assert_eq!(info.pod_count(), 1);
    }

    #[test]
    fn host_ports_clash_on_the_same_address_or_the_wildcard() {
        let mut info = NodeInfo::new(Arc::new(node("n1", "4", "8Gi", 110)));
        let on_ip = with_host_port(pod_info("a", "", ""), "TCP", "10.0.0.1", 80);
        info.add_pod(&on_ip);
        let port = |proto: &str, ip: &str, port| HostPort {
            protocol: proto.into(),
            ip: ip.into(),
            port,
        };
        assert!(info.port_conflicts(&port("TCP", "10.0.0.1", 80)));
        assert!(info.port_conflicts(&port("TCP", "0.0.0.0", 80)));
        assert!(!info.port_conflicts(&port("TCP", "10.0.0.2", 80)));
        assert!(!info.port_conflicts(&port("UDP", "10.0.0.1", 80)));
        assert!(!info.port_conflicts(&port("TCP", "10.0.0.1", 81)));
        info.remove_pod(&on_ip);
        assert!(!info.port_conflicts(&port("TCP", "0.0.0.0", 80)));

        let wildcard = with_host_port(pod_info("b", "", ""), "TCP", "0.0.0.0", 80);
        info.add_pod(&wildcard);
        assert!(info.port_conflicts(&port("TCP", "10.0.0.9", 80)));
    }
}
