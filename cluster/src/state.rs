//! `cluster.json`: what the launcher started, so a later `tugctl cluster
//! status` or `down` (another process) can find, check and stop it.
//!
//! It is rewritten (atomically: a temporary file renamed over it) after
//! every process started, so even an `up` that was interrupted half-way
//! leaves a file `down` can clean up after.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::component::{ComponentId, NodeGroup, Role};
use crate::error::{io, Error, Result};
use crate::netns::{Lan, NodeNamespace};
use crate::paths;
use crate::process;
use crate::spec::{Runtime, Store};

/// The format version written; a different one is refused rather than
/// misread.
pub const STATE_VERSION: u32 = 1;

/// A cluster as recorded on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The cluster's name.
    pub name: String,
    /// The runtime its nodes use.
    pub runtime: Runtime,
    /// Its store.
    pub store: Store,
    /// The apiserver URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The apiserver port.
    pub api_port: u16,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The kubeconfig in the state directory.
    pub kubeconfig: PathBuf,
    /// Another kubeconfig the cluster's entries were merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_kubeconfig: Option<PathBuf>,
    /// `RUST_LOG` of every component.
    pub log_filter: String,
    /// How nodes added later are started.
    pub node_template: NodeTemplate,
    /// The netns nodes' LAN and namespaces (none for host-network nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkState>,
    /// Every process started, in start order.
    pub components: Vec<ComponentRecord>,
}

/// What every kubelet of the cluster is started with, for nodes added
/// later ([`crate::Cluster::add_node`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeTemplate {
    /// The kubelet program.
    pub binary: PathBuf,
    /// Its runtime.
    pub runtime: Runtime,
    /// Each node's CPU capacity.
    pub cpu: String,
    /// Each node's memory capacity.
    pub memory: String,
    /// Each node's pod capacity.
    pub max_pods: u32,
    /// Extra kubelet flags.
    pub extra_args: Vec<String>,
}

/// The network of a cluster whose nodes are network namespaces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkState {
    /// The host bridge.
    pub lan: Lan,
    /// Every node's namespace, in creation order.
    pub nodes: Vec<NodeNamespace>,
    /// The cgroup the kubelets make their nodes' cgroups in.
    pub cgroup_root: String,
    /// `tug-proxy`, for nodes added later.
    pub proxy_binary: PathBuf,
    /// Extra `tug-proxy` flags.
    #[serde(default)]
    pub proxy_args: Vec<String>,
    /// The pod range (`--cluster-cidr` of the proxies).
    pub cluster_cidr: String,
}

impl NetworkState {
    /// The namespace of node `node`.
    pub fn node(&self, node: &str) -> Option<&NodeNamespace> {
        self.nodes.iter().find(|n| n.node == node)
    }
}

/// One process as recorded on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentRecord {
    /// Its name in the cluster.
    pub id: ComponentId,
    /// What it does.
    pub role: Role,
    /// The program, as started (`argv[0]`).
    pub binary: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment set for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its log file.
    pub log: PathBuf,
    /// Where in the log this run's lines begin.
    #[serde(default)]
    pub log_offset: u64,
    /// Its pid.
    pub pid: u32,
    /// Its start time (clock ticks since boot), telling it apart from a
    /// later process that got the same pid.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    /// For a kubelet: the nodes it hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeGroup>,
    /// The network namespace it runs in (`/run/netns/...`), entered again
    /// on every restart; `None`: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<PathBuf>,
}

impl ComponentRecord {
    /// Whether the recorded process is still running (and is still ours).
    pub fn is_running(&self) -> bool {
        process::is_ours(self.pid, &self.binary, self.start_ticks)
    }

    /// The names of the Nodes a kubelet hosts (none for other roles).
    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .as_ref()
            .map(NodeGroup::node_names)
            .unwrap_or_default()
    }

    /// The end of this run's log.
    pub fn log_tail(&self, lines: usize) -> String {
        process::log_tail(&self.log, self.log_offset, lines)
    }
}

