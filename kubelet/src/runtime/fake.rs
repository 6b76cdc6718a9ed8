//! The fake runtime of hollow nodes: nothing runs, but every pod goes
//! through the life a real one would, on a schedule.
//!
//! - A pod's sandbox takes `--fake-start-latency` to set up (the pod shows
//!   `ContainerCreating` meanwhile); its IP comes from the node's
//!   `podCIDR` ([`IpAllocator`]), held until the pod is removed.
//! - Containers then start at once and run until stopped. Init containers
//!   finish (exit 0) as soon as they start.
//! - Stopping honours the grace period as an upper bound only: a fake
//!   process exits cleanly (code 0) `--fake-stop-latency` after SIGTERM
//!   (default at once); if that is longer than the grace period it is
//!   killed at the deadline (code 137).
//!
//! Test hooks, for making pods misbehave on purpose:
//!
//! - **Probes that fail**: a probe (readiness, liveness or startup)
//!   whose `exec.command` is `["fail"]` always fails — a readiness probe
//!   keeps the pod from ever becoming Ready. `["fail-after", "N"]`
//!   succeeds N times for each container instance, then fails (a liveness
//!   probe that kills the container after a while); `["succeed-after",
//!   "N"]` fails N times for each instance, then succeeds (a slow
//!   startup). Every other probe succeeds.
//! - **Crashing containers**: the pod annotations
//!   `fake.tugboat.dev/exit-after: "2s"` and `fake.tugboat.dev/exit-code:
//!   "1"` make every container (init containers included) exit that long
//!   after each start with that code (default 0). The kubelet then
//!   applies the pod's `restartPolicy` as for any container: restart with
//!   CrashLoopBackOff, or let the pod end Failed/Succeeded. With
//!   `fake.tugboat.dev/exit-reason: "OOMKilled"` those exits report that
//!   reason (as a runtime does for a container the OOM killer ended).
//! - **Images that cannot be had**: an image whose name ends in
//!   `:fail-pull` never pulls (`ErrImagePull`, then the kubelet backs off:
//!   `ImagePullBackOff`); a name that is not a valid reference (upper
//!   case in the repository, spaces, empty) is `InvalidImageName`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use tug_api::core::{Container, ContainerStatus, Pod, Probe};
use tug_api::duration::parse_duration;

use super::ipam::IpAllocator;
use super::{
    ContainerInstance, InstanceState, ProbeOutcome, Runtime, RuntimeError, RuntimePod,
    SandboxNetwork, SandboxState,
};
use crate::clock::{system_clock, Clock};

/// Makes every container exit this long after it starts (a Go duration).
pub const ANNOTATION_EXIT_AFTER: &str = "fake.tugboat.dev/exit-after";
/// The exit code of containers that exit by [`ANNOTATION_EXIT_AFTER`].
pub const ANNOTATION_EXIT_CODE: &str = "fake.tugboat.dev/exit-code";
/// The reason (`OOMKilled`) reported for exits by [`ANNOTATION_EXIT_AFTER`].
pub const ANNOTATION_EXIT_REASON: &str = "fake.tugboat.dev/exit-reason";
/// The probe command that always fails.
pub const FAILING_PROBE_COMMAND: &str = "fail";
/// `["fail-after", "N"]`: N successes per container instance, then failures.
pub const FAIL_AFTER_PROBE_COMMAND: &str = "fail-after";
/// `["succeed-after", "N"]`: N failures per container instance, then successes.
pub const SUCCEED_AFTER_PROBE_COMMAND: &str = "succeed-after";
/// Images whose name ends with this never pull.
pub const FAIL_PULL_SUFFIX: &str = ":fail-pull";
/// `containerRuntimeVersion` of the fake runtime.
pub const VERSION: &str = "fake://0.1";

/// The exit code of a process killed with SIGKILL.
const EXIT_KILLED: i32 = 137;

/// The timings of the fake runtime.
#[derive(Clone, Copy, Debug)]
pub struct FakeConfig {
    /// How long a sandbox takes to set up (`--fake-start-latency`).
    pub start_latency: Duration,
    /// How long a process takes to exit after SIGTERM (`--fake-stop-latency`).
    pub stop_latency: Duration,
}

