//! Readiness of one container instance from its readiness probe, as the
//! kubelet's prober worker keeps it: not ready until the first probe
//! after `initialDelaySeconds` succeeds; then probed every
//! `periodSeconds`; it flips only after `successThreshold` successes or
//! `failureThreshold` failures in a row. A container without a readiness
//! probe is ready as soon as it runs.
//!
//! The tracker only keeps the counts and the schedule; running the probe
//! is the runtime's job ([`Runtime::probe`](crate::runtime::Runtime::probe)).

use chrono::{DateTime, Utc};
use tug_api::core::Probe;

use crate::runtime::ProbeOutcome;

const DEFAULT_PERIOD_SECONDS: i64 = 10;
const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// The readiness state of one container instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadinessTracker {
    /// Which instance this is about (a restart starts over).
    pub attempt: u32,
    next_due: DateTime<Utc>,
    period: chrono::Duration,
    success_threshold: u32,
    failure_threshold: u32,
    last: Option<ProbeOutcome>,
    run: u32,
    ready: bool,
}

impl ReadinessTracker {
    /// A tracker for instance `attempt`, started at `started_at`.
    pub fn new(probe: &Probe, attempt: u32, started_at: DateTime<Utc>) -> ReadinessTracker {
        let period = if probe.period_seconds > 0 {
            i64::from(probe.period_seconds)
        } else {
            DEFAULT_PERIOD_SECONDS
        };
        let positive =
            |v: i32, default: u32| u32::try_from(v).ok().filter(|v| *v > 0).unwrap_or(default);
        ReadinessTracker {
            attempt,
            next_due: started_at
                + chrono::Duration::seconds(i64::from(probe.initial_delay_seconds.max(0))),
            period: chrono::Duration::seconds(period),
            success_threshold: positive(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD),
            failure_threshold: positive(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD),
            last: None,
            run: 0,
            ready: false,
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

    /// Record the outcome of a probe run at `now`.
    pub fn record(&mut self, outcome: ProbeOutcome, now: DateTime<Utc>) {
        if self.last == Some(outcome) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(outcome);
            self.run = 1;
        }
        match outcome {
            ProbeOutcome::Success if self.run >= self.success_threshold => self.ready = true,
            ProbeOutcome::Failure if self.run >= self.failure_threshold => self.ready = false,
            _ => {}
        }
        self.next_due = now + self.period;
    }

    /// Whether the container counts as ready.
    pub fn ready(&self) -> bool {
        self.ready
    }
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

    #[test]
    fn not_ready_before_the_initial_delay() {
        let r = ReadinessTracker::new(&probe(5, 10, 1, 3), 0, t(0));
        assert!(!r.ready());
        assert!(!r.due(t(4)));
        assert!(r.due(t(5)));
        assert_eq!(r.next_due(), t(5));
    }

    #[test]
    fn ready_after_success_threshold_then_unready_after_failure_threshold() {
        let mut r = ReadinessTracker::new(&probe(0, 10, 2, 3), 0, t(0));
        r.record(ProbeOutcome::Success, t(0));
        assert!(!r.ready(), "needs two successes in a row");
        assert_eq!(r.next_due(), t(10));
        r.record(ProbeOutcome::Success, t(10));
        assert!(r.ready());
        r.record(ProbeOutcome::Failure, t(20));
        r.record(ProbeOutcome::Failure, t(30));
        assert!(r.ready(), "two failures are below the threshold");
        r.record(ProbeOutcome::Success, t(40));
        r.record(ProbeOutcome::Failure, t(50));
        r.record(ProbeOutcome::Failure, t(60));
        assert!(r.ready(), "the run restarted after the success");
        r.record(ProbeOutcome::Failure, t(70));
        assert!(!r.ready());
    }

    #[test]
    fn a_probe_that_always_fails_never_makes_it_ready() {
        let mut r = ReadinessTracker::new(&probe(0, 0, 0, 0), 0, t(0));
        for i in 0..100 {
            r.record(ProbeOutcome::Failure, t(i * 10));
            assert!(!r.ready());
        }
        assert_eq!(r.next_due(), t(1000), "default period of 10 s");
    }
}
