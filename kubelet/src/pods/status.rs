//! The pod status the kubelet reports, computed from the spec, what the
//! runtime says and the decisions of this sync (`generateAPIPodStatus`,
//! `getPhase` and the condition generators upstream). Pure: everything
//! comes in as arguments, `now` included.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::core::{
    pod_qos_class, Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, IpEntry, Pod, PodCondition, PodStatus, POD_FAILED,
    POD_PENDING, POD_RUNNING, POD_SUCCEEDED,
};
use tug_api::meta::Time;

use super::plan::{is_sidecar, restart_policy};
use super::start_errors::Waiting;
use crate::runtime::{ContainerInstance, InstanceState, RuntimePod};

/// The conditions the kubelet owns (everything else on a pod is kept).
pub const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// What the status is computed from.
pub struct StatusInputs<'a> {
    /// The pod, with the status last seen in the API.
    pub pod: &'a Pod,
    /// What the runtime holds of it (`None`: nothing yet, or removed).
    pub runtime: Option<&'a RuntimePod>,
    /// Containers waiting out a CrashLoopBackOff, with its length.
    pub backing_off: &'a BTreeMap<String, Duration>,
    /// Readiness of running containers, by name.
    pub ready: &'a BTreeMap<String, bool>,
    /// Whether running containers passed their startup probe, by name
    /// (a running container missing here counts as started).
    pub started: &'a BTreeMap<String, bool>,
    /// Containers that failed to start, and how they wait meanwhile
    /// (`ErrImagePull`, `ImagePullBackOff`, `RunContainerError`, ...).
    pub start_errors: &'a BTreeMap<String, Waiting>,
    /// The node's IP.
    pub host_ip: &'a str,
    /// The pod is finished for good (deleted, its containers stopped):
    /// it gets a terminal phase whatever its restart policy.
    pub terminal: bool,
    /// The time of this sync.
    pub now: DateTime<Utc>,
}

/// The pod's new status.
pub fn pod_status(inp: &StatusInputs<'_>) -> PodStatus {
    let pod = inp.pod;
    let old = &pod.status;
    let initializing = initializing(inp);
    let statuses = |containers: &[Container], is_init: bool| -> Vec<ContainerStatus> {
        containers
            .iter()
            .map(|c| container_status(inp, c, initializing, is_init))
            .collect()
    };
    let init_statuses = statuses(&pod.spec.init_containers, true);
    let app_statuses = statuses(&pod.spec.containers, false);

    let mut phase = phase(pod, &init_statuses, &app_statuses, inp.terminal);
    // Pods never leave a terminal phase.
    if matches!(old.phase.as_str(), POD_SUCCEEDED | POD_FAILED) {
        phase = old.phase.clone();
    }

    let mut status = PodStatus {
        observed_generation: pod.metadata.generation,
        phase,
        host_ip: inp.host_ip.to_string(),
        host_ips: vec![IpEntry {
            ip: inp.host_ip.to_string(),
        }],
        start_time: old.start_time.or_else(|| Some(to_time(inp.now))),
        qos_class: if old.qos_class.is_empty() {
            pod_qos_class(&pod.spec).to_string()
        } else {
            old.qos_class.clone()
        },
        init_container_statuses: init_statuses,
        container_statuses: app_statuses,
        nominated_node_name: old.nominated_node_name.clone(),
        resize: old.resize.clone(),
        ..Default::default()
    };
    if status.phase == old.phase {
        status.reason = old.reason.clone();
        status.message = old.message.clone();
    }
    let ips = inp.runtime.map(RuntimePod::ips).unwrap_or_default();
    if ips.is_empty() {
        status.pod_ip = old.pod_ip.clone();
        status.pod_ips = old.pod_ips.clone();
    } else {
        status.pod_ip = ips[0].to_string();
        status.pod_ips = ips
            .iter()
            .map(|ip| IpEntry { ip: ip.to_string() })
            .collect();
    }
    status.conditions = conditions(inp, &status);
    status
}

/// `Completed` for exit code 0, else `Error`.
fn exit_reason(code: i32) -> &'static str {
    if code == 0 {
        "Completed"
    } else {
        "Error"
    }
}

fn to_time(t: DateTime<Utc>) -> Time {
    Time(DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t))
}