/// The fake runtime of one node.
pub struct FakeRuntime {
    config: FakeConfig,
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// One allocator per pod CIDR the node has had.
    ipam: HashMap<IpNet, IpAllocator>,
    pods: HashMap<String, FakePod>,
}

struct FakePod {
    /// The range its IP came from (none for a host-network pod).
    cidr: Option<IpNet>,
    ip: IpAddr,
    ready_at: DateTime<Utc>,
    containers: Vec<FakeContainer>,
}

struct FakeContainer {
    name: String,
    image: String,
    attempt: u32,
    started_at: DateTime<Utc>,
    /// When and with what code the process ends, if it does.
    exit: Option<(DateTime<Utc>, i32)>,
    /// The reason the runtime gives for that exit (`OOMKilled`).
    exit_reason: Option<String>,
    /// How many times each probe command ran against this instance.
    probes_run: HashMap<Vec<String>, u32>,
}

impl FakeContainer {
    fn state(&self, now: DateTime<Utc>) -> InstanceState {
        match self.exit {
            Some((at, code)) if at <= now => InstanceState::Exited {
                started_at: self.started_at,
                finished_at: at,
                exit_code: code,
                reason: self.exit_reason.clone(),
            },
            _ => InstanceState::Running {
                started_at: self.started_at,
            },
        }
    }
}

/// How a container of this pod behaves once started: it exits after the
/// returned delay with the returned code, or runs until stopped.
fn scripted_exit(pod: &Pod, init: bool) -> Option<(Duration, i32)> {
    let ann = &pod.metadata.annotations;
    let code = match ann.get(ANNOTATION_EXIT_CODE) {
        Some(c) => c.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(pod = %pod.metadata.name, value = %c, "ignoring an invalid {ANNOTATION_EXIT_CODE}");
            0
        }),
        None => 0,
    };
    let after = ann.get(ANNOTATION_EXIT_AFTER).and_then(|v| {
        parse_duration(v)
            .map_err(|e| tracing::warn!(pod = %pod.metadata.name, error = %e, "ignoring an invalid {ANNOTATION_EXIT_AFTER}"))
            .ok()
    });
    match (after, init) {
        (Some(d), _) => Some((d, code)),
        (None, true) => Some((Duration::ZERO, 0)),
        (None, false) => None,
    }
}

/// The reason scripted exits report ([`ANNOTATION_EXIT_REASON`]).
fn scripted_exit_reason(pod: &Pod) -> Option<String> {
    pod.metadata
        .annotations
        .get(ANNOTATION_EXIT_REASON)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
}

/// Whether `image` can be had, as a pull would find out.
fn pull(container: &Container) -> Result<(), RuntimeError> {
    let image = &container.image;
    let repository = image.split(['@']).next().unwrap_or_default();
    let repository = match repository.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => repository,
    };
    let valid = !repository.is_empty()
        && !image.chars().any(char::is_whitespace)
        && !repository.chars().any(|c| c.is_ascii_uppercase());
    if !valid {
        return Err(RuntimeError::ImagePull {
            container: container.name.clone(),
            reason: "InvalidImageName".into(),
            message: format!(
                "Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format"
            ),
        });
    }
    if image.ends_with(FAIL_PULL_SUFFIX) {
        return Err(RuntimeError::ImagePull {
            container: container.name.clone(),
            reason: "ErrImagePull".into(),
            message: format!(
                "failed to pull and unpack image \"{image}\": {image}: not found (the fake registry never has {FAIL_PULL_SUFFIX} images)"
            ),
        });
    }
    Ok(())
}

/// The outcome of the fake's probe `command`, run for the `run`-th time
/// (from 1) against one container instance.
fn scripted_probe(command: &[String], run: u32) -> ProbeOutcome {
    let count = || {
        command
            .get(1)
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0)
    };
    let succeeds = match command.first().map(String::as_str) {
        Some(FAILING_PROBE_COMMAND) if command.len() == 1 => false,
        Some(FAIL_AFTER_PROBE_COMMAND) => run <= count(),
        Some(SUCCEED_AFTER_PROBE_COMMAND) => run > count(),
        _ => true,
    };
    if succeeds {
        ProbeOutcome::Success
    } else {
        ProbeOutcome::Failure
    }
}

