//! The runc runtime: each pod is a pause container (the sandbox, holding
//! the pod's network, IPC and UTS namespaces) and its app containers,
//! each an OCI bundle run by `runc` under a small per-container shim
//! that keeps its log and exit status on disk.
//!
//! The parts: [`sandbox`] (pod dir, network, pause), [`container`]
//! (bundle, overlay rootfs, `config.json`, the shim), [`stop`]
//! (preStop, TERM, KILL, teardown), the pure rules in [`env`], [`user`],
//! [`spec`], [`etc`] and [`log`], the host helpers [`cgroup`],
//! [`mounts`], [`volumes`], [`cli`], the on-disk [`state`], and the
//! [`shim`] itself. Everything a restarted kubelet needs is on disk
//! under `--root-dir`: [`RuncRuntime::new`] reads it back.

pub mod cgroup;
pub mod cli;
mod container;
pub mod env;
pub mod etc;
pub mod log;
pub mod mounts;
pub mod pause;
mod sandbox;
pub mod shim;
pub mod spec;
pub mod state;
mod stop;
pub mod user;
pub mod volumes;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::core::{Container, Pod, Probe};

use self::cli::Runc;
use self::state::{read_json, InstanceRecord, InstanceState, Layout, SandboxRecord};
use super::{
    ChangeNotifier, ContainerInstance, InstanceState as RtState, ProbeOutcome, RuntimeError,
    RuntimePod, SandboxNetwork, SandboxState,
};
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
    /// The API client ConfigMaps and Secrets are read with (env and
    /// volumes); without one, references to them fail unless optional.
    pub client: Option<tug_client::Client>,
    /// The node's IP (`status.hostIP` for the downward API).
    pub node_ip: IpAddr,
}

/// The runc runtime of one node.
pub struct RuncRuntime {
    inner: Arc<Inner>,
}

/// The state shared with the runtime's background tasks.
struct Inner {
    /// The runtime itself, for background tasks that must not keep it alive.
    me: Weak<Inner>,
    config: RuncConfig,
    layout: Layout,
    runc: Runc,
    version: String,
    pods: Mutex<BTreeMap<String, PodEntry>>,
    notifier: Mutex<Option<ChangeNotifier>>,
}

/// What the runtime holds of one pod.
#[derive(Clone, Debug)]
struct PodEntry {
    /// The pod as it was when its sandbox was made (`pod.json`).
    pod: Pod,
    /// Its sandbox, once set up.
    sandbox: Option<SandboxRecord>,
    /// Every container instance, in start order.
    instances: Vec<InstanceRecord>,
    /// Until when a stop asked of it may still be in progress.
    stopping_until: Option<DateTime<Utc>>,
}

impl Inner {
    fn pods(&self) -> MutexGuard<'_, BTreeMap<String, PodEntry>> {
        self.pods
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self, uid: &str) -> Option<PodEntry> {
        self.pods().get(uid).cloned()
    }

    fn notify(&self, uid: &str) {
        let n = self
            .notifier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(n) = n {
            n(uid);
        }
    }

    fn bundle_of(&self, uid: &str, r: &InstanceRecord) -> PathBuf {
        self.layout.bundle(uid, &r.name, r.attempt)
    }

    fn state_of(&self, uid: &str, r: &InstanceRecord) -> Option<InstanceState> {
        read_json(&self.bundle_of(uid, r).join(InstanceState::FILE))
    }
}

