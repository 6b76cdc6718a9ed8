//! What cluster to start: [`ClusterSpec`] and its parts.
//!
//! Every field has a default that gives a working one-node cluster, so a
//! test writes only what it cares about:
//!
//! ```no_run
//! # use tug_cluster::ClusterSpec;
//! let spec = ClusterSpec {
//!     nodes: 3,
//!     ..ClusterSpec::new("e2e").in_dir("/tmp/e2e-cluster")
//! };
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths;

/// The cluster name `tugctl cluster up` uses when given none.
pub const DEFAULT_NAME: &str = "tugboat";

/// What runs the pods on the nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Hollow nodes: `tug-kubelet --runtime fake` pretends containers run,
    /// so many nodes fit on one machine and no root is needed.
    #[default]
    Fake,
    /// Real containers through runc (needs root). Several runc nodes on
    /// one machine each live in a network namespace of their own
    /// ([`NodeNetwork::Netns`]).
    Runc,
}

impl Runtime {
    /// The value of `tug-kubelet --runtime`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Fake => "fake",
            Runtime::Runc => "runc",
        }
    }

    /// Whether the launcher can start `nodes` nodes of this kind here,
    /// on `network` (already [`NodeNetwork::resolve`]d).
    pub fn check_available(self, nodes: usize, network: NodeNetwork) -> Result<()> {
        match self {
            Runtime::Fake if network == NodeNetwork::Netns => Err(Error::Unsupported(
                "hollow (fake) nodes run on the host network; network namespaces are for runc nodes"
                    .into(),
            )),
            Runtime::Fake => Ok(()),
            Runtime::Runc if !crate::process::is_root() => Err(Error::Unsupported(
                "the runc runtime runs containers and sets up their network: run as root".into(),
            )),
            Runtime::Runc if nodes > 1 && network == NodeNetwork::Host => {
                Err(Error::Unsupported(
                    "runc nodes on the host network: one node per machine (several need a \
                     network namespace each: use the default node network)"
                        .into(),
                ))
            }
            Runtime::Runc => Ok(()),
        }
    }
}

/// Where a cluster's nodes live on the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeNetwork {
    /// [`NodeNetwork::Netns`] for runc nodes, [`NodeNetwork::Host`] for
    /// hollow ones.
    #[default]
    Auto,
    /// Kubelets on the host's network, their API on loopback: hollow
    /// nodes, or ONE runc node whose pods the host reaches directly.
    Host,
    /// Each node a network namespace with its own address on a host
    /// bridge ([`crate::netns`]), with its own kubelet and `tug-proxy`.
    Netns,
}

impl NodeNetwork {
    /// What [`NodeNetwork::Auto`] means for `runtime`.
    pub fn resolve(self, runtime: Runtime) -> NodeNetwork {
        match (self, runtime) {
            (NodeNetwork::Auto, Runtime::Runc) => NodeNetwork::Netns,
            (NodeNetwork::Auto, Runtime::Fake) => NodeNetwork::Host,
            (chosen, _) => chosen,
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "fake" => Ok(Runtime::Fake),
            "runc" => Ok(Runtime::Runc),
            other => Err(format!("unknown runtime {other:?} (fake or runc)")),
        }
    }
}

/// Where the apiserver keeps the cluster's objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// SQLite in the apiserver's data directory: nothing else to run.
    #[default]
    Embedded,
    /// A single-member etcd the launcher starts itself (`etcd` from `PATH`).
    Etcd,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Store::Embedded => "embedded",
            Store::Etcd => "etcd",
        })
    }
}

impl FromStr for Store {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "embedded" => Ok(Store::Embedded),
            "etcd" => Ok(Store::Etcd),
            other => Err(format!("unknown store {other:?} (embedded or etcd)")),
        }
    }
}

/// Flags appended to each component's command line, after the launcher's
/// own (so a repeated flag here wins where the program lets the last one
/// win). Tests use them for short grace periods and leader-election
/// timings (`--leader-elect-lease-duration=2s`), start latencies
/// (`--fake-start-latency=50ms`), and so on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraArgs {
    /// For `etcd`.
    pub etcd: Vec<String>,
    /// For `tug-apiserver`.
    pub apiserver: Vec<String>,
    /// For every `tug-scheduler`.
    pub scheduler: Vec<String>,
    /// For every `tug-controller-manager`.
    pub controller_manager: Vec<String>,
    /// For every `tug-kubelet`.
    pub kubelet: Vec<String>,
    /// For every `tug-proxy` (netns nodes).
    #[serde(default)]
    pub proxy: Vec<String>,
}

