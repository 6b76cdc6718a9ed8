//! The container runtime interface the kubelet drives, in the spirit of
//! Kubernetes' CRI: the kubelet decides *what* should run (pod workers,
//! restart policy, back-off, probes, status) and a [`Runtime`] does it
//! (sandbox and network, container processes) and reports what it sees.
//!
//! Two implementations: [`fake`] (nothing runs; a state machine with
//! timings, for hollow nodes) and [`runc`] (real containers in a pause
//! sandbox, CNI networking, images from the node's store). Everything
//! outside this module is shared by both.
//!
//! The runtime is asked for a pod's state ([`Runtime::pod_status`]) on every
//! sync. When it knows that state will change by itself at a given moment
//! (the fake runtime does: its containers exit on schedule) it says so in
//! [`RuntimePod::next_change`], and the kubelet looks again then.

pub mod fake;
pub mod ipam;
pub mod runc;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use tug_api::core::{Container, Pod, Probe};

/// Which runtime a kubelet runs pods with (`--runtime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// Pretend: containers "run" as a state machine, no processes.
    Fake,
    /// Real containers through runc.
    Runc,
}

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The pod's network could not be set up (no free IP, say).
    #[error("failed to set up the network of the pod sandbox: {0}")]
    Network(String),
    /// A container could not be started.
    #[error("failed to start container {container}: {reason}")]
    StartContainer {
        /// The container's name.
        container: String,
        /// What went wrong.
        reason: String,
    },
    /// The runtime has no sandbox for the pod.
    #[error("the pod sandbox of {0} does not exist")]
    NoSandbox(String),
    /// The container's image could not be had; the container waits with
    /// `reason` (`ErrImagePull`, `ErrImageNeverPull`, `InvalidImageName`)
    /// and the kubelet backs off before trying again (`ImagePullBackOff`).
    #[error("{message}")]
    ImagePull {
        /// The container's name.
        container: String,
        /// The waiting reason Kubernetes reports.
        reason: String,
        /// Why, in words (the registry's reason included).
        message: String,
    },
}

/// Where a pod's sandbox gets its IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxNetwork {
    /// `hostNetwork: true`: the pod shares the node's network and IP.
    Host(std::net::IpAddr),
    /// Its own network namespace, with an IP from the node's podCIDR.
    PodCidr(IpNet),
}

/// The sandbox (network namespace, pod IP) of a pod.
#[derive(Clone, Debug, PartialEq)]
pub enum SandboxState {
    /// Being set up; containers cannot start yet.
    Creating,
    /// Ready: containers can start; the pod has these IPs.
    Ready {
        /// The pod's IPs, primary first.
        ips: Vec<std::net::IpAddr>,
    },
}

/// One instance (one start) of a container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInstance {
    /// The container's name in the pod spec.
    pub name: String,
    /// The runtime's id, `<runtime>://<id>`.
    pub id: String,
    /// 0 for the first start, then one more for each restart.
    pub attempt: u32,
    /// The image it runs.
    pub image: String,
    /// The image's id (digest, where the runtime knows one).
    pub image_id: String,
    /// Where it stands.
    pub state: InstanceState,
}

/// The life of one container instance.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceState {
    /// Its process runs.
    Running {
        /// When it started.
        started_at: DateTime<Utc>,
    },
    /// Its process ended.
    Exited {
        /// When it started.
        started_at: DateTime<Utc>,
        /// When it ended.
        finished_at: DateTime<Utc>,
        /// The exit code (128 + signal for a signal).
        exit_code: i32,
        /// Why it ended when the exit code alone does not say
        /// (`OOMKilled`); `None` lets the status say `Completed`/`Error`.
        reason: Option<String>,
    },
}

impl ContainerInstance {
    /// Whether the instance's process still runs.
    pub fn is_running(&self) -> bool {
        matches!(self.state, InstanceState::Running { .. })
    }
}

/// What the runtime knows of one pod.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimePod {
    /// The pod's UID.
    pub uid: String,
    /// Its sandbox.
    pub sandbox: SandboxState,
    /// Every container instance kept, oldest first (at least the latest
    /// instance of each container that was ever started).
    pub containers: Vec<ContainerInstance>,
    /// When this state will next change by itself, if the runtime knows.
    pub next_change: Option<DateTime<Utc>>,
}

