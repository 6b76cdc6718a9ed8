//! The probes of one container instance, as the kubelet's prober workers
//! keep them (one worker per probe upstream; here one tracker per probe,
//! driven by the pod's syncs):
//!
//! - every probe first runs `initialDelaySeconds` after the container
//!   started, then every `periodSeconds`; its result flips only after
//!   `successThreshold` successes or `failureThreshold` failures in a row
//!   (a liveness or startup probe needs one success);
//! - a readiness result starts as failure (not ready), a liveness result
//!   as success, a startup result as unknown;
//! - while a startup probe has not succeeded, liveness and readiness are
//!   not probed and the container is neither started nor ready; once it
//!   succeeded it is not probed again;
//! - a startup probe failing `failureThreshold` times, or a liveness probe
//!   failing `failureThreshold` times, means the instance must be killed
//!   (and then restarted as the pod's `restartPolicy` says) — once per
//!   instance: its liveness and startup probes stop there.
//!
//! The trackers only keep counts and schedules; running a probe is the
//! runtime's job ([`Runtime::probe`](crate::runtime::Runtime::probe)).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::core::{Container, Pod, Probe};

use crate::runtime::ProbeOutcome;

const DEFAULT_PERIOD_SECONDS: i64 = 10;
const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Kubernetes' default `terminationGracePeriodSeconds`.
pub const DEFAULT_GRACE_SECONDS: i64 = 30;

/// Which probe of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `startupProbe`: gates the other two until it succeeds.
    Startup,
    /// `livenessProbe`: failing kills the container.
    Liveness,
    /// `readinessProbe`: decides whether the container is ready.
    Readiness,
}

impl ProbeKind {
    /// The name events use (`Liveness probe failed`).
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    /// The container's probe of this kind.
    pub fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Startup => c.startup_probe.as_ref(),
            ProbeKind::Liveness => c.liveness_probe.as_ref(),
            ProbeKind::Readiness => c.readiness_probe.as_ref(),
        }
    }
}

/// The state of one probe of one container instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTracker {
    kind: ProbeKind,
    next_due: DateTime<Utc>,
    period: chrono::Duration,
    success_threshold: u32,
    failure_threshold: u32,
    last: Option<ProbeOutcome>,
    run: u32,
    result: Option<ProbeOutcome>,
}

impl ProbeTracker {
    /// A tracker of `probe` for an instance started at `started_at`.
    pub fn new(kind: ProbeKind, probe: &Probe, started_at: DateTime<Utc>) -> ProbeTracker {
        let period = if probe.period_seconds > 0 {
            i64::from(probe.period_seconds)
        } else {
            DEFAULT_PERIOD_SECONDS
        };
        let positive =
            |v: i32, default: u32| u32::try_from(v).ok().filter(|v| *v > 0).unwrap_or(default);
        let success_threshold = match kind {
            // The API insists on 1; upstream treats anything else as 1.
            ProbeKind::Startup | ProbeKind::Liveness => 1,
            ProbeKind::Readiness => positive(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD),
        };
        ProbeTracker {
            kind,
            next_due: started_at
                + chrono::Duration::seconds(i64::from(probe.initial_delay_seconds.max(0))),
            period: chrono::Duration::seconds(period),
            success_threshold,
            failure_threshold: positive(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD),
            last: None,
            run: 0,
            result: match kind {
                ProbeKind::Readiness => Some(ProbeOutcome::Failure),
                ProbeKind::Liveness => Some(ProbeOutcome::Success),
                ProbeKind::Startup => None,
            },
        }
    }