/// A cluster to start with [`crate::Cluster::up`].
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// The cluster's name: its state directory and kubeconfig context
    /// (`tugboat-<name>`) are named after it. Lower-case letters, digits
    /// and `-`.
    pub name: String,
    /// How many nodes to start.
    pub nodes: usize,
    /// What runs the pods.
    pub runtime: Runtime,
    /// Where the objects live.
    pub store: Store,
    /// Where the nodes live on the network.
    pub node_network: NodeNetwork,
    /// The nodes' LAN with [`NodeNetwork::Netns`], e.g. `10.250.7.0/24`
    /// (host `.1`, nodes `.2`, ...); `None` picks a free /24 of
    /// `10.250.0.0/16`.
    pub node_subnet: Option<String>,
    /// OCI archives (tar of an OCI image layout) imported into every runc
    /// node's image store before its kubelet starts, like `kind load
    /// image-archive`: pods run offline.
    pub image_archives: Vec<PathBuf>,
    /// The directory holding `cluster.json`, the logs, the kubeconfig and
    /// the stores. The launcher only creates and removes its own entries
    /// in it, never anything else.
    pub state_dir: PathBuf,
    /// Where the `tug-*` binaries are; `None` looks next to the running
    /// program, then in `PATH` (see [`crate::bins`]).
    pub bin_dir: Option<PathBuf>,
    /// The apiserver's port; `None` picks a free one.
    pub api_port: Option<u16>,
    /// How many schedulers (one leads, the others wait on its Lease).
    pub schedulers: usize,
    /// How many controller-managers (one leads).
    pub controller_managers: usize,
    /// Each node's CPU capacity (`--cpu`).
    pub node_cpu: String,
    /// Each node's memory capacity (`--memory`).
    pub node_memory: String,
    /// Each node's pod capacity (`--max-pods`).
    pub node_max_pods: u32,
    /// Hollow nodes per `tug-kubelet` process. 1 (the default) gives each
    /// node its own process, so a test can kill one node; benchmarks with
    /// hundreds of nodes use e.g. 100.
    pub hollow_nodes_per_process: usize,
    /// Flags appended per component.
    pub extra_args: ExtraArgs,
    /// `RUST_LOG` for every component.
    pub log_filter: String,
    /// How long `up` waits for the cluster to be ready.
    pub ready_timeout: Duration,
    /// Also write the kubeconfig entries into this file (merged into it
    /// when it exists, removed from it again by `down`).
    pub extra_kubeconfig: Option<PathBuf>,
    /// Remove the state directory when the [`crate::Cluster`] is dropped
    /// (not detached), except while panicking: a failed test keeps its
    /// logs. See [`ClusterSpec::temporary`].
    pub remove_state_on_drop: bool,
}

impl ClusterSpec {
    /// A one-node fake-runtime cluster over the embedded store, with its
    /// state under the default directory for `name` (see [`paths::state_dir`]).
    pub fn new(name: &str) -> ClusterSpec {
        ClusterSpec {
            name: name.to_string(),
            nodes: 1,
            runtime: Runtime::Fake,
            store: Store::Embedded,
            node_network: NodeNetwork::Auto,
            node_subnet: None,
            image_archives: Vec::new(),
            state_dir: paths::state_dir(name),
            bin_dir: None,
            api_port: None,
            schedulers: 1,
            controller_managers: 1,
            node_cpu: "4".into(),
            node_memory: "8Gi".into(),
            node_max_pods: 110,
            hollow_nodes_per_process: 1,
            extra_args: ExtraArgs::default(),
            log_filter: "info".into(),
            ready_timeout: Duration::from_secs(60),
            extra_kubeconfig: None,
            remove_state_on_drop: false,
        }
    }