fn terminated(inst: &ContainerInstance) -> Option<ContainerStateTerminated> {
    match &inst.state {
        InstanceState::Exited {
            started_at,
            finished_at,
            exit_code,
            reason,
        } => Some(ContainerStateTerminated {
            exit_code: *exit_code,
            reason: reason
                .clone()
                .unwrap_or_else(|| exit_reason(*exit_code).into()),
            started_at: Some(to_time(*started_at)),
            finished_at: Some(to_time(*finished_at)),
            container_id: inst.id.clone(),
            ..Default::default()
        }),
        InstanceState::Running { .. } => None,
    }
}

/// Whether the init containers still have work to do: one has not
/// finished successfully, or a sidecar is not running and started.
fn initializing(inp: &StatusInputs<'_>) -> bool {
    inp.pod.spec.init_containers.iter().any(|c| {
        let latest = inp.runtime.and_then(|rt| rt.latest(&c.name));
        match latest.map(|i| &i.state) {
            Some(InstanceState::Running { .. }) if is_sidecar(c) => {
                !inp.started.get(&c.name).copied().unwrap_or(true)
            }
            Some(InstanceState::Exited { exit_code: 0, .. }) => is_sidecar(c),
            _ => true,
        }
    })
}

/// One container's status. `initializing`: the pod's init containers
/// still run.
fn container_status(
    inp: &StatusInputs<'_>,
    c: &Container,
    initializing: bool,
    is_init: bool,
) -> ContainerStatus {
    let start_error = inp.start_errors.get(&c.name).filter(|_| !inp.terminal);
    let mut cs = ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        started: Some(false),
        ..Default::default()
    };
    let Some(inst) = inp.runtime.and_then(|rt| rt.latest(&c.name)) else {
        cs.state = if inp.terminal {
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: "ContainerStatusUnknown".into(),
                    message: "The container could not be located when the pod was terminated"
                        .into(),
                    ..Default::default()
                }),
                ..Default::default()
            }
        } else if let Some(w) = start_error {
            waiting(&w.reason, w.message.clone())
        } else {
            // Init containers not yet run, and app containers while the
            // init containers run, wait for the pod to initialise.
            let reason = if initializing && (is_init || !inp.pod.spec.init_containers.is_empty()) {
                "PodInitializing"
            } else {
                "ContainerCreating"
            };
            waiting(reason, String::new())
        };
        return cs;
    };
    cs.restart_count = i32::try_from(inst.attempt).unwrap_or(i32::MAX);
    cs.image_id = inst.image_id.clone();
    cs.container_id = inst.id.clone();
    let previous = inp.runtime.and_then(|rt| rt.previous(&c.name));
    let last_terminated = || ContainerState {
        terminated: previous.and_then(terminated),
        ..Default::default()
    };
    match inst.state {
        InstanceState::Running { started_at } => {
            cs.state = ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(to_time(started_at)),
                }),
                ..Default::default()
            };
            cs.last_state = last_terminated();
            cs.started = Some(inp.started.get(&c.name).copied().unwrap_or(true));
            cs.ready = inp.ready.get(&c.name).copied().unwrap_or(false);
        }
        InstanceState::Exited { exit_code, .. } => {
            let backoff = inp.backing_off.get(&c.name).filter(|_| !inp.terminal);
            if let Some(w) = start_error {
                // Its restart failed (the image could not be pulled, say).
                cs.state = waiting(&w.reason, w.message.clone());
                cs.last_state = ContainerState {
                    terminated: terminated(inst),
                    ..Default::default()
                };
            } else if let Some(backoff) = backoff {
                let pod = &inp.pod.metadata;
                let message = format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    go_duration(*backoff),
                    c.name,
                    pod.name,
                    pod.namespace,
                    pod.uid
                );
                cs.state = waiting("CrashLoopBackOff", message);
                cs.last_state = ContainerState {
                    terminated: terminated(inst),
                    ..Default::default()
                };
            } else {
                cs.state = ContainerState {
                    terminated: terminated(inst),
                    ..Default::default()
                };
                cs.last_state = last_terminated();
                // A finished init container counts as ready, as upstream.
                cs.ready = exit_code == 0 && is_init && !is_sidecar(c);
            }
        }
    }
    cs
}