    /// Whether a probe should run now.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        now >= self.next_due
    }

    /// When the next probe is due.
    pub fn next_due(&self) -> DateTime<Utc> {
        self.next_due
    }

    /// The current result (`None`: a startup probe that has not decided).
    pub fn result(&self) -> Option<ProbeOutcome> {
        self.result
    }

    /// Record the outcome of a probe run at `now`. Returns the result when
    /// this run of equal outcomes just reached its threshold (once per
    /// run: a failing probe is reported once, not on every failure).
    pub fn record(&mut self, outcome: ProbeOutcome, now: DateTime<Utc>) -> Option<ProbeOutcome> {
        if self.last == Some(outcome) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(outcome);
            self.run = 1;
        }
        self.next_due = now + self.period;
        let threshold = match outcome {
            ProbeOutcome::Success => self.success_threshold,
            ProbeOutcome::Failure => self.failure_threshold,
        };
        if self.run == threshold {
            self.result = Some(outcome);
            return Some(outcome);
        }
        None
    }
}

/// What the kubelet must do after a probe ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to tell.
    Nothing,
    /// The readiness probe just reached its failure threshold (an
    /// `Unhealthy` event).
    Unready,
    /// The instance failed this (liveness or startup) probe: kill it.
    Kill(ProbeKind),
}

/// The probes of one container instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerProbes {
    /// Which instance this is about (a restart starts over).
    pub attempt: u32,
    startup: Option<ProbeTracker>,
    liveness: Option<ProbeTracker>,
    readiness: Option<ProbeTracker>,
    killed: Option<ProbeKind>,
}

impl ContainerProbes {
    /// The probes of instance `attempt` of `c`, started at `started_at`.
    pub fn new(c: &Container, attempt: u32, started_at: DateTime<Utc>) -> ContainerProbes {
        let tracker = |kind: ProbeKind| kind.of(c).map(|p| ProbeTracker::new(kind, p, started_at));
        ContainerProbes {
            attempt,
            startup: tracker(ProbeKind::Startup),
            liveness: tracker(ProbeKind::Liveness),
            readiness: tracker(ProbeKind::Readiness),
            killed: None,
        }
    }

    fn tracker(&self, kind: ProbeKind) -> Option<&ProbeTracker> {
        match kind {
            ProbeKind::Startup => self.startup.as_ref(),
            ProbeKind::Liveness => self.liveness.as_ref(),
            ProbeKind::Readiness => self.readiness.as_ref(),
        }
    }

    fn tracker_mut(&mut self, kind: ProbeKind) -> Option<&mut ProbeTracker> {
        match kind {
            ProbeKind::Startup => self.startup.as_mut(),
            ProbeKind::Liveness => self.liveness.as_mut(),
            ProbeKind::Readiness => self.readiness.as_mut(),
        }
    }

    /// Whether the container counts as started: no startup probe, or it
    /// succeeded.
    pub fn started(&self) -> bool {
        self.startup
            .as_ref()
            .is_none_or(|s| s.result() == Some(ProbeOutcome::Success))
    }

    /// Whether the container counts as ready: started, and its readiness
    /// probe (if any) passing.
    pub fn ready(&self) -> bool {
        self.started()
            && self
                .readiness
                .as_ref()
                .is_none_or(|r| r.result() == Some(ProbeOutcome::Success))
    }

    /// The instance was killed for failing this probe.
    pub fn killed(&self) -> Option<ProbeKind> {
        self.killed
    }

    /// The probes that still run at all (due or not), in the order they
    /// run: the startup probe until it decides, then liveness (until the
    /// instance is killed) and readiness. Only readiness while the pod
    /// terminates.
    fn active(&self, terminating: bool) -> Vec<ProbeKind> {
        let mut kinds = Vec::new();
        if !self.started() {
            let undecided = self.startup.as_ref().is_some_and(|s| s.result().is_none());
            if undecided && self.killed.is_none() && !terminating {
                kinds.push(ProbeKind::Startup);
            }
            return kinds;
        }
        if self.liveness.is_some() && self.killed.is_none() && !terminating {
            kinds.push(ProbeKind::Liveness);
        }
        if self.readiness.is_some() {
            kinds.push(ProbeKind::Readiness);
        }
        kinds
    }

