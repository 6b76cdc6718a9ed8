//! One sync of one pod (`SyncPod` / `SyncTerminatingPod` upstream):
//!
//! - gone from the API: forget it (its runtime state and IP go);
//! - being deleted: stop its containers within the grace period, report
//!   the terminal status, then confirm the deletion (delete with grace 0
//!   and a uid precondition);
//! - finished (Succeeded/Failed): remove its sandbox, free its resources;
//! - otherwise: admit it, set up its sandbox once the node has a
//!   podCIDR, start what the [plan](super::plan) says (unless a start
//!   error backs off), run the probes that are due (killing a container
//!   that failed its liveness or startup probe), and report the status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::core::{is_pod_terminal, pod_requests, Container, Pod, POD_FAILED};
use tug_client::{Action, Api, DeleteParams, Preconditions};

use super::admission::Rejection;
use super::plan::{self, is_sidecar, Plan};
use super::prober::{kill_grace, ContainerProbes, Verdict, DEFAULT_GRACE_SECONDS};
use super::start_errors::{Waiting, ERR_IMAGE_PULL};
use super::status::{pod_status, StatusInputs};
use super::status_writer::Written;
use super::{lock, PodRecord, PodWorkers};
use crate::runtime::{InstanceState, RuntimeError, RuntimePod};

/// What the probes of one sync found.
#[derive(Debug, Default)]
struct ProbeReport {
    /// Readiness of the running containers.
    ready: BTreeMap<String, bool>,
    /// Whether the running containers passed their startup probes.
    started: BTreeMap<String, bool>,
    /// When the next probe is due.
    due: Option<DateTime<Utc>>,
    /// A container was killed for failing a probe.
    killed: bool,
}

