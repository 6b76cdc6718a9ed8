//! Local Tugboat clusters as processes on one machine: the launcher
//! behind `tugctl cluster up/down/status`, and the harness the
//! integration tests start clusters with. Hollow (fake) nodes need no
//! root; runc nodes (root) are each a network namespace on a host bridge
//! with their own kubelet and `tug-proxy` ([`netns`]).
//!
//! ```no_run
//! # async fn demo() -> tug_cluster::Result<()> {
//! use tug_cluster::{Cluster, ClusterSpec, Role};
//!
//! let dir = std::env::temp_dir().join("demo-cluster");
//! let mut cluster = Cluster::up(ClusterSpec {
//!     nodes: 3,
//!     ..ClusterSpec::new("demo").in_dir(&dir)
//! })
//! .await?;
//! let client = cluster.client();             // talk to the apiserver
//! let node = cluster.kubelet_of("node-1").unwrap();
//! cluster.kill(&node)?;                       // a node dies
//! let leader = cluster.leader(Role::Scheduler).await?;
//! cluster.down().await?;                      // or just drop it
//! # Ok(()) }
//! ```
//!
//! A cluster is etcd (with [`Store::Etcd`]), `tug-apiserver`, one or
//! more `tug-scheduler`s and `tug-controller-manager`s, and `tug-kubelet`
//! processes hosting the nodes (one node per process by default, or many
//! hollow nodes per process for benchmarks). Everything about it lives in
//! its state directory ([`paths`]): `cluster.json` ([`state`]), the logs,
//! the stores and a kubeconfig.
//!
//! Modules: [`spec`] (what to start), [`component`] (roles, names, node
//! groups), [`args`] (command lines), [`bins`] (finding programs),
//! [`netns`] (the nodes' LAN and namespaces),
//! [`process`] (starting and identifying processes), [`health`] (what
//! ready means), [`kubeconfig`], [`cluster`] (the [`Cluster`] itself).

pub mod args;
pub mod bins;
pub mod cluster;
pub mod component;
pub mod credentials;
pub mod error;
pub mod health;
pub mod kubeconfig;
pub mod netns;
pub mod paths;
pub mod process;
pub mod spec;
pub mod state;

pub use cluster::Cluster;
pub use component::{ComponentId, NodeGroup, Role};
pub use error::{Error, Result};
pub use health::{ComponentHealth, Status};
pub use spec::{ClusterSpec, ExtraArgs, NodeNetwork, Runtime, Store, DEFAULT_NAME};
pub use state::{ClusterState, ComponentRecord};