    /// The probes due at `now`, in the order they should run.
    pub fn due(&self, now: DateTime<Utc>, terminating: bool) -> Vec<ProbeKind> {
        self.active(terminating)
            .into_iter()
            .filter(|k| self.tracker(*k).is_some_and(|t| t.due(now)))
            .collect()
    }

    /// When the next probe is due, if any still runs.
    pub fn next_due(&self, terminating: bool) -> Option<DateTime<Utc>> {
        self.active(terminating)
            .into_iter()
            .filter_map(|k| self.tracker(k).map(ProbeTracker::next_due))
            .min()
    }

    /// Record the outcome of probe `kind` run at `now`.
    pub fn record(
        &mut self,
        kind: ProbeKind,
        outcome: ProbeOutcome,
        now: DateTime<Utc>,
    ) -> Verdict {
        let Some(reached) = self.tracker_mut(kind).and_then(|t| t.record(outcome, now)) else {
            return Verdict::Nothing;
        };
        match (kind, reached) {
            (ProbeKind::Readiness, ProbeOutcome::Failure) => Verdict::Unready,
            (ProbeKind::Startup | ProbeKind::Liveness, ProbeOutcome::Failure) => {
                self.killed = Some(kind);
                Verdict::Kill(kind)
            }
            (_, ProbeOutcome::Success) => Verdict::Nothing,
        }
    }
}

