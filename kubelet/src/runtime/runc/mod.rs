//! The runc runtime: each pod is a pause container (the sandbox, holding
//! the pod's network, IPC and UTS namespaces) and its app containers,
//! each an OCI bundle run by `runc` under a small per-container shim
//! that keeps its log and exit status on disk.
//!
//! SKELETON (issue 5 integration): the public surface below is fixed;
//! the runtime engineer fills in the bodies and adds submodules.

pub mod shim;

use std::path::PathBuf;
use std::sync::Arc;

use crate::image::ImageStore;
use crate::network::cni::Cni;

/// Everything the runc runtime of one node needs.
#[derive(Clone)]
pub struct RuncConfig {
    /// The kubelet's state directory (`--root-dir`): bundles, pod state,
    /// logs, the pause rootfs, the runc root.
    pub root_dir: PathBuf,
    /// The `runc` binary (`--runc`, default found on PATH).
    pub runc: PathBuf,
    /// The program that runs a container's shim: the `tug-kubelet` binary
    /// (`tug-kubelet shim ...`).
    pub shim_binary: PathBuf,
    /// The cgroup under which pod cgroups are made (`/tugboat/<node>`).
    pub cgroup_parent: String,
    /// The node's image store.
    pub images: Arc<ImageStore>,
    /// The node's CNI client.
    pub cni: Arc<Cni>,
}

/// The runc runtime of one node.
pub struct RuncRuntime {
    _config: RuncConfig,
}

impl RuncRuntime {
    /// The runtime over `config`: makes its directories, writes the pause
    /// binary, and finds the pods left by a previous kubelet.
    pub fn new(config: RuncConfig) -> anyhow::Result<RuncRuntime> {
        Ok(RuncRuntime { _config: config })
    }
}

#[async_trait::async_trait]
impl super::Runtime for RuncRuntime {
    fn version(&self) -> String {
        todo!("runtime engineer")
    }
    async fn run_pod_sandbox(
        &self,
        _pod: &tug_api::core::Pod,
        _network: super::SandboxNetwork,
    ) -> Result<(), super::RuntimeError> {
        todo!("runtime engineer")
    }
    async fn start_container(
        &self,
        _pod: &tug_api::core::Pod,
        _container: &tug_api::core::Container,
    ) -> Result<(), super::RuntimeError> {
        todo!("runtime engineer")
    }
    async fn stop_pod(&self, _uid: &str, _grace: std::time::Duration) {
        todo!("runtime engineer")
    }
    async fn kill_container(&self, _uid: &str, _container: &str, _grace: std::time::Duration) {
        todo!("runtime engineer")
    }
    async fn remove_pod(&self, _uid: &str) {
        todo!("runtime engineer")
    }
    async fn pod_status(&self, _uid: &str) -> Option<super::RuntimePod> {
        todo!("runtime engineer")
    }
    async fn list_pods(&self) -> Vec<String> {
        todo!("runtime engineer")
    }
    async fn probe(
        &self,
        _pod: &tug_api::core::Pod,
        _container: &tug_api::core::Container,
        _probe: &tug_api::core::Probe,
    ) -> super::ProbeOutcome {
        todo!("runtime engineer")
    }
}
