//! The CNI client: writes the node's network config list and runs the
//! plugin binaries with the CNI protocol (ADD/DEL/CHECK).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// The node's CNI settings.
#[derive(Clone, Debug)]
pub struct CniConfig {
    /// Where the plugin binaries are looked for, in order
    /// (`/usr/lib/cni`, `/opt/cni/bin`).
    pub bin_dirs: Vec<PathBuf>,
    /// The bridge pods attach to (`tug0`).
    pub bridge: String,
    /// Where the config list and host-local's allocations are kept.
    pub state_dir: PathBuf,
}

/// A hostPort of a pod, for the portmap plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// The node's port.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp` (lower case, as CNI spells it).
    pub protocol: String,
    /// The node address to bind (empty: all).
    pub host_ip: String,
}

/// One sandbox to attach or detach.
#[derive(Clone, Debug)]
pub struct Attachment<'a> {
    /// The sandbox id (`CNI_CONTAINERID`).
    pub id: &'a str,
    /// The pinned network namespace (`CNI_NETNS`).
    pub netns: &'a Path,
    /// The node's pod CIDR (host-local allocates from it).
    pub pod_cidr: IpNet,
    /// hostPorts.
    pub ports: &'a [PortMapping],
    /// `K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_UID` for `CNI_ARGS`.
    pub pod_namespace: &'a str,
    /// The pod's name.
    pub pod_name: &'a str,
    /// The pod's uid.
    pub pod_uid: &'a str,
}

/// Why a CNI call failed.
#[derive(Debug, thiserror::Error)]
#[error("CNI {command} with plugin {plugin} failed: {message}")]
pub struct CniError {
    /// `ADD`, `DEL` or `CHECK`.
    pub command: &'static str,
    /// The plugin type.
    pub plugin: String,
    /// The plugin's error (its `msg` and `details`) or what else failed.
    pub message: String,
}

/// The CNI client of one node.
pub struct Cni {
    _config: CniConfig,
}

impl Cni {
    /// A client; fails when a required plugin binary is missing.
    pub fn new(config: CniConfig) -> anyhow::Result<Cni> {
        Ok(Cni { _config: config })
    }

    /// ADD the sandbox to the pod network; the IPs it was given.
    pub async fn add(&self, a: &Attachment<'_>) -> Result<Vec<IpAddr>, CniError> {
        let _ = a;
        todo!("network engineer")
    }

    /// DEL the sandbox from the pod network (idempotent; its IP is freed
    /// even when the namespace is already gone).
    pub async fn del(&self, a: &Attachment<'_>) -> Result<(), CniError> {
        let _ = a;
        todo!("network engineer")
    }
}
