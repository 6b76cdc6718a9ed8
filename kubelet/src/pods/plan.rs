//! What to start next in a pod whose sandbox is ready, from the spec and
//! what the runtime reports (`computePodActions` upstream):
//!
//! - init containers run one at a time, in order, each to a successful
//!   exit before the next starts; a failed one is restarted (with
//!   back-off) unless the pod's `restartPolicy` is `Never`, which fails
//!   the pod. Sidecars (init containers with `restartPolicy: Always`) only
//!   need to be running for the next one to start, and are restarted
//!   whenever they exit;
//! - then every app container is started, and an exited one is restarted
//!   as `restartPolicy` says (`Always`; `OnFailure` after a non-zero
//!   exit; `Never` not at all), each restart held to the CrashLoopBackOff
//!   delay. An instance killed for failing its liveness or startup probe
//!   is restarted unless the policy is `Never`, whatever its exit code
//!   (upstream restarts it because it failed, not because of how it
//!   ended).
//!
//! A sidecar with a startup probe lets the next init container start
//! only once that probe succeeded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::core::{Container, Pod};

use super::backoff::{CrashBackoff, RestartDecision};
use crate::runtime::{InstanceState, RuntimePod};

/// The actions of one sync.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Containers (init or app) to start now, in order.
    pub start: Vec<String>,
    /// Exited containers waiting out their back-off, with its length.
    pub backing_off: BTreeMap<String, Duration>,
    /// When the earliest back-off ends.
    pub wake_at: Option<DateTime<Utc>>,
}

impl Plan {
    fn restart(
        &mut self,
        name: &str,
        finished_at: DateTime<Utc>,
        backoff: &mut CrashBackoff,
        now: DateTime<Utc>,
    ) {
        match backoff.decide(name, finished_at, now) {
            RestartDecision::Now => self.start.push(name.to_string()),
            RestartDecision::Wait { backoff, until } => {
                self.backing_off.insert(name.to_string(), backoff);
                self.wake_at = Some(self.wake_at.map_or(until, |w| w.min(until)));
            }
        }
    }
}

/// What the prober knows that the plan needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeFacts {
    /// Container name → the instance (attempt) killed for failing its
    /// liveness or startup probe.
    pub killed: HashMap<String, u32>,
    /// Running containers whose startup probe has not succeeded yet.
    pub not_started: HashSet<String>,
}

/// An init container with `restartPolicy: Always`.
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The pod's restart policy, `Always` when unset.
pub fn restart_policy(pod: &Pod) -> &str {
    match pod.spec.restart_policy.as_str() {
        "" => "Always",
        p => p,
    }
}