fn waiting(reason: &str, message: String) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: reason.into(),
            message,
        }),
        ..Default::default()
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `500ms`).
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        return format!("{}ms", d.as_millis());
    }
    if secs < 60.0 {
        return format!("{secs}s");
    }
    let minutes = (secs / 60.0).floor();
    format!("{}m{}s", minutes as u64, secs - minutes * 60.0)
}

fn status_of<'a>(list: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    list.iter().find(|s| s.name == name)
}

/// Whether a status counts as "known" (the runtime has an instance).
fn has_run(s: &ContainerStatus) -> bool {
    s.state.running.is_some() || s.state.terminated.is_some() || s.last_state.terminated.is_some()
}

/// The pod phase (`getPhase` upstream).
pub fn phase(
    pod: &Pod,
    init: &[ContainerStatus],
    apps: &[ContainerStatus],
    terminal: bool,
) -> String {
    let policy = restart_policy(pod);
    let mut pending_init = 0;
    let mut failed_init = 0;
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for c in &pod.spec.init_containers {
        let Some(s) = status_of(init, &c.name) else {
            pending_init += 1;
            continue;
        };
        if is_sidecar(c) {
            if s.state.running.is_some() {
                if s.started != Some(true) {
                    pending_init += 1;
                }
                running += 1;
            } else if s.state.terminated.is_none() && s.last_state.terminated.is_none() {
                pending_init += 1;
                waiting += 1;
            }
            continue;
        }
        if s.state.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &s.state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if let Some(t) = &s.last_state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else {
            pending_init += 1;
        }
    }
    for c in &pod.spec.containers {
        let Some(s) = status_of(apps, &c.name) else {
            unknown += 1;
            continue;
        };
        if s.state.running.is_some() {
            running += 1;
        } else if let Some(t) = &s.state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s.last_state.terminated.is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if failed_init > 0 && policy == "Never" {
        return POD_FAILED.into();
    }
    let any_app_started = apps.iter().any(has_run);
    let phase = if (pending_init > 0 && !any_app_started) || waiting > 0 {
        POD_PENDING
    } else if running > 0 && unknown == 0 {
        POD_RUNNING
    } else if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            if stopped == succeeded {
                POD_SUCCEEDED
            } else {
                POD_FAILED
            }
        } else if policy == "Always" {
            POD_RUNNING
        } else if stopped == succeeded {
            POD_SUCCEEDED
        } else if policy == "Never" {
            POD_FAILED
        } else {
            POD_RUNNING
        }
    } else {
        POD_PENDING
    };
    phase.into()
}

/// A condition of `type_`, with its transition time carried over from
/// the old one when the status did not change.
fn condition(
    old: &[PodCondition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    now: DateTime<Utc>,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let previous = old.iter().find(|c| c.type_ == type_);
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time,
        _ => Some(to_time(now)),
    };
    PodCondition {
        type_: type_.into(),
        status: status.into(),
        last_transition_time,
        reason: reason.into(),
        message,
        ..Default::default()
    }
}

fn names(list: &[&str]) -> String {
    format!("[{}]", list.join(" "))
}

/// The pod's conditions: others' kept as they are, then the kubelet's.
fn conditions(inp: &StatusInputs<'_>, st: &PodStatus) -> Vec<PodCondition> {
    let pod = inp.pod;
    let old = &pod.status.conditions;
    let now = inp.now;
    let mut out: Vec<PodCondition> = old
        .iter()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();

    let sandbox_ready = !inp.terminal && inp.runtime.is_some_and(|rt| !rt.ips().is_empty());
    out.push(condition(
        old,
        "PodReadyToStartContainers",
        sandbox_ready,
        "",
        String::new(),
        now,
    ));

    // Initialized: every init container done (sidecars: started), or the
    // app containers have started already.
    let app_started = st.container_statuses.iter().any(has_run);
    let incomplete: Vec<&str> = pod
        .spec
        .init_containers
        .iter()
        .filter(|c| {
            let s = status_of(&st.init_container_statuses, &c.name);
            if is_sidecar(c) {
                !s.is_some_and(|s| s.started == Some(true) || has_run(s))
            } else {
                let succeeded = s.and_then(|s| s.state.terminated.as_ref());
                !matches!(succeeded, Some(t) if t.exit_code == 0)
            }
        })
        .map(|c| c.name.as_str())
        .collect();
    let initialized = incomplete.is_empty() || app_started;
    out.push(if initialized {
        condition(old, "Initialized", true, "", String::new(), now)
    } else {
        condition(
            old,
            "Initialized",
            false,
            "ContainersNotInitialized",
            format!("containers with incomplete status: {}", names(&incomplete)),
            now,
        )
    });

    let containers_ready = containers_ready(inp, st);
    let ready = match &containers_ready {
        Ok(()) => readiness_gates(pod),
        Err(e) => Err(e.clone()),
    };
    let to_condition = |type_: &str, r: &Result<(), (String, String)>| match r {
        Ok(()) => condition(old, type_, true, "", String::new(), now),
        Err((reason, message)) => condition(old, type_, false, reason, message.clone(), now),
    };
    out.push(to_condition("Ready", &ready));
    out.push(to_condition("ContainersReady", &containers_ready));
    out.push(condition(old, "PodScheduled", true, "", String::new(), now));
    out
}

