//! The default plugins, one per file, each pure over a pod and a node.
//!
//! | plugin | filter | score (weight) |
//! |---|---|---|
//! | [`NodeUnschedulable`] | cordoned nodes, unless tolerated | |
//! | [`NodeName`] | `spec.nodeName` names another node | |
//! | [`TaintToleration`] | untolerated `NoSchedule`/`NoExecute` taints | fewer untolerated `PreferNoSchedule` taints (3) |
//! | [`NodeReady`] | nodes not `Ready` | |
//! | [`NodeAffinity`] | `nodeSelector`, required node affinity | preferred node affinity terms (2) |
//! | [`NodePorts`] | host port clashes | |
//! | [`NodeResourcesFit`] | requests and pod count vs allocatable | least allocated (1) |
//! | [`BalancedAllocation`] | | cpu and memory used evenly (1) |
//! | [`SpreadByOwner`] | | fewer pods of the same owner (2) |

mod balanced;
mod node_affinity;
mod node_name;
mod node_ports;
mod node_ready;
mod node_unschedulable;
mod resources_fit;
mod spread;
mod taint_toleration;

pub use balanced::BalancedAllocation;
pub use node_affinity::{node_matches_term, NodeAffinity};
pub use node_name::NodeName;
pub use node_ports::NodePorts;
pub use node_ready::NodeReady;
pub use node_unschedulable::NodeUnschedulable;
pub use resources_fit::{LeastAllocated, NodeResourcesFit};
pub use spread::SpreadByOwner;
pub use taint_toleration::TaintToleration;

/// The reasons filters give, word for word as upstream.
pub mod reasons {
    /// NodeUnschedulable.
    pub const UNSCHEDULABLE: &str = "node(s) were unschedulable";
    /// NodeName.
    pub const NODE_NAME: &str = "node(s) didn't match the requested node name";
    /// TaintToleration.
    pub const UNTOLERATED_TAINT: &str = "node(s) had untolerated taint(s)";
    /// The node is not Ready (upstream's former CheckNodeCondition wording).
    pub const NOT_READY: &str = "node(s) were not ready";
    /// NodeAffinity.
    pub const NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
    /// NodePorts.
    pub const NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
    /// NodeResourcesFit, pod count.
    pub const TOO_MANY_PODS: &str = "Too many pods";
    /// NodeResourcesFit, CPU.
    pub const INSUFFICIENT_CPU: &str = "Insufficient cpu";
    /// NodeResourcesFit, memory.
    pub const INSUFFICIENT_MEMORY: &str = "Insufficient memory";
}
