//! CrashLoopBackOff: how long a container that keeps exiting waits before
//! the next restart, as the kubelet's `flowcontrol.Backoff` decides.
//!
//! The first exit is restarted at once and arms the back-off at its base
//! (10 s). Every later exit waits out the current back-off, counted from
//! the moment the container finished, and doubles it for next time, up to
//! the cap (300 s). A container that has stayed up for twice the cap
//! (10 min) since the last restart starts over from the base.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Kubernetes' base delay.
pub const DEFAULT_BASE: Duration = Duration::from_secs(10);
/// Kubernetes' cap.
pub const DEFAULT_MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    backoff: Duration,
    last_update: DateTime<Utc>,
}

/// The restart back-off of the containers of one pod.
#[derive(Clone, Debug)]
pub struct CrashBackoff {
    base: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

/// Whether an exited container may be restarted now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartDecision {
    /// Restart it now (the back-off has been advanced).
    Now,
    /// Wait: in back-off of this length until `until`.
    Wait {
        /// The current back-off period.
        backoff: Duration,
        /// When the restart is due.
        until: DateTime<Utc>,
    },
}

impl CrashBackoff {
    /// A back-off starting at `base`, doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> CrashBackoff {
        CrashBackoff {
            base,
            max: max.max(base),
            entries: HashMap::new(),
        }
    }

    /// Decide for container `name`, which finished at `finished_at`. A
    /// `Now` answer counts as a restart (the back-off grows).
    pub fn decide(
        &mut self,
        name: &str,
        finished_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> RestartDecision {
        if let Some(entry) = self
            .entries
            .get(name)
            .filter(|e| !self.expired(e, finished_at))
        {
            let until = finished_at + to_chrono(entry.backoff);
            if now < until {
                return RestartDecision::Wait {
                    backoff: entry.backoff,
                    until,
                };
            }
        }
        self.next(name, finished_at, now);
        RestartDecision::Now
    }

    /// The back-off of `name` without deciding anything (for messages).
    pub fn current(&self, name: &str) -> Option<Duration> {
        self.entries.get(name).map(|e| e.backoff)
    }

    fn next(&mut self, name: &str, finished_at: DateTime<Utc>, now: DateTime<Utc>) {
        let grown = match self.entries.get(name) {
            Some(e) if !self.expired(e, finished_at) => (e.backoff * 2).min(self.max),
            _ => self.base,
        };
        self.entries.insert(
            name.to_string(),
            Entry {
                backoff: grown,
                last_update: now,
            },
        );
    }

    /// Stable long enough since the last restart to start over.
    fn expired(&self, entry: &Entry, finished_at: DateTime<Utc>) -> bool {
        finished_at - entry.last_update > to_chrono(self.max * 2)
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn backoff() -> CrashBackoff {
        CrashBackoff::new(DEFAULT_BASE, DEFAULT_MAX)
    }

    #[test]
    fn first_exit_restarts_at_once_then_waits_double_each_time() {
        let mut b = backoff();
        // Crash 1 at t=1: restart now.
        assert_eq!(b.decide("app", t(1), t(1)), RestartDecision::Now);
        // Crash 2 at t=3: wait 10 s from the finish.
        assert_eq!(
            b.decide("app", t(3), t(3)),
            RestartDecision::Wait {
                backoff: Duration::from_secs(10),
                until: t(13)
            }
        );
        assert!(matches!(
            b.decide("app", t(3), t(12)),
            RestartDecision::Wait { .. }
        ));
        assert_eq!(b.decide("app", t(3), t(13)), RestartDecision::Now);
        // Crash 3 right after: 20 s, then 40, 80, 160, 300, 300.
        let mut finished = 14;
        for expected in [20, 40, 80, 160, 300, 300] {
            match b.decide("app", t(finished), t(finished)) {
                RestartDecision::Wait { backoff, until } => {
                    assert_eq!(backoff, Duration::from_secs(expected));
                    assert_eq!(until, t(finished + expected as i64));
                    assert_eq!(b.decide("app", t(finished), until), RestartDecision::Now);
                    finished += expected as i64 + 1;
                }
                other => panic!("expected a wait of {expected}s, got {other:?}"),
            }
        }
    }

    #[test]
    fn containers_back_off_independently() {
        let mut b = backoff();
        assert_eq!(b.decide("a", t(0), t(0)), RestartDecision::Now);
        assert_eq!(b.decide("b", t(0), t(0)), RestartDecision::Now);
        assert!(matches!(
            b.decide("a", t(1), t(1)),
            RestartDecision::Wait { .. }
        ));
        assert_eq!(b.current("b"), Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_container_stable_for_ten_minutes_starts_over() {
        let mut b = backoff();
        assert_eq!(b.decide("app", t(0), t(0)), RestartDecision::Now);
        assert!(matches!(
            b.decide("app", t(1), t(1)),
            RestartDecision::Wait { .. }
        ));
        assert_eq!(b.decide("app", t(1), t(11)), RestartDecision::Now); // backoff now 20 s
                                                                        // It then runs for more than 600 s before exiting again.
        assert_eq!(b.decide("app", t(700), t(700)), RestartDecision::Now);
        assert_eq!(b.current("app"), Some(DEFAULT_BASE));
    }

    #[test]
    fn configurable_base() {
        let mut b = CrashBackoff::new(Duration::from_secs(1), DEFAULT_MAX);
        assert_eq!(b.decide("app", t(0), t(0)), RestartDecision::Now);
        assert_eq!(
            b.decide("app", t(0), t(0)),
            RestartDecision::Wait {
                backoff: Duration::from_secs(1),
                until: t(1)
            }
        );
    }

    #[test]
    fn ten_minutes_up_resets_to_the_base_delay_and_less_does_not() {
        // Crash loop until the back-off is 40 s; the last restart at t=100.
        let mut b = backoff();
        assert_eq!(b.decide("app", t(0), t(0)), RestartDecision::Now);
        assert_eq!(b.decide("app", t(1), t(11)), RestartDecision::Now); // 20 s
        assert_eq!(b.decide("app", t(60), t(100)), RestartDecision::Now); // 40 s
        let mut twin = b.clone();

        // Up for 10 min and a second: restarted at once, and the crash
        // after that waits the base delay again.
        assert_eq!(b.decide("app", t(701), t(701)), RestartDecision::Now);
        assert_eq!(b.current("app"), Some(DEFAULT_BASE));
        assert_eq!(
            b.decide("app", t(702), t(702)),
            RestartDecision::Wait {
                backoff: DEFAULT_BASE,
                until: t(712)
            }
        );

        // Up for just under 10 min: the back-off keeps growing.
        assert_eq!(
            twin.decide("app", t(699), t(699)),
            RestartDecision::Wait {
                backoff: Duration::from_secs(40),
                until: t(739)
            }
        );
        assert_eq!(twin.decide("app", t(699), t(739)), RestartDecision::Now);
        assert_eq!(twin.current("app"), Some(Duration::from_secs(80)));
    }
}