/// How long a container killed for failing `probe` has to stop: the
/// probe's `terminationGracePeriodSeconds`, else the pod's, else 30 s.
pub fn kill_grace(pod: &Pod, probe: Option<&Probe>) -> Duration {
    let seconds = probe
        .and_then(|p| p.termination_grace_period_seconds)
        .or(pod.spec.termination_grace_period_seconds)
        .unwrap_or(DEFAULT_GRACE_SECONDS)
        .max(0);
    Duration::from_secs(seconds.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn probe(delay: i32, period: i32, success: i32, failure: i32) -> Probe {
        Probe {
            initial_delay_seconds: delay,
            period_seconds: period,
            success_threshold: success,
            failure_threshold: failure,
            ..Default::default()
        }
    }

    fn container(
        startup: Option<Probe>,
        liveness: Option<Probe>,
        readiness: Option<Probe>,
    ) -> Container {
        Container {
            name: "app".into(),
            startup_probe: startup,
            liveness_probe: liveness,
            readiness_probe: readiness,
            ..Default::default()
        }
    }

    #[test]
    fn not_ready_before_the_initial_delay() {
        let c = container(None, None, Some(probe(5, 10, 1, 3)));
        let p = ContainerProbes::new(&c, 0, t(0));
        assert!(!p.ready());
        assert!(p.started(), "no startup probe: started when running");
        assert!(p.due(t(4), false).is_empty());
        assert_eq!(p.due(t(5), false), vec![ProbeKind::Readiness]);
        assert_eq!(p.next_due(false), Some(t(5)));
    }

    #[test]
    fn ready_after_success_threshold_then_unready_after_failure_threshold() {
        let c = container(None, None, Some(probe(0, 10, 2, 3)));
        let mut p = ContainerProbes::new(&c, 0, t(0));
        use ProbeOutcome::{Failure, Success};
        let r = ProbeKind::Readiness;
        assert_eq!(p.record(r, Success, t(0)), Verdict::Nothing);
        assert!(!p.ready(), "needs two successes in a row");
        assert_eq!(p.next_due(false), Some(t(10)));
        p.record(r, Success, t(10));
        assert!(p.ready());
        p.record(r, Failure, t(20));
        p.record(r, Failure, t(30));
        assert!(p.ready(), "two failures are below the threshold");
        p.record(r, Success, t(40));
        p.record(r, Failure, t(50));
        p.record(r, Failure, t(60));
        assert!(p.ready(), "the run restarted after the success");
        assert_eq!(p.record(r, Failure, t(70)), Verdict::Unready);
        assert!(!p.ready());
        assert_eq!(
            p.record(r, Failure, t(80)),
            Verdict::Nothing,
            "reported once per run of failures"
        );
    }

    #[test]
    fn a_probe_that_always_fails_never_makes_it_ready() {
        let c = container(None, None, Some(probe(0, 0, 0, 0)));
        let mut p = ContainerProbes::new(&c, 0, t(0));
        for i in 0..100 {
            p.record(ProbeKind::Readiness, ProbeOutcome::Failure, t(i * 10));
            assert!(!p.ready());
        }
        assert_eq!(p.next_due(false), Some(t(1000)), "default period of 10 s");
    }

    #[test]
    fn liveness_failures_past_the_threshold_kill_once() {
        let c = container(None, Some(probe(0, 1, 5, 2)), None);
        let mut p = ContainerProbes::new(&c, 3, t(0));
        assert!(p.ready(), "no readiness probe: ready when running");
        let l = ProbeKind::Liveness;
        assert_eq!(p.due(t(0), false), vec![l]);
        assert_eq!(p.record(l, ProbeOutcome::Success, t(0)), Verdict::Nothing);
        assert_eq!(p.record(l, ProbeOutcome::Failure, t(1)), Verdict::Nothing);
        assert_eq!(p.record(l, ProbeOutcome::Failure, t(2)), Verdict::Kill(l));
        assert_eq!(p.killed(), Some(l));
        assert!(p.due(t(100), false).is_empty(), "on hold once killed");
        assert_eq!(p.next_due(false), None);
        // While terminating only readiness runs.
        let fresh = ContainerProbes::new(&c, 4, t(0));
        assert!(fresh.due(t(0), true).is_empty());
    }

    #[test]
    fn startup_gates_liveness_and_readiness() {
        let c = container(
            Some(probe(0, 1, 0, 3)),
            Some(probe(0, 1, 0, 1)),
            Some(probe(0, 1, 0, 1)),
        );
        let mut p = ContainerProbes::new(&c, 0, t(0));
        let s = ProbeKind::Startup;
        assert!(!p.started() && !p.ready());
        assert_eq!(p.due(t(0), false), vec![s], "only the startup probe");
        p.record(s, ProbeOutcome::Failure, t(0));
        p.record(s, ProbeOutcome::Failure, t(1));
        assert_eq!(p.due(t(2), false), vec![s]);
        p.record(s, ProbeOutcome::Success, t(2));
        assert!(p.started());
        assert!(!p.ready(), "readiness still has to pass");
        assert_eq!(
            p.due(t(2), false),
            vec![ProbeKind::Liveness, ProbeKind::Readiness],
            "both due at once: they were held, not rescheduled"
        );
        p.record(ProbeKind::Readiness, ProbeOutcome::Success, t(2));
        assert!(p.ready());
        assert!(
            !p.due(t(50), false).contains(&s),
            "a startup probe that succeeded is not run again"
        );
    }

    #[test]
    fn startup_failing_past_its_threshold_kills() {
        let c = container(Some(probe(0, 1, 0, 2)), None, Some(probe(0, 1, 0, 1)));
        let mut p = ContainerProbes::new(&c, 0, t(0));
        let s = ProbeKind::Startup;
        assert_eq!(p.record(s, ProbeOutcome::Failure, t(0)), Verdict::Nothing);
        assert_eq!(p.record(s, ProbeOutcome::Failure, t(1)), Verdict::Kill(s));
        assert!(!p.started() && !p.ready());
        assert!(p.due(t(10), false).is_empty());
    }

    #[test]
    fn grace_comes_from_the_probe_then_the_pod() {
        let mut pod = Pod::default();
        assert_eq!(kill_grace(&pod, None), Duration::from_secs(30));
        pod.spec.termination_grace_period_seconds = Some(5);
        let mut pr = probe(0, 0, 0, 0);
        assert_eq!(kill_grace(&pod, Some(&pr)), Duration::from_secs(5));
        pr.termination_grace_period_seconds = Some(1);
        assert_eq!(kill_grace(&pod, Some(&pr)), Duration::from_secs(1));
    }
}