impl ClusterState {
    /// The state file of the cluster in `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(paths::STATE_FILE)
    }

    /// Read the state file in `state_dir`; `None` when there is none.
    pub fn read(state_dir: &Path) -> Result<Option<ClusterState>> {
        let path = Self::path(state_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        let state: ClusterState = serde_json::from_str(&text).map_err(|e| Error::State {
            context: path.display().to_string(),
            message: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(Error::State {
                context: path.display().to_string(),
                message: format!(
                    "written by another tugctl (state version {}, this one reads {STATE_VERSION})",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// Write the state file, replacing the old one in one step.
    pub fn write(&self) -> Result<()> {
        std::fs::create_dir_all(&self.state_dir)
            .map_err(io(format!("creating {}", self.state_dir.display())))?;
        let path = Self::path(&self.state_dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::State {
            context: path.display().to_string(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text + "\n").map_err(io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(io(format!("writing {}", path.display())))
    }

    /// The record of component `id`.
    pub fn component(&self, id: &ComponentId) -> Option<&ComponentRecord> {
        self.components.iter().find(|c| &c.id == id)
    }

    /// The address the apiserver listens on: the LAN's host address with
    /// netns nodes, else loopback.
    pub fn api_host(&self) -> IpAddr {
        match &self.network {
            Some(network) => network.lan.host_ip.into(),
            None => Ipv4Addr::LOCALHOST.into(),
        }
    }

    /// Whether any recorded process still runs.
    pub fn any_running(&self) -> bool {
        self.components.iter().any(ComponentRecord::is_running)
    }

    /// Every node name the kubelets host, in start order.
    pub fn node_names(&self) -> Vec<String> {
        self.components
            .iter()
            .flat_map(ComponentRecord::node_names)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> ClusterState {
        ClusterState {
            version: STATE_VERSION,
            name: "t".into(),
            runtime: Runtime::Fake,
            store: Store::Etcd,
            url: "http://127.0.0.1:4242".into(),
            api_port: 4242,
            state_dir: dir.to_path_buf(),
            kubeconfig: dir.join("kubeconfig"),
            extra_kubeconfig: Some("/home/u/.kube/config".into()),
            log_filter: "info".into(),
            node_template: NodeTemplate {
                binary: "/bin/tug-kubelet".into(),
                runtime: Runtime::Fake,
                cpu: "4".into(),
                memory: "8Gi".into(),
                max_pods: 110,
                extra_args: vec!["--fake-start-latency=50ms".into()],
            },
            network: Some(NetworkState {
                lan: Lan {
                    hash: "abc123".into(),
                    bridge: "tugcabc123".into(),
                    subnet: "10.250.4.0/24".parse().unwrap(),
                    host_ip: Ipv4Addr::new(10, 250, 4, 1),
                    next_host: 3,
                },
                nodes: vec![NodeNamespace {
                    node: "node-0".into(),
                    name: "tug-abc123-node-0".into(),
                    ip: Ipv4Addr::new(10, 250, 4, 2),
                    host_link: "tv01234567".into(),
                }],
                cgroup_root: "/tugboat-t-abc123".into(),
                proxy_binary: "/bin/tug-proxy".into(),
                proxy_args: vec![],
                cluster_cidr: "10.244.0.0/16".into(),
            }),
            components: vec![
                ComponentRecord {
                    id: ComponentId::apiserver(),
                    role: Role::ApiServer,
                    binary: "/bin/tug-apiserver".into(),
                    args: vec!["--insecure-port".into(), "4242".into()],
                    env: BTreeMap::from([("RUST_LOG".into(), "info".into())]),
                    log: dir.join("logs/apiserver.log"),
                    log_offset: 0,
                    pid: 100,
                    start_ticks: Some(12345),
                    nodes: None,
                    netns: None,
                },
                ComponentRecord {
                    id: ComponentId::kubelet("node-0"),
                    role: Role::Kubelet,
                    binary: "/bin/tug-kubelet".into(),
                    args: vec![],
                    env: BTreeMap::new(),
                    log: dir.join("logs/kubelet-node-0.log"),
                    log_offset: 77,
                    pid: 101,
                    start_ticks: None,
                    nodes: Some(NodeGroup {
                        name: "node-0".into(),
                        count: 2,
                    }),
                    netns: Some("/run/netns/tug-abc123-node-0".into()),
                },
            ],
        }
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ClusterState::read(dir.path()).unwrap(), None);
        let state = sample(dir.path());
        state.write().unwrap();
        let back = ClusterState::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, state);
        assert_eq!(back.node_names(), ["node-0-0", "node-0-1"]);
        assert_eq!(back.component(&ComponentId::apiserver()).unwrap().pid, 100);
        assert_eq!(back.api_host(), IpAddr::from(Ipv4Addr::new(10, 250, 4, 1)));
        let network = back.network.as_ref().unwrap();
        assert_eq!(
            network.node("node-0").unwrap().ip,
            Ipv4Addr::new(10, 250, 4, 2)
        );
        // No temporary file is left behind.
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["cluster.json"]);
    }

    #[test]
    fn unreadable_or_foreign_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster.json"), "{not json").unwrap();
        assert!(ClusterState::read(dir.path()).is_err());
        let mut state = sample(dir.path());
        state.version = 99;
        state.write().unwrap();
        let message = ClusterState::read(dir.path()).unwrap_err().to_string();
        assert!(message.contains("state version 99"), "{message}");
    }

    #[test]
    fn recorded_pids_of_dead_processes_are_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = sample(dir.path());
        // Our own pid runs, but not the recorded program: not ours.
        state.components[0].pid = std::process::id();
        state.components[0].start_ticks = None;
        assert!(!state.components[0].is_running());
        assert!(!state.any_running());
    }
}