fn is_init_container(pod: &Pod, name: &str) -> bool {
    pod.spec.init_containers.iter().any(|c| c.name == name)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl FakeRuntime {
    /// A fake runtime with the real clock.
    pub fn new(config: FakeConfig) -> FakeRuntime {
        FakeRuntime::with_clock(config, system_clock())
    }

    /// A fake runtime reading the time from `clock`.
    pub fn with_clock(config: FakeConfig, clock: Clock) -> FakeRuntime {
        FakeRuntime {
            config,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn view(&self, uid: &str, pod: &FakePod) -> RuntimePod {
        let now = (self.clock)();
        let sandbox = if pod.ready_at <= now {
            SandboxState::Ready { ips: vec![pod.ip] }
        } else {
            SandboxState::Creating
        };
        let mut next_change = (pod.ready_at > now).then_some(pod.ready_at);
        let containers = pod
            .containers
            .iter()
            .map(|c| {
                if let Some((at, _)) = c.exit.filter(|(at, _)| *at > now) {
                    next_change = Some(next_change.map_or(at, |n| n.min(at)));
                }
                ContainerInstance {
                    name: c.name.clone(),
                    id: format!("fake://{}-{}-{}", short(uid), c.name, c.attempt),
                    attempt: c.attempt,
                    image: c.image.clone(),
                    image_id: c.image.clone(),
                    state: c.state(now),
                }
            })
            .collect();
        RuntimePod {
            uid: uid.to_string(),
            sandbox,
            containers,
            next_change,
        }
    }
}

fn short(uid: &str) -> &str {
    uid.get(..8).unwrap_or(uid)
}

impl FakeRuntime {
    /// Stop the containers `which` picks: they exit cleanly after the
    /// stop latency, or are killed when the grace period is shorter.
    fn stop_where(&self, uid: &str, grace: Duration, which: impl Fn(&FakeContainer) -> bool) {
        let now = (self.clock)();
        let (at, code) = if self.config.stop_latency <= grace {
            (now + chrono_duration(self.config.stop_latency), 0)
        } else {
            (now + chrono_duration(grace), EXIT_KILLED)
        };
        let mut state = self.state();
        let Some(fake) = state.pods.get_mut(uid) else {
            return;
        };
        for c in fake.containers.iter_mut().filter(|c| which(c)) {
            let ends_sooner = c.exit.is_some_and(|(own, _)| own <= at);
            if !ends_sooner {
                c.exit = Some((at, code));
                c.exit_reason = None;
            }
        }
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    async fn run_pod_sandbox(
        &self,
        pod: &Pod,
        network: SandboxNetwork,
    ) -> Result<(), RuntimeError> {
        let uid = &pod.metadata.uid;
        let now = (self.clock)();
        let mut state = self.state();
        if state.pods.contains_key(uid) {
            return Ok(());
        }
        let (cidr, ip) = match network {
            SandboxNetwork::Host(ip) => (None, ip),
            SandboxNetwork::PodCidr(cidr) => {
                let ip = state
                    .ipam
                    .entry(cidr)
                    .or_insert_with(|| IpAllocator::new(cidr))
                    .allocate(uid)
                    .map_err(|e| RuntimeError::Network(e.to_string()))?;
                (Some(cidr), ip)
            }
        };
        state.pods.insert(
            uid.clone(),
            FakePod {
                cidr,
                ip,
                ready_at: now + chrono_duration(self.config.start_latency),
                containers: Vec::new(),
            },
        );
        Ok(())
    }

    async fn start_container(&self, pod: &Pod, container: &Container) -> Result<(), RuntimeError> {
        let now = (self.clock)();
        let mut state = self.state();
        let fake = state
            .pods
            .get_mut(&pod.metadata.uid)
            .ok_or_else(|| RuntimeError::NoSandbox(pod.metadata.name.clone()))?;
        pull(container)?;
        if fake.ready_at > now {
            return Err(RuntimeError::StartContainer {
                container: container.name.clone(),
                reason: "the pod sandbox is not ready".into(),
            });
        }
        let previous = fake
            .containers
            .iter()
            .filter(|c| c.name == container.name)
            .max_by_key(|c| c.attempt);
        if previous.is_some_and(|c| matches!(c.state(now), InstanceState::Running { .. })) {
            return Err(RuntimeError::StartContainer {
                container: container.name.clone(),
                reason: "it is already running".into(),
            });
        }
        let attempt = previous.map_or(0, |c| c.attempt + 1);
        // Keep the latest exited instance (for lastState) and the new one.
        fake.containers
            .retain(|c| c.name != container.name || c.attempt + 1 == attempt);
        let init = is_init_container(pod, &container.name);
        fake.containers.push(FakeContainer {
            name: container.name.clone(),
            image: container.image.clone(),
            attempt,
            started_at: now,
            exit: scripted_exit(pod, init).map(|(d, code)| (now + chrono_duration(d), code)),
            exit_reason: scripted_exit_reason(pod),
            probes_run: HashMap::new(),
        });
        Ok(())
    }

    async fn stop_pod(&self, uid: &str, grace: Duration) {
        self.stop_where(uid, grace, |_| true);
    }

    async fn kill_container(&self, uid: &str, container: &str, grace: Duration) {
        self.stop_where(uid, grace, |c| c.name == container);
    }

    async fn remove_pod(&self, uid: &str) {
        let mut state = self.state();
        if let Some(cidr) = state.pods.remove(uid).and_then(|p| p.cidr) {
            if let Some(ipam) = state.ipam.get_mut(&cidr) {
                ipam.release(uid);
            }
        }
    }

    async fn pod_status(&self, uid: &str) -> Option<RuntimePod> {
        let state = self.state();
        state.pods.get(uid).map(|p| self.view(uid, p))
    }

    async fn list_pods(&self) -> Vec<String> {
        self.state().pods.keys().cloned().collect()
    }

    /// The scripted outcome of the probe's `exec.command` (see the test
    /// hooks above); counted per container instance.
    async fn probe(&self, pod: &Pod, container: &Container, probe: &Probe) -> ProbeOutcome {
        let Some(command) = probe.exec.as_ref().map(|e| &e.command) else {
            return ProbeOutcome::Success;
        };
        let mut state = self.state();
        let instance = state.pods.get_mut(&pod.metadata.uid).and_then(|p| {
            p.containers
                .iter_mut()
                .filter(|c| c.name == container.name)
                .max_by_key(|c| c.attempt)
        });
        let run = match instance {
            Some(c) => {
                let run = c.probes_run.entry(command.clone()).or_insert(0);
                *run += 1;
                *run
            }
            None => 1,
        };
        scripted_probe(command, run)
    }

    /// Restore a pod from its last reported status: its IP (if still in
    /// the range and free) and its containers as they were, running ones
    /// keeping their start time (and their scripted exit).
    async fn recover_pod(&self, pod: &Pod, network: SandboxNetwork) {
        let uid = &pod.metadata.uid;
        let now = (self.clock)();
        let mut state = self.state();
        if state.pods.contains_key(uid) {
            return;
        }
        let (cidr, ip) = match network {
            SandboxNetwork::Host(ip) => (None, ip),
            SandboxNetwork::PodCidr(cidr) => {
                let Ok(ip) = pod.status.pod_ip.parse::<IpAddr>() else {
                    return;
                };
                let reserved = state
                    .ipam
                    .entry(cidr)
                    .or_insert_with(|| IpAllocator::new(cidr))
                    .reserve(uid, ip);
                if !reserved {
                    return;
                }
                (Some(cidr), ip)
            }
        };
        let statuses = pod
            .status
            .init_container_statuses
            .iter()
            .chain(&pod.status.container_statuses);
        let containers = statuses
            .filter_map(|s| recovered_container(pod, s))
            .collect();
        state.pods.insert(
            uid.clone(),
            FakePod {
                cidr,
                ip,
                ready_at: now,
                containers,
            },
        );
    }
}

/// The instance a reported container status describes, if it ran.
fn recovered_container(pod: &Pod, s: &ContainerStatus) -> Option<FakeContainer> {
    let attempt = u32::try_from(s.restart_count).unwrap_or(0);
    let base = |started_at: DateTime<Utc>, exit, exit_reason| FakeContainer {
        name: s.name.clone(),
        image: s.image.clone(),
        attempt,
        started_at,
        exit,
        exit_reason,
        probes_run: HashMap::new(),
    };
    if let Some(r) = &s.state.running {
        let started_at = r.started_at.map_or_else(Utc::now, |t| t.0);
        let init = is_init_container(pod, &s.name);
        let exit =
            scripted_exit(pod, init).map(|(d, code)| (started_at + chrono_duration(d), code));
        return Some(base(started_at, exit, scripted_exit_reason(pod)));
    }
    let terminated = s
        .state
        .terminated
        .as_ref()
        .or(s.last_state.terminated.as_ref())?;
    let finished = terminated.finished_at.map(|t| t.0).unwrap_or_else(Utc::now);
    let started = terminated.started_at.map_or(finished, |t| t.0);
    let reason = Some(terminated.reason.clone()).filter(|r| r == "OOMKilled");
    Some(base(
        started,
        Some((finished, terminated.exit_code)),
        reason,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    use tug_api::core::ExecAction;

    /// A clock the test moves by hand (milliseconds since an epoch).
    fn manual_clock() -> (Clock, Arc<AtomicI64>) {
        let base = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let ms = Arc::new(AtomicI64::new(0));
        let m = ms.clone();
        let clock: Clock =
            Arc::new(move || base + chrono::Duration::milliseconds(m.load(Ordering::SeqCst)));
        (clock, ms)
    }

    fn pod(annotations: &[(&str, &str)]) -> Pod {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "0123456789abcdef"},
            "spec": {
                "initContainers": [{"name": "setup", "image": "busybox"}],
                "containers": [{"name": "app", "image": "nginx"}]
            }
        }))
        .unwrap();
        for (k, v) in annotations {
            pod.metadata
                .annotations
                .insert(k.to_string(), v.to_string());
        }
        pod
    }

    fn runtime(start_ms: u64, stop_ms: u64) -> (FakeRuntime, Arc<AtomicI64>) {
        let (clock, ms) = manual_clock();
        let config = FakeConfig {
            start_latency: Duration::from_millis(start_ms),
            stop_latency: Duration::from_millis(stop_ms),
        };
        (FakeRuntime::with_clock(config, clock), ms)
    }

    fn cidr() -> SandboxNetwork {
        SandboxNetwork::PodCidr("10.244.1.0/24".parse().unwrap())
    }

    #[tokio::test]
    async fn sandbox_is_ready_after_the_start_latency() {
        let (rt, ms) = runtime(500, 0);
        let p = pod(&[]);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        let st = rt.pod_status("0123456789abcdef").await.unwrap();
        assert_eq!(st.sandbox, SandboxState::Creating);
        assert!(st.next_change.is_some(), "it says when to look again");
        assert!(rt.start_container(&p, &p.spec.containers[0]).await.is_err());
        ms.store(500, Ordering::SeqCst);
        let st = rt.pod_status("0123456789abcdef").await.unwrap();
        assert_eq!(st.ips(), &["10.244.1.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(st.next_change, None);
    }

    #[tokio::test]
    async fn init_containers_finish_and_scripted_containers_exit() {
        let (rt, ms) = runtime(0, 0);
        let p = pod(&[(ANNOTATION_EXIT_AFTER, "2s"), (ANNOTATION_EXIT_CODE, "3")]);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(st.latest("app").unwrap().is_running());
        assert_eq!(
            st.next_change.unwrap() - (rt.clock)(),
            chrono::Duration::seconds(2)
        );
        ms.store(2000, Ordering::SeqCst);
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(matches!(
            st.latest("app").unwrap().state,
            InstanceState::Exited { exit_code: 3, .. }
        ));
        // A restart is the next attempt; the exited one stays as previous.
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert_eq!(st.latest("app").unwrap().attempt, 1);
        assert_eq!(st.previous("app").unwrap().attempt, 0);

        let plain = pod(&[]);
        let mut plain = plain.clone();
        plain.metadata.uid = "other-pod-uid".into();
        rt.run_pod_sandbox(&plain, cidr()).await.unwrap();
        rt.start_container(&plain, &plain.spec.init_containers[0])
            .await
            .unwrap();
        let st = rt.pod_status("other-pod-uid").await.unwrap();
        assert!(matches!(
            st.latest("setup").unwrap().state,
            InstanceState::Exited { exit_code: 0, .. }
        ));
    }

    #[tokio::test]
    async fn stop_honours_the_grace_period_as_an_upper_bound() {
        let (rt, ms) = runtime(0, 5_000);
        let p = pod(&[]);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
        rt.stop_pod(&p.metadata.uid, Duration::from_secs(2)).await;
        assert!(rt.pod_status(&p.metadata.uid).await.unwrap().any_running());
        ms.store(2_000, Ordering::SeqCst);
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(
            matches!(
                st.latest("app").unwrap().state,
                InstanceState::Exited { exit_code: 137, .. }
            ),
            "killed at the deadline"
        );

        let (rt, _) = runtime(0, 0);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
        rt.stop_pod(&p.metadata.uid, Duration::from_secs(30)).await;
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(
            matches!(
                st.latest("app").unwrap().state,
                InstanceState::Exited { exit_code: 0, .. }
            ),
            "exits cleanly at once on SIGTERM"
        );
    }

    #[tokio::test]
    async fn remove_frees_the_ip() {
        let (rt, _) = runtime(0, 0);
        let mut a = pod(&[]);
        rt.run_pod_sandbox(&a, cidr()).await.unwrap();
        let ip_a = rt.pod_status(&a.metadata.uid).await.unwrap().ips()[0];
        rt.remove_pod(&a.metadata.uid).await;
        assert!(rt.pod_status(&a.metadata.uid).await.is_none());
        assert!(rt.list_pods().await.is_empty());
        // The range wraps around to the freed IP eventually.
        let mut seen = Vec::new();
        for i in 0..253 {
            a.metadata.uid = format!("pod-{i}");
            rt.run_pod_sandbox(&a, cidr()).await.unwrap();
            seen.push(rt.pod_status(&a.metadata.uid).await.unwrap().ips()[0]);
        }
        assert!(seen.contains(&ip_a));
        a.metadata.uid = "one-more".into();
        assert!(matches!(
            rt.run_pod_sandbox(&a, cidr()).await,
            Err(RuntimeError::Network(_))
        ));
    }

    #[tokio::test]
    async fn host_network_pods_share_the_node_ip() {
        let (rt, _) = runtime(0, 0);
        let p = pod(&[]);
        let host: IpAddr = "10.200.0.9".parse().unwrap();
        rt.run_pod_sandbox(&p, SandboxNetwork::Host(host))
            .await
            .unwrap();
        assert_eq!(rt.pod_status(&p.metadata.uid).await.unwrap().ips(), &[host]);
        rt.remove_pod(&p.metadata.uid).await;
        assert!(rt.list_pods().await.is_empty());
    }

    #[tokio::test]
    async fn only_the_fail_command_fails() {
        let (rt, _) = runtime(0, 0);
        let p = pod(&[]);
        let exec = |cmd: &[&str]| Probe {
            exec: Some(ExecAction {
                command: cmd.iter().map(|s| s.to_string()).collect(),
            }),
            ..Default::default()
        };
        let c = &p.spec.containers[0];
        assert_eq!(
            rt.probe(&p, c, &exec(&["fail"])).await,
            ProbeOutcome::Failure
        );
        assert_eq!(
            rt.probe(&p, c, &exec(&["true"])).await,
            ProbeOutcome::Success
        );
        assert_eq!(
            rt.probe(&p, c, &Probe::default()).await,
            ProbeOutcome::Success
        );
    }

    #[tokio::test]
    async fn recovers_a_pod_from_its_reported_status() {
        let (rt, _) = runtime(500, 0);
        let mut p = pod(&[]);
        p.status = serde_json::from_value(serde_json::json!({
            "phase": "Running",
            "podIP": "10.244.1.40",
            "containerStatuses": [{
                "name": "app", "image": "nginx", "imageID": "", "ready": true, "restartCount": 2,
                "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
                "lastState": {}
            }]
        }))
        .unwrap();
        rt.recover_pod(&p, cidr()).await;
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert_eq!(st.ips(), &["10.244.1.40".parse::<IpAddr>().unwrap()]);
        let app = st.latest("app").unwrap();
        assert_eq!(app.attempt, 2);
        assert!(app.is_running());
    }

    #[tokio::test]
    async fn images_that_cannot_be_had() {
        let (rt, _) = runtime(0, 0);
        let mut p = pod(&[]);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        p.spec.containers[0].image = "registry.local/app:fail-pull".into();
        match rt.start_container(&p, &p.spec.containers[0]).await {
            Err(RuntimeError::ImagePull {
                container, reason, ..
            }) => assert_eq!(
                (container.as_str(), reason.as_str()),
                ("app", "ErrImagePull")
            ),
            other => panic!("expected ErrImagePull, got {other:?}"),
        }
        p.spec.containers[0].image = "Registry.local/App:1".into();
        assert!(matches!(
            rt.start_container(&p, &p.spec.containers[0]).await,
            Err(RuntimeError::ImagePull { reason, .. }) if reason == "InvalidImageName"
        ));
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(st.containers.is_empty(), "nothing started");
        p.spec.containers[0].image = "localhost:5000/app:1".into();
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
    }

    #[tokio::test]
    async fn scripted_exits_can_report_oom_killed() {
        let (rt, ms) = runtime(0, 0);
        let p = pod(&[
            (ANNOTATION_EXIT_AFTER, "1s"),
            (ANNOTATION_EXIT_CODE, "137"),
            (ANNOTATION_EXIT_REASON, "OOMKilled"),
        ]);
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        rt.start_container(&p, &p.spec.containers[0]).await.unwrap();
        ms.store(1000, Ordering::SeqCst);
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(matches!(
            &st.latest("app").unwrap().state,
            InstanceState::Exited { exit_code: 137, reason: Some(r), .. } if r == "OOMKilled"
        ));
    }

    #[tokio::test]
    async fn kill_container_stops_only_that_container() {
        let (rt, _) = runtime(0, 0);
        let mut p = pod(&[]);
        p.spec.containers.push(Container {
            name: "side".into(),
            image: "busybox".into(),
            ..Default::default()
        });
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        for c in &p.spec.containers {
            rt.start_container(&p, c).await.unwrap();
        }
        rt.kill_container(&p.metadata.uid, "app", Duration::from_secs(30))
            .await;
        let st = rt.pod_status(&p.metadata.uid).await.unwrap();
        assert!(!st.latest("app").unwrap().is_running());
        assert!(st.latest("side").unwrap().is_running());
    }

    #[tokio::test]
    async fn scripted_probes_count_per_instance() {
        let (rt, _) = runtime(0, 0);
        let p = pod(&[]);
        let c = &p.spec.containers[0];
        rt.run_pod_sandbox(&p, cidr()).await.unwrap();
        rt.start_container(&p, c).await.unwrap();
        let exec = |cmd: &[&str]| Probe {
            exec: Some(ExecAction {
                command: cmd.iter().map(|s| s.to_string()).collect(),
            }),
            ..Default::default()
        };
        let fail_after = exec(&["fail-after", "2"]);
        let succeed_after = exec(&["succeed-after", "1"]);
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(rt.probe(&p, c, &fail_after).await);
        }
        use ProbeOutcome::{Failure, Success};
        assert_eq!(seen, vec![Success, Success, Failure]);
        assert_eq!(rt.probe(&p, c, &succeed_after).await, Failure);
        assert_eq!(rt.probe(&p, c, &succeed_after).await, Success);
        // A new instance starts counting again.
        rt.kill_container(&p.metadata.uid, "app", Duration::ZERO)
            .await;
        rt.start_container(&p, c).await.unwrap();
        assert_eq!(rt.probe(&p, c, &fail_after).await, Success);
    }
}