impl RuntimePod {
    /// The newest instance of container `name`.
    pub fn latest(&self, name: &str) -> Option<&ContainerInstance> {
        self.containers
            .iter()
            .filter(|c| c.name == name)
            .max_by_key(|c| c.attempt)
    }

    /// The instance of `name` before the newest one.
    pub fn previous(&self, name: &str) -> Option<&ContainerInstance> {
        let latest = self.latest(name)?.attempt;
        self.containers
            .iter()
            .filter(|c| c.name == name && c.attempt < latest)
            .max_by_key(|c| c.attempt)
    }

    /// The pod's IPs once its sandbox is ready.
    pub fn ips(&self) -> &[std::net::IpAddr] {
        match &self.sandbox {
            SandboxState::Ready { ips } => ips,
            SandboxState::Creating => &[],
        }
    }

    /// Whether any container still runs.
    pub fn any_running(&self) -> bool {
        self.containers.iter().any(ContainerInstance::is_running)
    }
}

/// The outcome of running a probe's action once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The check passed.
    Success,
    /// The check failed.
    Failure,
}

/// Told the UID of a pod whose runtime state changed by itself (a
/// container exited), so the kubelet syncs it without polling.
pub type ChangeNotifier = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// A container runtime, one per node.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// `containerRuntimeVersion` in the Node's status (`fake://0.1`).
    fn version(&self) -> String;

    /// Set up the pod's sandbox on `network`. A sandbox that exists
    /// already is kept.
    async fn run_pod_sandbox(&self, pod: &Pod, network: SandboxNetwork)
        -> Result<(), RuntimeError>;

    /// Start `container` of `pod` (again, after an exit: a new instance
    /// with the next attempt number). The sandbox must be ready.
    async fn start_container(&self, pod: &Pod, container: &Container) -> Result<(), RuntimeError>;

    /// Ask every container of the pod to stop, killing what still runs
    /// after `grace`. May return before they have stopped: the pod's
    /// [`RuntimePod::next_change`] says when to look again.
    async fn stop_pod(&self, uid: &str, grace: Duration);

    /// Remove the pod's containers and sandbox and release its IPs.
    /// Removing a pod the runtime does not know is not an error.
    async fn remove_pod(&self, uid: &str);

    /// The runtime's view of the pod, `None` when it holds nothing of it.
    async fn pod_status(&self, uid: &str) -> Option<RuntimePod>;

    /// The UIDs of every pod the runtime holds.
    async fn list_pods(&self) -> Vec<String>;

    /// Run `probe` against `container` of `pod` once.
    async fn probe(&self, pod: &Pod, container: &Container, probe: &Probe) -> ProbeOutcome;

    /// Called when the kubelet starts, before it syncs any pod, for every
    /// pod bound here whose last reported status has an IP (it ran here
    /// before the kubelet restarted). A runtime that keeps its state on
    /// disk finds its pods by itself and ignores this; the fake runtime,
    /// whose state lived in the previous process, restores the pod from
    /// that status (its IP, its container instances).
    async fn recover_pod(&self, _pod: &Pod, _network: SandboxNetwork) {}

    /// Stop the running instance of one container (a failed liveness or
    /// startup probe): SIGTERM (after its preStop hook), SIGKILL once
    /// `grace` has passed. Returns before it has stopped; the instance
    /// then shows as exited and the restart policy decides what next.
    async fn kill_container(&self, uid: &str, container: &str, grace: Duration);

    /// Register who to tell when a pod's state changes by itself. A
    /// runtime whose changes are all announced by
    /// [`RuntimePod::next_change`] (the fake one) ignores it.
    fn set_change_notifier(&self, _notify: ChangeNotifier) {}

    /// The log file (CRI format) of instance `attempt` of `container`,
    /// if the runtime keeps one.
    fn container_log(&self, _uid: &str, _container: &str, _attempt: u32) -> Option<PathBuf> {
        None
    }
}
