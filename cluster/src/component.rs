//! The processes a cluster is made of: their roles, their names, and how
//! nodes are spread over kubelet processes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bins;

/// What a process does in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The etcd member (with `--store etcd`).
    Etcd,
    /// The API server.
    ApiServer,
    /// A scheduler.
    Scheduler,
    /// A controller-manager.
    ControllerManager,
    /// A kubelet hosting one or more nodes.
    Kubelet,
    /// A node's `tug-proxy` (netns nodes).
    Proxy,
}

impl Role {
    /// The program that plays this role.
    pub fn binary_name(self) -> &'static str {
        match self {
            Role::Etcd => bins::ETCD,
            Role::ApiServer => bins::APISERVER,
            Role::Scheduler => bins::SCHEDULER,
            Role::ControllerManager => bins::CONTROLLER_MANAGER,
            Role::Kubelet => bins::KUBELET,
            Role::Proxy => bins::PROXY,
        }
    }

    /// The leader-election Lease (in `kube-system`) of the role, if it
    /// elects a leader.
    pub fn lease_name(self) -> Option<&'static str> {
        match self {
            Role::Scheduler => Some("tug-scheduler"),
            Role::ControllerManager => Some("tug-controller-manager"),
            _ => None,
        }
    }
}

/// A component's name within its cluster: `etcd`, `apiserver`,
/// `scheduler-0`, `controller-manager-1`, `kubelet-node-2`, `proxy-node-2`. Also the name
/// of its log file, `logs/<id>.log`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ComponentId(String);

impl ComponentId {
    /// The etcd member.
    pub fn etcd() -> ComponentId {
        ComponentId("etcd".into())
    }
    /// The API server.
    pub fn apiserver() -> ComponentId {
        ComponentId("apiserver".into())
    }
    /// The `index`th scheduler, from 0.
    pub fn scheduler(index: usize) -> ComponentId {
        ComponentId(format!("scheduler-{index}"))
    }
    /// The `index`th controller-manager, from 0.
    pub fn controller_manager(index: usize) -> ComponentId {
        ComponentId(format!("controller-manager-{index}"))
    }
    /// The kubelet process whose `--node-name` is `node_name`.
    pub fn kubelet(node_name: &str) -> ComponentId {
        ComponentId(format!("kubelet-{node_name}"))
    }
    /// The `tug-proxy` of node `node_name`.
    pub fn proxy(node_name: &str) -> ComponentId {
        ComponentId(format!("proxy-{node_name}"))
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ComponentId {
    fn from(s: &str) -> Self {
        ComponentId(s.to_string())
    }
}

/// The nodes one kubelet process hosts: `tug-kubelet --node-name NAME
/// --hollow-nodes COUNT` runs node `NAME` when COUNT is 1, else nodes
/// `NAME-0` .. `NAME-(COUNT-1)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// `--node-name`.
    pub name: String,
    /// `--hollow-nodes`.
    pub count: usize,
}

impl NodeGroup {
    /// One node named `name` in its own process.
    pub fn single(name: &str) -> NodeGroup {
        NodeGroup {
            name: name.to_string(),
            count: 1,
        }
    }

    /// The names of the Nodes the process registers.
    pub fn node_names(&self) -> Vec<String> {
        if self.count == 1 {
            vec![self.name.clone()]
        } else {
            (0..self.count)
                .map(|i| format!("{}-{i}", self.name))
                .collect()
        }
    }
}

/// Spread `nodes` nodes over kubelet processes of at most `per_process`
/// each. One per process gives nodes `node-0`, `node-1`, ...; several per
/// process give process `g` the nodes `node-g-0`, `node-g-1`, ...
pub fn node_groups(nodes: usize, per_process: usize) -> Vec<NodeGroup> {
    let per_process = per_process.max(1);
    if per_process == 1 {
        return (0..nodes)
            .map(|i| NodeGroup::single(&format!("node-{i}")))
            .collect();
    }
    (0..nodes.div_ceil(per_process))
        .map(|g| NodeGroup {
            name: format!("node-{g}"),
            count: per_process.min(nodes - g * per_process),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(groups: &[NodeGroup]) -> Vec<String> {
        groups.iter().flat_map(NodeGroup::node_names).collect()
    }

    #[test]
    fn one_process_per_node_by_default() {
        let groups = node_groups(3, 1);
        assert_eq!(names(&groups), ["node-0", "node-1", "node-2"]);
        assert!(groups.iter().all(|g| g.count == 1));
    }

    #[test]
    fn many_hollow_nodes_per_process() {
        let groups = node_groups(5, 2);
        assert_eq!(
            groups.iter().map(|g| g.count).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        // The kubelet names a lone node after --node-name itself.
        assert_eq!(
            names(&groups),
            ["node-0-0", "node-0-1", "node-1-0", "node-1-1", "node-2"]
        );
        let groups = node_groups(500, 100);
        assert_eq!(groups.len(), 5);
        assert_eq!(names(&groups).len(), 500);
    }

    #[test]
    fn ids_name_the_log_files() {
        assert_eq!(ComponentId::scheduler(1).as_str(), "scheduler-1");
        assert_eq!(ComponentId::kubelet("node-0").to_string(), "kubelet-node-0");
        assert_eq!(ComponentId::proxy("node-0").as_str(), "proxy-node-0");
        assert_eq!(Role::Scheduler.lease_name(), Some("tug-scheduler"));
        assert_eq!(Role::Kubelet.lease_name(), None);
    }
}
