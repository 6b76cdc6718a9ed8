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
    /// Real containers through runc (needs root). One node per machine
    /// for now: several runc nodes on one machine each need a network
    /// namespace of their own, which comes with multi-node clusters.
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

    /// Whether the launcher can start `nodes` nodes of this kind here.
    pub fn check_available(self, nodes: usize) -> Result<()> {
        match self {
            Runtime::Fake => Ok(()),
            Runtime::Runc if !crate::process::is_root() => Err(Error::Unsupported(
                "the runc runtime runs containers and sets up their network: run as root".into(),
            )),
            Runtime::Runc if nodes > 1 => Err(Error::Unsupported(
                "a runc cluster on one machine has one node for now (several need a network \
                 namespace each, which multi-node clusters bring); use --nodes 1 or --runtime fake"
                    .into(),
            )),
            Runtime::Runc => Ok(()),
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

    /// Refuse specs that cannot work, before anything starts.
    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        self.runtime.check_available(self.nodes)?;
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
    fn runc_takes_one_node_and_root() {
        let spec = ClusterSpec {
            runtime: "runc".parse().unwrap(),
            nodes: 3,
            ..ClusterSpec::new("x")
        };
        let message = spec.validate().unwrap_err().to_string();
        assert!(
            message.contains("one node") || message.contains("root"),
            "{message}"
        );
        let one = ClusterSpec { nodes: 1, ..spec };
        assert_eq!(one.validate().is_ok(), crate::process::is_root());
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