impl RuncRuntime {
    /// The runtime over `config`: makes its directories, writes the pause
    /// binary, and finds the pods left by a previous kubelet.
    pub fn new(config: RuncConfig) -> anyhow::Result<RuncRuntime> {
        let layout = Layout {
            root: config.root_dir.clone(),
        };
        for d in [layout.runc_root(), layout.pods(), layout.root.join("logs")] {
            std::fs::create_dir_all(d)?;
        }
        pause::install(&layout.pause_rootfs())?;
        let runc = Runc {
            bin: config.runc.clone(),
            root: layout.runc_root(),
        };
        let version = Runc::version(&config.runc);
        let pods = sandbox::load_all(&layout);
        tracing::info!(pods = pods.len(), runc = %version, "runc runtime ready");
        Ok(RuncRuntime {
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                config,
                layout,
                runc,
                version,
                pods: Mutex::new(pods),
                notifier: Mutex::new(None),
            }),
        })
    }

    /// Start instance `attempt` of `container` from `image` in the pod's
    /// sandbox (the image already at hand): bundle, overlay rootfs,
    /// `config.json`, then the shim; returns once the process runs (or
    /// failed to start, which is recorded as a `StartError` exit).
    pub async fn create_container(
        &self,
        pod: &Pod,
        container: &Container,
        image: &crate::image::Image,
        attempt: u32,
    ) -> Result<(), RuntimeError> {
        container::create(&self.inner, pod, container, image, attempt).await
    }

    /// Poll, every second, the instances this process did not start (found
    /// on disk at start-up) and tell the notifier when one exits. Ends when
    /// the runtime is dropped.
    fn watch_adopted(&self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let mut watched: Vec<(String, InstanceRecord)> = Vec::new();
        for (uid, e) in self.inner.pods().iter() {
            for r in &e.instances {
                watched.push((uid.clone(), r.clone()));
            }
        }
        watched.retain(|(uid, r)| {
            self.inner
                .state_of(uid, r)
                .is_some_and(|s| s.finished_at.is_none())
        });
        if watched.is_empty() {
            return;
        }
        handle.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !watched.is_empty() {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                watched.retain(|(uid, r)| {
                    let done = inner
                        .state_of(uid, r)
                        .is_none_or(|s| s.finished_at.is_some());
                    if done {
                        inner.notify(uid);
                    }
                    !done
                });
            }
        });
    }
}

/// The runtime's view of one instance from its record and state file.
fn instance_of(r: &InstanceRecord, s: Option<InstanceState>) -> ContainerInstance {
    let now = Utc::now();
    let state = match s {
        Some(s) => match (s.started_at, s.finished_at, s.exit_code) {
            (Some(started_at), Some(finished_at), Some(exit_code)) => RtState::Exited {
                started_at,
                finished_at,
                exit_code,
                reason: s.reason,
            },
            (started_at, _, _) => RtState::Running {
                started_at: started_at.unwrap_or(now),
            },
        },
        // The shim never recorded a start (it died first).
        None => RtState::Exited {
            started_at: now,
            finished_at: now,
            exit_code: 128,
            reason: Some("StartError".into()),
        },
    };
    ContainerInstance {
        name: r.name.clone(),
        id: format!("runc://{}", r.id),
        attempt: r.attempt,
        image: r.image.clone(),
        image_id: r.image_id.clone(),
        state,
    }
}

#[async_trait::async_trait]
impl super::Runtime for RuncRuntime {
    fn version(&self) -> String {
        format!("runc://{}", self.inner.version)
    }

    async fn run_pod_sandbox(
        &self,
        pod: &Pod,
        network: SandboxNetwork,
    ) -> Result<(), RuntimeError> {
        sandbox::run(&self.inner, pod, network).await
    }

    async fn start_container(&self, pod: &Pod, container: &Container) -> Result<(), RuntimeError> {
        let uid = &pod.metadata.uid;
        let entry = self
            .inner
            .entry(uid)
            .filter(|e| e.sandbox.is_some())
            .ok_or_else(|| RuntimeError::NoSandbox(pod.metadata.name.clone()))?;
        let policy =
            crate::image::PullPolicy::for_container(&container.image_pull_policy, &container.image);
        let image = self
            .inner
            .config
            .images
            .ensure(&container.image, policy)
            .await
            .map_err(|e| RuntimeError::ImagePull {
                container: container.name.clone(),
                reason: e.reason.to_string(),
                message: e.message,
            })?;
        let attempt = entry
            .instances
            .iter()
            .filter(|r| r.name == container.name)
            .map(|r| r.attempt + 1)
            .max()
            .unwrap_or(0);
        self.create_container(pod, container, &image, attempt).await
    }

