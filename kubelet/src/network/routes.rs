//! host-gw: a route `podCIDR via nodeInternalIP` to every other node's
//! pods, kept in sync with the Node list, and IP forwarding on.

use std::net::IpAddr;

use ipnet::IpNet;
use tug_api::core::Node;

/// One route to another node's pods.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodRoute {
    /// The other node's pod CIDR.
    pub cidr: IpNet,
    /// The other node's InternalIP.
    pub via: IpAddr,
}

/// The routes this node (`self_name`) should have, given every Node.
pub fn desired_routes(nodes: &[Node], self_name: &str) -> Vec<PodRoute> {
    let _ = (nodes, self_name);
    todo!("network engineer")
}