/// Whether a container that exited with `exit_code` is restarted.
pub fn should_restart(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// Plan the next actions for `pod`, whose sandbox is ready. Restarts it
/// decides on advance `backoff`.
pub fn plan(
    pod: &Pod,
    rt: &RuntimePod,
    backoff: &mut CrashBackoff,
    facts: &ProbeFacts,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let policy = restart_policy(pod);
    for c in &pod.spec.init_containers {
        let latest = rt.latest(&c.name);
        match latest.map(|i| &i.state) {
            None => {
                plan.start.push(c.name.clone());
                return plan;
            }
            Some(InstanceState::Running { .. }) if is_sidecar(c) => {
                if facts.not_started.contains(&c.name) {
                    return plan;
                }
            }
            Some(InstanceState::Running { .. }) => return plan,
            Some(InstanceState::Exited { finished_at, .. }) if is_sidecar(c) => {
                plan.restart(&c.name, *finished_at, backoff, now);
            }
            Some(InstanceState::Exited { exit_code: 0, .. }) => continue,
            Some(InstanceState::Exited { finished_at, .. }) => {
                if policy != "Never" {
                    plan.restart(&c.name, *finished_at, backoff, now);
                }
                return plan;
            }
        }
    }
    for c in &pod.spec.containers {
        let latest = rt.latest(&c.name);
        match latest.map(|i| &i.state) {
            None => plan.start.push(c.name.clone()),
            Some(InstanceState::Running { .. }) => {}
            Some(InstanceState::Exited {
                exit_code,
                finished_at,
                ..
            }) => {
                let killed = latest.is_some_and(|i| facts.killed.get(&c.name) == Some(&i.attempt));
                if should_restart(policy, *exit_code) || (killed && policy != "Never") {
                    plan.restart(&c.name, *finished_at, backoff, now);
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::backoff::{DEFAULT_BASE, DEFAULT_MAX};
    use crate::runtime::{ContainerInstance, SandboxState};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn pod(policy: &str, init: &[(&str, bool)], apps: &[&str]) -> Pod {
        let init: Vec<_> = init
            .iter()
            .map(|(n, sidecar)| {
                if *sidecar {
                    serde_json::json!({"name": n, "image": "i", "restartPolicy": "Always"})
                } else {
                    serde_json::json!({"name": n, "image": "i"})
                }
            })
            .collect();
        let apps: Vec<_> = apps
            .iter()
            .map(|n| serde_json::json!({"name": n, "image": "i"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": policy, "initContainers": init, "containers": apps}
        }))
        .unwrap()
    }

    fn running(name: &str, attempt: u32) -> ContainerInstance {
        ContainerInstance {
            name: name.into(),
            id: format!("fake://{name}-{attempt}"),
            attempt,
            image: "i".into(),
            image_id: "i".into(),
            state: InstanceState::Running { started_at: t(0) },
        }
    }

    fn exited(name: &str, attempt: u32, code: i32, at: i64) -> ContainerInstance {
        ContainerInstance {
            state: InstanceState::Exited {
                started_at: t(0),
                finished_at: t(at),
                exit_code: code,
                reason: None,
            },
            ..running(name, attempt)
        }
    }

    fn rt(containers: Vec<ContainerInstance>) -> RuntimePod {
        RuntimePod {
            uid: "u".into(),
            sandbox: SandboxState::Ready {
                ips: vec!["10.0.0.2".parse().unwrap()],
            },
            containers,
            next_change: None,
        }
    }

    fn backoff() -> CrashBackoff {
        CrashBackoff::new(DEFAULT_BASE, DEFAULT_MAX)
    }

    #[test]
    fn starts_every_app_container_of_a_fresh_pod() {
        let p = pod("Always", &[], &["a", "b"]);
        let plan = plan(
            &p,
            &rt(vec![]),
            &mut backoff(),
            &ProbeFacts::default(),
            t(0),
        );
        assert_eq!(plan.start, vec!["a", "b"]);
    }

    #[test]
    fn init_containers_run_one_at_a_time_in_order() {
        let p = pod("Always", &[("i1", false), ("i2", false)], &["a"]);
        let mut b = backoff();
        assert_eq!(
            plan(&p, &rt(vec![]), &mut b, &ProbeFacts::default(), t(0)).start,
            vec!["i1"]
        );
        assert!(plan(
            &p,
            &rt(vec![running("i1", 0)]),
            &mut b,
            &ProbeFacts::default(),
            t(0)
        )
        .start
        .is_empty());
        assert_eq!(
            plan(
                &p,
                &rt(vec![exited("i1", 0, 0, 1)]),
                &mut b,
                &ProbeFacts::default(),
                t(1)
            )
            .start,
            vec!["i2"]
        );
        assert_eq!(
            plan(
                &p,
                &rt(vec![exited("i1", 0, 0, 1), exited("i2", 0, 0, 2)]),
                &mut b,
                &ProbeFacts::default(),
                t(2)
            )
            .start,
            vec!["a"]
        );
    }

    #[test]
    fn a_failed_init_container_is_retried_unless_never() {
        let failed = rt(vec![exited("i1", 0, 1, 1)]);
        let p = pod("Always", &[("i1", false)], &["a"]);
        assert_eq!(
            plan(&p, &failed, &mut backoff(), &ProbeFacts::default(), t(1)).start,
            vec!["i1"]
        );
        let p = pod("Never", &[("i1", false)], &["a"]);
        assert_eq!(
            plan(&p, &failed, &mut backoff(), &ProbeFacts::default(), t(1)),
            Plan::default()
        );
    }

    #[test]
    fn sidecars_only_need_to_run() {
        let p = pod("Always", &[("proxy", true), ("i2", false)], &["a"]);
        let plan1 = plan(
            &p,
            &rt(vec![running("proxy", 0)]),
            &mut backoff(),
            &ProbeFacts::default(),
            t(0),
        );
        assert_eq!(plan1.start, vec!["i2"]);
    }

    #[test]
    fn restart_policy_decides_which_exits_restart() {
        let done_ok = rt(vec![exited("a", 0, 0, 1)]);
        let done_bad = rt(vec![exited("a", 0, 2, 1)]);
        for (policy, ok, bad) in [
            ("Always", true, true),
            ("OnFailure", false, true),
            ("Never", false, false),
        ] {
            let p = pod(policy, &[], &["a"]);
            assert_eq!(
                !plan(&p, &done_ok, &mut backoff(), &ProbeFacts::default(), t(1))
                    .start
                    .is_empty(),
                ok,
                "{policy} after exit 0"
            );
            assert_eq!(
                !plan(&p, &done_bad, &mut backoff(), &ProbeFacts::default(), t(1))
                    .start
                    .is_empty(),
                bad,
                "{policy} after exit 2"
            );
        }
    }

    #[test]
    fn repeated_crashes_wait_in_crash_loop_back_off() {
        let p = pod("Always", &[], &["a"]);
        let mut b = backoff();
        // First crash: restarted at once.
        assert_eq!(
            plan(
                &p,
                &rt(vec![exited("a", 0, 1, 5)]),
                &mut b,
                &ProbeFacts::default(),
                t(5)
            )
            .start,
            vec!["a"]
        );
        // Second crash: held back 10 s from its finish.
        let second = rt(vec![exited("a", 0, 1, 5), exited("a", 1, 1, 8)]);
        let held = plan(&p, &second, &mut b, &ProbeFacts::default(), t(8));
        assert!(held.start.is_empty());
        assert_eq!(held.backing_off.get("a"), Some(&Duration::from_secs(10)));
        assert_eq!(held.wake_at, Some(t(18)));
        assert_eq!(
            plan(&p, &second, &mut b, &ProbeFacts::default(), t(18)).start,
            vec!["a"]
        );
    }

    #[test]
    fn a_container_killed_by_its_probe_restarts_unless_never() {
        // The fake exits cleanly on SIGTERM: exit 0 after the kill.
        let killed = rt(vec![exited("a", 2, 0, 1)]);
        let facts = ProbeFacts {
            killed: HashMap::from([("a".to_string(), 2)]),
            ..Default::default()
        };
        let p = pod("OnFailure", &[], &["a"]);
        assert_eq!(
            plan(&p, &killed, &mut backoff(), &facts, t(1)).start,
            vec!["a"]
        );
        let p = pod("Never", &[], &["a"]);
        assert!(plan(&p, &killed, &mut backoff(), &facts, t(1))
            .start
            .is_empty());
        // An older kill says nothing about this instance.
        let stale = ProbeFacts {
            killed: HashMap::from([("a".to_string(), 1)]),
            ..Default::default()
        };
        let p = pod("OnFailure", &[], &["a"]);
        assert!(plan(&p, &killed, &mut backoff(), &stale, t(1))
            .start
            .is_empty());
    }

    #[test]
    fn a_sidecar_must_pass_its_startup_probe_before_the_next_init_container() {
        let p = pod("Always", &[("proxy", true), ("i2", false)], &["a"]);
        let facts = ProbeFacts {
            not_started: HashSet::from(["proxy".to_string()]),
            ..Default::default()
        };
        let held = plan(
            &p,
            &rt(vec![running("proxy", 0)]),
            &mut backoff(),
            &facts,
            t(0),
        );
        assert!(held.start.is_empty());
    }
}