    /// A cluster for a test: its state in a fresh directory under the
    /// system's temporary directory, removed when the cluster is dropped
    /// (kept, and named on stderr, when the test panics).
    pub fn temporary(name: &str) -> ClusterSpec {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "tug-cluster-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ClusterSpec {
            remove_state_on_drop: true,
            ..ClusterSpec::new(name).in_dir(std::env::temp_dir().join(unique))
        }
    }

    /// The same spec with its state in `dir` (tests: a temporary directory).
    pub fn in_dir(mut self, dir: impl AsRef<Path>) -> ClusterSpec {
        self.state_dir = dir.as_ref().to_path_buf();
        self
    }

    /// The node network, [`NodeNetwork::Auto`] resolved.
    pub fn network(&self) -> NodeNetwork {
        self.node_network.resolve(self.runtime)
    }

    /// [`ClusterSpec::node_subnet`] parsed (`None`: pick a free one).
    pub fn lan_subnet(&self) -> Result<Option<ipnet::Ipv4Net>> {
        let Some(subnet) = &self.node_subnet else {
            return Ok(None);
        };
        subnet.parse().map(Some).map_err(|_| {
            Error::Invalid(format!(
                "invalid node subnet {subnet:?} (e.g. 10.250.7.0/24)"
            ))
        })
    }

    /// Refuse specs that cannot work, before anything starts.
    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        let network = self.network();
        self.runtime.check_available(self.nodes, network)?;
        if let Some(subnet) = self.lan_subnet()? {
            if subnet.prefix_len() > 30 {
                return Err(Error::Invalid(format!("node subnet {subnet} is too small")));
            }
        }
        if network == NodeNetwork::Netns && self.hollow_nodes_per_process != 1 {
            return Err(Error::Invalid(
                "a node in its own network namespace has its own kubelet: one node per process"
                    .into(),
            ));
        }
        for archive in &self.image_archives {
            if !archive.is_file() {
                return Err(Error::Invalid(format!(
                    "image archive {} is not a file",
                    archive.display()
                )));
            }
        }
        if self.nodes == 0 {
            return Err(Error::Invalid("a cluster needs at least one node".into()));
        }
        if self.hollow_nodes_per_process == 0 {
            return Err(Error::Invalid(
                "hollow nodes per process must be at least 1".into(),
            ));
        }
        if self.schedulers == 0 || self.controller_managers == 0 {
            return Err(Error::Invalid(
                "a cluster needs at least one scheduler and one controller-manager".into(),
            ));
        }
        Ok(())
    }
}

/// A cluster name is a DNS label: it names a directory and kubeconfig
/// entries, so nothing that could escape a path or need quoting.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid cluster name {name:?}: use lower-case letters, digits and '-' \
             (at most 63, not starting or ending with '-')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for good in ["tugboat", "t-1", "a", "e2e-3nodes"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "Tug", "a/b", "../x", "-a", "a-", "a_b", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn several_runc_nodes_need_namespaces_and_root() {
        let spec = ClusterSpec {
            runtime: "runc".parse().unwrap(),
            nodes: 3,
            ..ClusterSpec::new("x")
        };
        assert_eq!(spec.network(), NodeNetwork::Netns);
        assert_eq!(spec.validate().is_ok(), crate::process::is_root());
        let host = ClusterSpec {
            node_network: NodeNetwork::Host,
            ..spec.clone()
        };
        let message = host.validate().unwrap_err().to_string();
        assert!(
            message.contains("one node") || message.contains("root"),
            "{message}"
        );
        let one = ClusterSpec { nodes: 1, ..host };
        assert_eq!(one.validate().is_ok(), crate::process::is_root());
        let fake = ClusterSpec::new("x");
        assert_eq!(fake.network(), NodeNetwork::Host);
        let fake_netns = ClusterSpec {
            node_network: NodeNetwork::Netns,
            ..fake
        };
        assert!(fake_netns.validate().is_err());
        let bad_subnet = ClusterSpec {
            node_subnet: Some("10.250.1.0/31".into()),
            ..spec.clone()
        };
        assert!(bad_subnet.validate().is_err());
        let no_archive = ClusterSpec {
            image_archives: vec!["/nonexistent.tar".into()],
            ..spec
        };
        assert!(no_archive.validate().is_err());
    }

    #[test]
    fn defaults_make_a_one_node_cluster() {
        let spec = ClusterSpec::new("x").in_dir("/tmp/somewhere");
        spec.validate().unwrap();
        assert_eq!(spec.nodes, 1);
        assert_eq!(spec.state_dir, Path::new("/tmp/somewhere"));
        assert!(ClusterSpec {
            nodes: 0,
            ..spec.clone()
        }
        .validate()
        .is_err());
        assert_eq!("etcd".parse::<Store>(), Ok(Store::Etcd));
        let (a, b) = (ClusterSpec::temporary("x"), ClusterSpec::temporary("x"));
        assert_ne!(
            a.state_dir, b.state_dir,
            "each temporary cluster has its own dir"
        );
        assert!(a.state_dir.starts_with(std::env::temp_dir()));
        assert!(a.remove_state_on_drop && !spec.remove_state_on_drop);
        assert!("sqlite".parse::<Store>().is_err());
    }
}