/// Every app container (and sidecar) ready, or why not.
fn containers_ready(inp: &StatusInputs<'_>, st: &PodStatus) -> Result<(), (String, String)> {
    let pod = inp.pod;
    let sidecars = pod.spec.init_containers.iter().filter(|c| is_sidecar(c));
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    for (c, list) in sidecars.map(|c| (c, &st.init_container_statuses)).chain(
        pod.spec
            .containers
            .iter()
            .map(|c| (c, &st.container_statuses)),
    ) {
        match status_of(list, &c.name) {
            None => unknown.push(c.name.as_str()),
            Some(s) if !s.ready => unready.push(c.name.as_str()),
            Some(_) => {}
        }
    }
    if st.phase == POD_SUCCEEDED && unknown.is_empty() {
        return Err(("PodCompleted".into(), String::new()));
    }
    let mut message = Vec::new();
    if !unknown.is_empty() {
        message.push(format!(
            "containers with unknown status: {}",
            names(&unknown)
        ));
    }
    if !unready.is_empty() {
        message.push(format!(
            "containers with unready status: {}",
            names(&unready)
        ));
    }
    if message.is_empty() {
        Ok(())
    } else {
        Err(("ContainersNotReady".into(), message.join(", ")))
    }
}

/// Every readiness gate's condition present and `True`, or why not.
fn readiness_gates(pod: &Pod) -> Result<(), (String, String)> {
    let mut problems = Vec::new();
    for gate in &pod.spec.readiness_gates {
        match pod
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == gate.condition_type)
        {
            None => problems.push(format!(
                "corresponding condition of pod readiness gate \"{}\" does not exist.",
                gate.condition_type
            )),
            Some(c) if c.status != "True" => problems.push(format!(
                "the status of pod readiness gate \"{}\" is not \"True\", but {}",
                gate.condition_type, c.status
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(("ReadinessGatesNotReady".into(), problems.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::SandboxState;
    use tug_api::core::is_pod_ready;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn pod(policy: &str, init: &[&str], apps: &[&str]) -> Pod {
        let c = |n: &&str| serde_json::json!({"name": n, "image": format!("img-{n}")});
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "uid-1", "generation": 1},
            "spec": {
                "restartPolicy": policy,
                "nodeName": "n1",
                "initContainers": init.iter().map(c).collect::<Vec<_>>(),
                "containers": apps.iter().map(c).collect::<Vec<_>>()
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2023-11-14T22:13:00Z"}]}
        }))
        .unwrap()
    }

    fn inst(name: &str, attempt: u32, state: InstanceState) -> ContainerInstance {
        ContainerInstance {
            name: name.into(),
            id: format!("fake://{name}-{attempt}"),
            attempt,
            image: format!("img-{name}"),
            image_id: format!("img-{name}"),
            state,
        }
    }

    fn running(name: &str, attempt: u32) -> ContainerInstance {
        inst(name, attempt, InstanceState::Running { started_at: t(1) })
    }

    fn exited(name: &str, attempt: u32, code: i32) -> ContainerInstance {
        inst(
            name,
            attempt,
            InstanceState::Exited {
                started_at: t(1),
                finished_at: t(2),
                exit_code: code,
                reason: None,
            },
        )
    }

    fn ready_rt(containers: Vec<ContainerInstance>) -> RuntimePod {
        RuntimePod {
            uid: "uid-1".into(),
            sandbox: SandboxState::Ready {
                ips: vec!["10.244.1.5".parse().unwrap()],
            },
            containers,
            next_change: None,
        }
    }

    struct Case {
        pod: Pod,
        rt: Option<RuntimePod>,
        backing_off: BTreeMap<String, Duration>,
        ready: BTreeMap<String, bool>,
        started: BTreeMap<String, bool>,
        start_errors: BTreeMap<String, Waiting>,
        terminal: bool,
    }

    impl Case {
        fn new(pod: Pod, rt: Option<RuntimePod>) -> Case {
            Case {
                pod,
                rt,
                backing_off: BTreeMap::new(),
                ready: BTreeMap::new(),
                started: BTreeMap::new(),
                start_errors: BTreeMap::new(),
                terminal: false,
            }
        }
        fn ready(mut self, name: &str) -> Case {
            self.ready.insert(name.into(), true);
            self
        }
        fn status(&self) -> PodStatus {
            pod_status(&StatusInputs {
                pod: &self.pod,
                runtime: self.rt.as_ref(),
                backing_off: &self.backing_off,
                ready: &self.ready,
                started: &self.started,
                start_errors: &self.start_errors,
                host_ip: "10.200.0.1",
                terminal: self.terminal,
                now: t(10),
            })
        }
    }

    fn cond<'a>(st: &'a PodStatus, type_: &str) -> &'a PodCondition {
        st.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn a_pod_without_sandbox_is_container_creating() {
        let st = Case::new(pod("Always", &[], &["app"]), None).status();
        assert_eq!(st.phase, "Pending");
        let w = st.container_statuses[0].state.waiting.as_ref().unwrap();
        assert_eq!(w.reason, "ContainerCreating");
        assert_eq!(st.host_ip, "10.200.0.1");
        assert_eq!(st.start_time, Some(Time(t(10))));
        assert!(st.pod_ip.is_empty());
        assert_eq!(cond(&st, "PodReadyToStartContainers").status, "False");
        assert_eq!(cond(&st, "Initialized").status, "True");
        let ready = cond(&st, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ContainersNotReady")
        );
        assert_eq!(ready.message, "containers with unready status: [app]");
        let sched = cond(&st, "PodScheduled");
        assert_eq!(
            sched.last_transition_time,
            Some(Time(DateTime::from_timestamp(1_699_999_980, 0).unwrap())),
            "kept"
        );
    }

    #[test]
    fn running_and_ready() {
        let case = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![running("app", 0)])),
        )
        .ready("app");
        let st = case.status();
        assert_eq!(st.phase, "Running");
        assert_eq!(st.pod_ip, "10.244.1.5");
        assert_eq!(
            st.pod_ips,
            vec![IpEntry {
                ip: "10.244.1.5".into()
            }]
        );
        let cs = &st.container_statuses[0];
        assert!(cs.ready);
        assert_eq!(cs.started, Some(true));
        assert_eq!(
            cs.state.running.as_ref().unwrap().started_at,
            Some(Time(t(1)))
        );
        let mut p = case.pod.clone();
        p.status = st;
        assert!(is_pod_ready(&p));
        assert_eq!(cond(&p.status, "ContainersReady").status, "True");
    }

    #[test]
    fn running_but_unready_is_not_ready() {
        let st = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![running("app", 0)])),
        )
        .status();
        assert_eq!(st.phase, "Running");
        assert_eq!(cond(&st, "Ready").status, "False");
        assert_eq!(cond(&st, "ContainersReady").reason, "ContainersNotReady");
    }

    #[test]
    fn crash_loop_back_off_shows_waiting_with_the_last_exit() {
        let mut case = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![exited("app", 0, 1), exited("app", 1, 1)])),
        );
        case.backing_off
            .insert("app".into(), Duration::from_secs(10));
        let st = case.status();
        assert_eq!(
            st.phase, "Running",
            "restarting containers keep the pod Running"
        );
        let cs = &st.container_statuses[0];
        assert_eq!(cs.restart_count, 1);
        let w = cs.state.waiting.as_ref().unwrap();
        assert_eq!(w.reason, "CrashLoopBackOff");
        assert_eq!(
            w.message,
            "back-off 10s restarting failed container=app pod=web_default(uid-1)"
        );
        let last = cs.last_state.terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_str()), (1, "Error"));
    }

    #[test]
    fn restarted_container_reports_its_previous_exit() {
        let st = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![exited("app", 0, 2), running("app", 1)])),
        )
        .status();
        let cs = &st.container_statuses[0];
        assert_eq!(cs.restart_count, 1);
        assert!(cs.state.running.is_some());
        assert_eq!(cs.last_state.terminated.as_ref().unwrap().exit_code, 2);
    }

    #[test]
    fn never_policy_ends_failed_or_succeeded() {
        let failed = Case::new(
            pod("Never", &[], &["a", "b"]),
            Some(ready_rt(vec![exited("a", 0, 0), exited("b", 0, 1)])),
        )
        .status();
        assert_eq!(failed.phase, "Failed");
        let ok = Case::new(
            pod("Never", &[], &["a", "b"]),
            Some(ready_rt(vec![exited("a", 0, 0), exited("b", 0, 0)])),
        )
        .status();
        assert_eq!(ok.phase, "Succeeded");
        assert_eq!(cond(&ok, "Ready").reason, "PodCompleted");
        assert_eq!(
            ok.container_statuses[0]
                .state
                .terminated
                .as_ref()
                .unwrap()
                .reason,
            "Completed"
        );
        let on_failure = Case::new(
            pod("OnFailure", &[], &["a"]),
            Some(ready_rt(vec![exited("a", 0, 0)])),
        )
        .status();
        assert_eq!(on_failure.phase, "Succeeded");
        let still_running = Case::new(
            pod("Never", &[], &["a", "b"]),
            Some(ready_rt(vec![exited("a", 0, 1), running("b", 0)])),
        )
        .status();
        assert_eq!(still_running.phase, "Running");
    }

    #[test]
    fn deleted_pods_end_in_a_terminal_phase() {
        let mut case = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![exited("app", 0, 0)])),
        );
        case.terminal = true;
        let st = case.status();
        assert_eq!(st.phase, "Succeeded");
        assert_eq!(cond(&st, "Ready").status, "False");
        assert_eq!(cond(&st, "PodReadyToStartContainers").status, "False");
        // Never started: the containers are reported lost, the pod Failed.
        let mut never = Case::new(pod("Always", &[], &["app"]), None);
        never.terminal = true;
        let st = never.status();
        assert_eq!(st.phase, "Failed");
        let t = st.container_statuses[0].state.terminated.as_ref().unwrap();
        assert_eq!(
            (t.exit_code, t.reason.as_str()),
            (137, "ContainerStatusUnknown")
        );
    }

    #[test]
    fn terminal_phases_stick() {
        let mut p = pod("Always", &[], &["app"]);
        p.status.phase = "Failed".into();
        let st = Case::new(p, Some(ready_rt(vec![running("app", 0)]))).status();
        assert_eq!(st.phase, "Failed");
    }

    #[test]
    fn init_containers_keep_the_pod_pending_until_done() {
        let p = pod("Always", &["setup"], &["app"]);
        let st = Case::new(p.clone(), Some(ready_rt(vec![running("setup", 0)]))).status();
        assert_eq!(st.phase, "Pending");
        let init = cond(&st, "Initialized");
        assert_eq!(
            (init.status.as_str(), init.message.as_str()),
            ("False", "containers with incomplete status: [setup]")
        );
        assert_eq!(
            st.container_statuses[0]
                .state
                .waiting
                .as_ref()
                .unwrap()
                .reason,
            "PodInitializing"
        );
        let st = Case::new(
            p.clone(),
            Some(ready_rt(vec![exited("setup", 0, 0), running("app", 0)])),
        )
        .ready("app")
        .status();
        assert_eq!(st.phase, "Running");
        assert_eq!(cond(&st, "Initialized").status, "True");
        assert_eq!(cond(&st, "Ready").status, "True");
        assert!(
            st.init_container_statuses[0].ready,
            "a finished init container is ready"
        );
        let mut never = p.clone();
        never.spec.restart_policy = "Never".into();
        let st = Case::new(never, Some(ready_rt(vec![exited("setup", 0, 1)]))).status();
        assert_eq!(
            st.phase, "Failed",
            "a failed init container fails a Never pod"
        );
    }

    #[test]
    fn transition_times_change_only_with_the_status() {
        let case = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![running("app", 0)])),
        )
        .ready("app");
        let first = case.status();
        let mut p = case.pod.clone();
        p.status = first.clone();
        let again = pod_status(&StatusInputs {
            pod: &p,
            runtime: case.rt.as_ref(),
            backing_off: &BTreeMap::new(),
            ready: &case.ready,
            started: &BTreeMap::new(),
            start_errors: &BTreeMap::new(),
            host_ip: "10.200.0.1",
            terminal: false,
            now: t(99),
        });
        assert_eq!(
            again, first,
            "nothing changed: the same status, so no write"
        );
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let mut p = pod("Always", &[], &["app"]);
        p.spec.readiness_gates = vec![tug_api::core::PodReadinessGate {
            condition_type: "example.com/lb".into(),
        }];
        let case = Case::new(p.clone(), Some(ready_rt(vec![running("app", 0)]))).ready("app");
        let st = case.status();
        assert_eq!(cond(&st, "ContainersReady").status, "True");
        let ready = cond(&st, "Ready");
        assert_eq!(ready.reason, "ReadinessGatesNotReady");
        p.status.conditions.push(PodCondition {
            type_: "example.com/lb".into(),
            status: "True".into(),
            ..Default::default()
        });
        let st = Case::new(p, Some(ready_rt(vec![running("app", 0)])))
            .ready("app")
            .status();
        assert_eq!(cond(&st, "Ready").status, "True");
        assert!(
            st.conditions.iter().any(|c| c.type_ == "example.com/lb"),
            "others' conditions are kept"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }

    fn waiting_of(cs: &ContainerStatus) -> (&str, &str) {
        let w = cs.state.waiting.as_ref().expect("waiting");
        (w.reason.as_str(), w.message.as_str())
    }

    #[test]
    fn app_containers_wait_for_init_then_for_their_creation() {
        let p = pod("Always", &["setup"], &["app"]);
        let st = Case::new(p.clone(), Some(ready_rt(vec![]))).status();
        assert_eq!(
            waiting_of(&st.init_container_statuses[0]).0,
            "PodInitializing"
        );
        assert_eq!(waiting_of(&st.container_statuses[0]).0, "PodInitializing");
        let st = Case::new(p, Some(ready_rt(vec![exited("setup", 0, 0)]))).status();
        assert_eq!(
            waiting_of(&st.container_statuses[0]).0,
            "ContainerCreating",
            "init done, the app not started yet"
        );
    }

    #[test]
    fn start_errors_show_as_the_waiting_reason() {
        let mut case = Case::new(pod("Always", &[], &["app"]), Some(ready_rt(vec![])));
        case.start_errors.insert(
            "app".into(),
            Waiting {
                reason: "ErrImagePull".into(),
                message: "not found".into(),
            },
        );
        let st = case.status();
        assert_eq!(
            waiting_of(&st.container_statuses[0]),
            ("ErrImagePull", "not found")
        );
        assert_eq!(st.phase, "Pending");
        assert_eq!(cond(&st, "Ready").status, "False");
        // A restart that cannot pull: waiting, with the last exit kept.
        case.rt = Some(ready_rt(vec![exited("app", 0, 1)]));
        case.backing_off
            .insert("app".into(), Duration::from_secs(10));
        let st = case.status();
        let cs = &st.container_statuses[0];
        assert_eq!(waiting_of(cs).0, "ErrImagePull");
        assert_eq!(cs.last_state.terminated.as_ref().unwrap().exit_code, 1);
    }

    #[test]
    fn a_container_before_its_startup_probe_passes_is_not_started() {
        let mut case = Case::new(
            pod("Always", &[], &["app"]),
            Some(ready_rt(vec![running("app", 0)])),
        );
        case.started.insert("app".into(), false);
        let st = case.status();
        assert_eq!(st.container_statuses[0].started, Some(false));
        assert!(!st.container_statuses[0].ready);
        assert_eq!(st.phase, "Running");
    }

    #[test]
    fn exit_reasons_from_the_runtime_are_kept() {
        let oom = inst(
            "app",
            0,
            InstanceState::Exited {
                started_at: t(1),
                finished_at: t(2),
                exit_code: 137,
                reason: Some("OOMKilled".into()),
            },
        );
        let st = Case::new(pod("Never", &[], &["app"]), Some(ready_rt(vec![oom]))).status();
        let term = st.container_statuses[0].state.terminated.as_ref().unwrap();
        assert_eq!((term.exit_code, term.reason.as_str()), (137, "OOMKilled"));
        assert_eq!(st.phase, "Failed");
    }
}