    async fn stop_pod(&self, uid: &str, grace: Duration) {
        stop::stop_pod(&self.inner, uid, grace);
    }

    async fn kill_container(&self, uid: &str, container: &str, grace: Duration) {
        stop::kill_container(&self.inner, uid, container, grace);
    }

    async fn remove_pod(&self, uid: &str) {
        stop::remove_pod(&self.inner, uid).await;
    }

    async fn pod_status(&self, uid: &str) -> Option<RuntimePod> {
        let entry = self.inner.entry(uid)?;
        let ips = entry.sandbox.as_ref().map(|s| s.ips.clone());
        let mut containers: Vec<ContainerInstance> = entry
            .instances
            .iter()
            .map(|r| instance_of(r, self.inner.state_of(uid, r)))
            .collect();
        containers.sort_by_key(|c| match c.state {
            RtState::Running { started_at } | RtState::Exited { started_at, .. } => started_at,
        });
        let now = Utc::now();
        let next_change = entry
            .stopping_until
            .filter(|t| *t > now && containers.iter().any(ContainerInstance::is_running));
        Some(RuntimePod {
            uid: uid.to_string(),
            sandbox: match ips {
                Some(ips) => SandboxState::Ready { ips },
                None => SandboxState::Creating,
            },
            containers,
            next_change,
        })
    }

    async fn list_pods(&self) -> Vec<String> {
        self.inner.pods().keys().cloned().collect()
    }

    async fn probe(&self, pod: &Pod, container: &Container, probe: &Probe) -> ProbeOutcome {
        let uid = &pod.metadata.uid;
        let Some(entry) = self.inner.entry(uid) else {
            return ProbeOutcome::Failure;
        };
        let timeout = crate::probe::timeout_of(probe.timeout_seconds);
        if let Some(exec) = &probe.exec {
            let running = entry
                .instances
                .iter()
                .rev()
                .find(|r| r.name == container.name)
                .filter(|r| {
                    self.inner
                        .state_of(uid, r)
                        .is_some_and(|s| s.finished_at.is_none())
                });
            let Some(r) = running else {
                return ProbeOutcome::Failure;
            };
            return match self.inner.runc.exec(&r.id, &exec.command, timeout).await {
                Ok(0) => ProbeOutcome::Success,
                Ok(_) => ProbeOutcome::Failure,
                Err(e) => {
                    tracing::debug!(pod = %pod.metadata.name, container = %container.name, error = %e, "exec probe failed");
                    ProbeOutcome::Failure
                }
            };
        }
        let Some(ip) = entry.sandbox.as_ref().and_then(|s| s.ips.first().copied()) else {
            return ProbeOutcome::Failure;
        };
        if let Some(h) = &probe.http_get {
            return crate::probe::http_get(ip, container, h, timeout).await;
        }
        if let Some(t) = &probe.tcp_socket {
            return crate::probe::tcp_socket(ip, container, t, timeout).await;
        }
        tracing::warn!(pod = %pod.metadata.name, container = %container.name, "probe without a supported action (exec, httpGet, tcpSocket)");
        ProbeOutcome::Failure
    }

    fn set_change_notifier(&self, notify: ChangeNotifier) {
        *self
            .inner
            .notifier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(notify);
        self.watch_adopted();
    }

    fn container_log(&self, uid: &str, container: &str, attempt: u32) -> Option<PathBuf> {
        let entry = self.inner.entry(uid)?;
        let m = &entry.pod.metadata;
        let path = self
            .inner
            .layout
            .log_file(&m.namespace, &m.name, uid, container, attempt);
        path.exists().then_some(path)
    }
}