/// Run again at `wake` (if anything is due), a little after it so the
/// due time has certainly passed.
fn requeue_at(wake: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Action {
    match wake {
        None => Action::Done,
        Some(w) => {
            let delay = (w - now).to_std().unwrap_or(Duration::ZERO);
            Action::RequeueAfter(delay + Duration::from_millis(5))
        }
    }
}

/// The earliest of some optional times.
fn earliest(times: impl IntoIterator<Item = Option<DateTime<Utc>>>) -> Option<DateTime<Utc>> {
    times.into_iter().flatten().min()
}

/// Whether the pod ran before (this kubelet's previous life admitted it).
fn has_run_before(pod: &Pod) -> bool {
    pod.status.phase == "Running"
        || pod
            .status
            .container_statuses
            .iter()
            .chain(&pod.status.init_container_statuses)
            .any(|s| {
                s.state.running.is_some()
                    || s.state.terminated.is_some()
                    || s.last_state.terminated.is_some()
            })
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    pod.spec
        .init_containers
        .iter()
        .chain(&pod.spec.containers)
        .find(|c| c.name == name)
}

impl PodWorkers {
    /// Sync the pod under `key`.
    pub(super) async fn sync(self: &Arc<Self>, key: String) -> anyhow::Result<Action> {
        let Some(pod) = self.store.get(&key) else {
            self.forget(&key).await;
            return Ok(Action::Done);
        };
        let slot = self.slot_for(&key, &pod).await;
        let mut rec = slot.record.lock().await;
        if rec.deleted {
            return Ok(Action::Done);
        }
        let now = (self.ctx.clock)();
        if pod.metadata.deletion_timestamp.is_some() {
            return self.terminate(&pod, &mut rec, now).await;
        }
        if is_pod_terminal(&pod) {
            self.finished(&pod).await;
            return Ok(Action::Done);
        }
        if let Err(rejection) = self.admit(&pod) {
            self.reject(&pod, &mut rec, rejection).await?;
            return Ok(Action::Done);
        }
        self.run_pod(&key, &pod, &mut rec, now).await
    }

    fn admit(&self, pod: &Pod) -> Result<(), Rejection> {
        let mut admission = lock(&self.admission);
        let uid = &pod.metadata.uid;
        let requests = pod_requests(&pod.spec);
        if has_run_before(pod) {
            admission.force(uid, requests);
            return Ok(());
        }
        admission.admit(uid, requests)
    }

    /// Fail a pod that does not fit, as the kubelet's admission does.
    async fn reject(
        &self,
        pod: &Pod,
        rec: &mut PodRecord,
        rejection: Rejection,
    ) -> anyhow::Result<()> {
        tracing::info!(node = %self.ctx.config.name, pod = %pod.metadata.name, reason = %rejection.reason, "rejecting a pod that does not fit");
        let mut status = pod.status.clone();
        status.phase = POD_FAILED.into();
        status.reason.clone_from(&rejection.reason);
        status.message.clone_from(&rejection.message);
        if rec.writer.write(&self.ctx.client, pod, &status).await? != Written::Unchanged {
            self.ctx
                .events
                .warning(pod, &rejection.reason, rejection.message);
        }
        Ok(())
    }

    /// A pod that finished: nothing of it runs any more, its sandbox and
    /// IP go, its resources are free. Its status stays as reported.
    async fn finished(&self, pod: &Pod) {
        let uid = &pod.metadata.uid;
        if self.ctx.runtime.pod_status(uid).await.is_some() {
            self.teardown(uid).await;
        } else {
            lock(&self.admission).release(uid);
        }
    }

    /// Sync a pod that should run.
    async fn run_pod(
        &self,
        key: &str,
        pod: &Pod,
        rec: &mut PodRecord,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Action> {
        let runtime = &self.ctx.runtime;
        let uid = &pod.metadata.uid;
        let mut rt = runtime.pod_status(uid).await;
        let mut sandbox_error = None;
        if rt.is_none() {
            match self.network_for(pod) {
                None => self.wait_for_cidr(key),
                Some(network) => match runtime.run_pod_sandbox(pod, network).await {
                    Ok(()) => rt = runtime.pod_status(uid).await,
                    Err(e) => {
                        self.ctx.events.warning(
                            pod,
                            "FailedCreatePodSandBox",
                            format!("Failed to create pod sandbox: {e}"),
                        );
                        sandbox_error = Some(e);
                    }
                },
            }
        }

        let mut plan = Plan::default();
        if let Some(r) = rt.as_ref().filter(|r| !r.ips().is_empty()) {
            plan = plan::plan(pod, r, &mut rec.backoff, &rec.probe_facts, now);
            self.report_backoff(pod, r, &plan, rec);
            let mut tried = false;
            for name in &plan.start {
                let Some(c) = find_container(pod, name) else {
                    continue;
                };
                if !rec.start_errors.may_start(name, &c.image, now) {
                    continue;
                }
                tried = true;
                match runtime.start_container(pod, c).await {
                    Ok(()) => rec.start_errors.started(name, &c.image),
                    Err(e) => self.start_failed(pod, c, e, rec, now),
                }
            }
            if tried {
                rt = runtime.pod_status(uid).await;
            }
        }

        // A container killed now is still reported as it was before the
        // kill: its exit is the next sync's, which restarts it (upstream
        // kills and restarts in one sync), so a clean exit on SIGTERM
        // never reads as the pod having succeeded.
        let probes = self
            .probe_containers(pod, rt.as_ref(), rec, now, false)
            .await;
        let start_errors = self.start_errors(pod, rec, now);
        let host_ip = self.ctx.config.ip.to_string();
        let desired = pod_status(&StatusInputs {
            pod,
            runtime: rt.as_ref(),
            backing_off: &plan.backing_off,
            ready: &probes.ready,
            started: &probes.started,
            start_errors: &start_errors,
            host_ip: &host_ip,
            terminal: false,
            now,
        });
        rec.writer.write(&self.ctx.client, pod, &desired).await?;
        if let Some(e) = sandbox_error {
            return Err(e.into());
        }
        let wake = earliest([
            rt.as_ref().and_then(|r| r.next_change),
            plan.wake_at,
            probes.due,
            rec.start_errors.next_change(now),
            // A killed container: see it stop (and restart it) soon.
            probes.killed.then_some(now),
        ]);
        Ok(requeue_at(wake, now))
    }

    /// Remember why container `c` could not start, and tell.
    fn start_failed(
        &self,
        pod: &Pod,
        c: &Container,
        error: RuntimeError,
        rec: &mut PodRecord,
        now: DateTime<Utc>,
    ) {
        let events = &self.ctx.events;
        let (reason, message) = match error {
            RuntimeError::ImagePull {
                reason, message, ..
            } => {
                if reason == ERR_IMAGE_PULL {
                    events.warning(
                        pod,
                        "Failed",
                        format!("Failed to pull image \"{}\": {message}", c.image),
                    );
                } else {
                    events.warning(pod, &reason, message.clone());
                }
                (reason, message)
            }
            e @ RuntimeError::StartContainer { .. } => ("RunContainerError".into(), e.to_string()),
            e => ("CreateContainerError".into(), e.to_string()),
        };
        events.warning(pod, "Failed", format!("Error: {reason}"));
        tracing::debug!(node = %self.ctx.config.name, pod = %pod.metadata.name, container = %c.name, %reason, %message, "container failed to start");
        rec.start_errors
            .failed(&c.name, &c.image, &reason, &message, now);
    }

    /// How the containers that failed to start wait now; a `BackOff`
    /// event when an image pull back-off begins.
    fn start_errors(
        &self,
        pod: &Pod,
        rec: &mut PodRecord,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, Waiting> {
        let mut out = BTreeMap::new();
        for c in pod.spec.init_containers.iter().chain(&pod.spec.containers) {
            if rec.start_errors.take_backoff_event(&c.name, &c.image, now) {
                self.ctx.events.normal(
                    pod,
                    "BackOff",
                    format!("Back-off pulling image \"{}\"", c.image),
                );
            }
            if let Some(w) = rec.start_errors.waiting(&c.name, &c.image, now) {
                out.insert(c.name.clone(), w);
            }
        }
        out
    }

    /// Record a `BackOff` event once per container instance held back.
    fn report_backoff(&self, pod: &Pod, rt: &RuntimePod, plan: &Plan, rec: &mut PodRecord) {
        for name in plan.backing_off.keys() {
            let Some(attempt) = rt.latest(name).map(|i| i.attempt) else {
                continue;
            };
            if rec.backoff_reported.insert(name.clone(), attempt) != Some(attempt) {
                let m = &pod.metadata;
                self.ctx.events.warning(
                    pod,
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {name} in pod {}_{}({})",
                        m.name, m.namespace, m.uid
                    ),
                );
            }
        }
    }

    /// Run the probes that are due of the running app containers and
    /// sidecars (only readiness while `terminating`), kill a container
    /// that failed its liveness or startup probe, and say where they
    /// stand and when the next probe is due.
    async fn probe_containers(
        &self,
        pod: &Pod,
        rt: Option<&RuntimePod>,
        rec: &mut PodRecord,
        now: DateTime<Utc>,
        terminating: bool,
    ) -> ProbeReport {
        let mut report = ProbeReport::default();
        rec.probe_facts.not_started.clear();
        let sidecars = pod.spec.init_containers.iter().filter(|c| is_sidecar(c));
        for c in pod.spec.containers.iter().chain(sidecars) {
            let running = rt
                .and_then(|r| r.latest(&c.name))
                .and_then(|i| match i.state {
                    InstanceState::Running { started_at } => Some((i.attempt, started_at)),
                    InstanceState::Exited { .. } => None,
                });
            let Some((attempt, started_at)) = running else {
                rec.probes.remove(&c.name);
                continue;
            };
            let probes = rec
                .probes
                .entry(c.name.clone())
                .or_insert_with(|| ContainerProbes::new(c, attempt, started_at));
            if probes.attempt != attempt {
                *probes = ContainerProbes::new(c, attempt, started_at);
            }
            for kind in probes.due(now, terminating) {
                let Some(spec) = kind.of(c) else {
                    continue;
                };
                let outcome = self.ctx.runtime.probe(pod, c, spec).await;
                match probes.record(kind, outcome, now) {
                    Verdict::Nothing => {}
                    Verdict::Unready => {
                        self.ctx
                            .events
                            .warning(pod, "Unhealthy", "Readiness probe failed");
                    }
                    Verdict::Kill(kind) => {
                        let events = &self.ctx.events;
                        events.warning(pod, "Unhealthy", format!("{} probe failed", kind.title()));
                        events.normal(
                            pod,
                            "Killing",
                            format!(
                                "Container {} failed {} probe, will be restarted",
                                c.name,
                                kind.title().to_lowercase()
                            ),
                        );
                        let grace = kill_grace(pod, Some(spec));
                        self.ctx
                            .runtime
                            .kill_container(&pod.metadata.uid, &c.name, grace)
                            .await;
                        rec.probe_facts.killed.insert(c.name.clone(), attempt);
                        report.killed = true;
                        break;
                    }
                }
            }
            report.ready.insert(c.name.clone(), probes.ready());
            report.started.insert(c.name.clone(), probes.started());
            if !probes.started() {
                rec.probe_facts.not_started.insert(c.name.clone());
            }
            report.due = earliest([report.due, probes.next_due(terminating)]);
        }
        report
    }

    /// Sync a pod being deleted: stop it, report its end, confirm the
    /// deletion.
    async fn terminate(
        &self,
        pod: &Pod,
        rec: &mut PodRecord,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Action> {
        let runtime = &self.ctx.runtime;
        let uid = &pod.metadata.uid;
        let mut rt = runtime.pod_status(uid).await;
        if let Some(r) = rt.as_ref().filter(|r| r.any_running()) {
            if !rec.stop_requested {
                rec.stop_requested = true;
                for c in r.containers.iter().filter(|c| c.is_running()) {
                    self.ctx.events.normal(
                        pod,
                        "Killing",
                        format!("Stopping container {}", c.name),
                    );
                }
                let grace = pod
                    .metadata
                    .deletion_grace_period_seconds
                    .or(pod.spec.termination_grace_period_seconds)
                    .unwrap_or(DEFAULT_GRACE_SECONDS)
                    .max(0);
                runtime
                    .stop_pod(uid, Duration::from_secs(grace.unsigned_abs()))
                    .await;
                rt = runtime.pod_status(uid).await;
            }
        }
        let no_backoff = BTreeMap::new();
        let no_errors = BTreeMap::new();
        let host_ip = self.ctx.config.ip.to_string();
        let stopping = rt.as_ref().is_some_and(RuntimePod::any_running);
        // Containers still stopping keep being probed for readiness (a
        // terminating pod may still serve); stopped ones are not ready.
        let probes = self
            .probe_containers(pod, rt.as_ref(), rec, now, true)
            .await;
        // A pod that had already finished keeps the status it ended with.
        if !is_pod_terminal(pod) {
            let desired = pod_status(&StatusInputs {
                pod,
                runtime: rt.as_ref(),
                backing_off: &no_backoff,
                ready: &probes.ready,
                started: &probes.started,
                start_errors: &no_errors,
                host_ip: &host_ip,
                terminal: !stopping,
                now,
            });
            if rec.writer.write(&self.ctx.client, pod, &desired).await? == Written::Gone {
                return Ok(Action::Done);
            }
        }
        if stopping {
            let wake = rt
                .as_ref()
                .and_then(|r| r.next_change)
                .unwrap_or(now + chrono::Duration::seconds(1));
            return Ok(requeue_at(Some(wake), now));
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &pod.metadata.namespace);
        let confirm = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&pod.metadata.name, &confirm).await {
            Ok(_) => {}
            // Gone already, or another pod by that name now.
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => return Err(e.into()),
        }
        self.teardown(uid).await;
        rec.deleted = true;
        tracing::debug!(node = %self.ctx.config.name, pod = %pod.metadata.name, "pod deleted");
        Ok(Action::Done)
    }
}
