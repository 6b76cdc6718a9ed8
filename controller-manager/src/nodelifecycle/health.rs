//! Is a node alive? Upstream's `tryUpdateNodeHealth`, as a pure function.
//!
//! A node shows it is alive by renewing its Lease in `kube-node-lease` or
//! by posting a new heartbeat in its `Ready` condition. What counts is
//! when *this controller* saw the renewal change, on its own clock (the
//! "probe timestamp"), never the times the kubelet wrote, so clock skew
//! between machines does not matter. A node not seen alive for the grace
//! period (the startup grace period if it never posted a Ready condition)
//! gets its Ready, MemoryPressure, DiskPressure and PIDPressure conditions
//! set to `Unknown` ("Kubelet stopped posting node status.").
//!
//! A controller that restarts knows nothing yet, so every node it finds
//! gets a whole grace period from then.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::coordination::Lease;
use tug_api::core::{Node, NodeCondition};
use tug_api::{MicroTime, Time};

/// The condition types the controller sets to `Unknown` on a silent node
/// (NetworkUnavailable belongs to the network, not the kubelet).
pub const UNKNOWN_WHEN_SILENT: [&str; 4] =
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// `True`, `False` or `Unknown`.
pub type ConditionStatus = String;

/// What the controller remembers about a node between passes.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthRecord {
    /// The Ready condition's heartbeat and transition times as last seen.
    saved_ready: Option<(Option<Time>, Option<Time>)>,
    /// The Lease's renewTime as last seen.
    saved_renew: Option<MicroTime>,
    /// When the controller last saw a sign of life (its own clock).
    pub probe: DateTime<Utc>,
    /// When the controller last saw the Ready condition change.
    pub ready_transition: DateTime<Utc>,
    /// The Ready status the last pass settled on (after marking a silent
    /// node Unknown); `None` while the node never reported one.
    pub ready: Option<ConditionStatus>,
}

/// The timing the decision depends on.
#[derive(Clone, Copy, Debug)]
pub struct Grace {
    /// `--node-monitor-grace-period`.
    pub monitor: Duration,
    /// `--node-startup-grace-period`: for nodes that never reported Ready.
    pub startup: Duration,
}

/// The outcome of looking at one node.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The record to keep if `new_conditions` (when any) were written.
    pub record: HealthRecord,
    /// The Ready status the node itself reported (`Unknown` when none).
    pub observed: ConditionStatus,
    /// The Ready status after this pass (`None`: no Ready condition yet).
    pub current: Option<ConditionStatus>,
    /// The whole condition list to write through `nodes/status`, when
    /// the node went silent and its Ready condition is not yet Unknown.
    pub new_conditions: Option<Vec<NodeCondition>>,
}

fn ready_times(c: &NodeCondition) -> (Option<Time>, Option<Time>) {
    (c.last_heartbeat_time, c.last_transition_time)
}

/// Look at `node` (and its `lease`) at `now`, given what the last pass
/// remembered.
pub fn observe(
    prev: Option<&HealthRecord>,
    node: &Node,
    lease: Option<&Lease>,
    now: DateTime<Utc>,
    grace: Grace,
) -> Observation {
    let created = node.metadata.creation_timestamp.map(|t| t.0).unwrap_or(now);
    let ready = node.condition("Ready");
    let (observed, period) = match ready {
        Some(c) => (c.status.clone(), grace.monitor),
        None => ("Unknown".to_string(), grace.startup),
    };
    let fresh = |saved_ready| HealthRecord {
        saved_ready,
        saved_renew: None,
        probe: now,
        ready_transition: now,
        ready: None,
    };
    let mut record = match (prev, ready) {
        // Never posted status: time counts from the node's creation.
        (None, None) => HealthRecord {
            saved_ready: None,
            saved_renew: None,
            probe: created,
            ready_transition: created,
            ready: None,
        },
        (Some(p), None) => HealthRecord {
            saved_ready: None,
            ..p.clone()
        },
        // First sight (a restart), or the first Ready condition.
        (None, Some(c)) => fresh(Some(ready_times(c))),
        (Some(p), Some(c)) => match p.saved_ready {
            None => HealthRecord {
                saved_renew: p.saved_renew,
                ..fresh(Some(ready_times(c)))
            },
            Some((heartbeat, transition)) if heartbeat != c.last_heartbeat_time => HealthRecord {
                saved_ready: Some(ready_times(c)),
                probe: now,
                ready_transition: if transition != c.last_transition_time {
                    now
                } else {
                    p.ready_transition
                },
                ..p.clone()
            },
            Some(_) => p.clone(),
        },
    };
    // A renewed Lease is a sign of life, whatever the status says.
    if let Some(renew) = lease.and_then(|l| l.spec.renew_time) {
        if record.saved_renew.is_none_or(|saved| saved < renew) {
            record.saved_renew = Some(renew);
            record.probe = now;
        }
    }

    let silent_for = now - record.probe;
    let stale = silent_for > chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX);
    let mut current = ready.map(|c| c.status.clone());
    let mut new_conditions = None;
    if stale {
        let conditions = mark_unknown(&node.status.conditions, created, now);
        let new_ready = conditions.iter().find(|c| c.type_ == "Ready").cloned();
        if new_ready.as_ref() != ready {
            if let Some(r) = &new_ready {
                record.saved_ready = Some(ready_times(r));
            }
            record.ready_transition = now;
            new_conditions = Some(conditions);
        }
        current = new_ready.map(|c| c.status);
    }
    record.ready = current.clone();
    Observation {
        record,
        observed,
        current,
        new_conditions,
    }
}

/// The conditions of a silent node: the kubelet's ones set to `Unknown`,
/// missing ones added as never updated.
fn mark_unknown(
    conditions: &[NodeCondition],
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<NodeCondition> {
    let now = Time(DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now));
    let mut out = conditions.to_vec();
    for type_ in UNKNOWN_WHEN_SILENT {
        match out.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != "Unknown" {
                    c.status = "Unknown".into();
                    c.reason = "NodeStatusUnknown".into();
                    c.message = "Kubelet stopped posting node status.".into();
                    c.last_transition_time = Some(now);
                }
            }
            None => out.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: "NodeStatusNeverUpdated".into(),
                message: "Kubelet never posted node status.".into(),
                last_heartbeat_time: Some(Time(created)),
                last_transition_time: Some(now),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GRACE: Grace = Grace {
        monitor: Duration::from_secs(40),
        startup: Duration::from_secs(60),
    };

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn node(ready: Option<(&str, i64)>) -> Node {
        let mut n: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "creationTimestamp": Time(t(0))},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False",
                 "lastHeartbeatTime": Time(t(0)), "lastTransitionTime": Time(t(0))}
            ]}
        }))
        .unwrap();
        if let Some((status, heartbeat)) = ready {
            n.status.conditions.push(NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                last_heartbeat_time: Some(Time(t(heartbeat))),
                last_transition_time: Some(Time(t(0))),
                reason: "KubeletReady".into(),
                message: String::new(),
            });
        }
        n
    }

    fn lease(renew: i64) -> Lease {
        let mut l = Lease::default();
        l.spec.renew_time = Some(MicroTime(t(renew)));
        l
    }

    #[test]
    fn a_renewing_lease_keeps_a_node_healthy_past_the_grace_period() {
        let n = node(Some(("True", 0)));
        let first = observe(None, &n, Some(&lease(0)), t(0), GRACE);
        assert_eq!(first.current.as_deref(), Some("True"));
        let mut rec = first.record;
        // The status heartbeat never changes; the lease is renewed every 10 s.
        for s in (10..=200).step_by(10) {
            let o = observe(Some(&rec), &n, Some(&lease(s)), t(s), GRACE);
            assert_eq!(o.new_conditions, None, "at {s}s");
            assert_eq!(o.current.as_deref(), Some("True"));
            rec = o.record;
        }
    }

    #[test]
    fn a_silent_node_goes_unknown_after_the_grace_period_and_only_then() {
        let n = node(Some(("True", 0)));
        let rec = observe(None, &n, Some(&lease(0)), t(0), GRACE).record;
        let within = observe(Some(&rec), &n, Some(&lease(0)), t(40), GRACE);
        assert_eq!(within.new_conditions, None);
        let after = observe(Some(&within.record), &n, Some(&lease(0)), t(41), GRACE);
        assert_eq!(after.observed, "True");
        assert_eq!(after.current.as_deref(), Some("Unknown"));
        let conditions = after.new_conditions.expect("an update");
        let by_type = |ty: &str| conditions.iter().find(|c| c.type_ == ty).unwrap();
        let ready = by_type("Ready");
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason, "NodeStatusUnknown");
        assert_eq!(ready.message, "Kubelet stopped posting node status.");
        assert_eq!(ready.last_transition_time, Some(Time(t(41))));
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(t(0))),
            "heartbeat kept"
        );
        assert_eq!(by_type("MemoryPressure").status, "Unknown");
        let disk = by_type("DiskPressure");
        assert_eq!(
            (disk.status.as_str(), disk.reason.as_str()),
            ("Unknown", "NodeStatusNeverUpdated")
        );
        assert_eq!(
            by_type("PIDPressure").message,
            "Kubelet never posted node status."
        );

        // Once written, the next pass has nothing more to write.
        let mut written = n.clone();
        written.status.conditions = conditions;
        let again = observe(Some(&after.record), &written, Some(&lease(0)), t(46), GRACE);
        assert_eq!(again.new_conditions, None);
        assert_eq!(again.current.as_deref(), Some("Unknown"));

        // The kubelet comes back: a new heartbeat makes it healthy.
        let back = observe(
            Some(&again.record),
            &node(Some(("True", 50))),
            Some(&lease(50)),
            t(51),
            GRACE,
        );
        assert_eq!(back.current.as_deref(), Some("True"));
        assert_eq!(back.new_conditions, None);
    }

    #[test]
    fn status_heartbeats_alone_also_count() {
        let rec = observe(None, &node(Some(("True", 0))), None, t(0), GRACE).record;
        let o = observe(Some(&rec), &node(Some(("True", 30))), None, t(30), GRACE);
        let o = observe(
            Some(&o.record),
            &node(Some(("True", 60))),
            None,
            t(60),
            GRACE,
        );
        let o = observe(
            Some(&o.record),
            &node(Some(("True", 60))),
            None,
            t(95),
            GRACE,
        );
        assert_eq!(o.new_conditions, None, "35 s since the last heartbeat");
        let o = observe(
            Some(&o.record),
            &node(Some(("True", 60))),
            None,
            t(101),
            GRACE,
        );
        assert!(o.new_conditions.is_some());
    }

    #[test]
    fn a_restarted_controller_gives_every_node_a_full_grace_period() {
        // The lease was last renewed long ago, but this controller only
        // starts looking now.
        let n = node(Some(("True", 0)));
        let o = observe(None, &n, Some(&lease(0)), t(1000), GRACE);
        assert_eq!(o.new_conditions, None);
        let o = observe(Some(&o.record), &n, Some(&lease(0)), t(1041), GRACE);
        assert!(o.new_conditions.is_some());
    }

    #[test]
    fn a_node_that_never_reported_gets_the_startup_grace_from_its_creation() {
        let n = node(None);
        let o = observe(None, &n, None, t(59), GRACE);
        assert_eq!((o.current.clone(), o.new_conditions.clone()), (None, None));
        let o = observe(Some(&o.record), &n, None, t(61), GRACE);
        assert_eq!(o.current.as_deref(), Some("Unknown"));
        let ready = o
            .new_conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.reason, "NodeStatusNeverUpdated");
        assert_eq!(ready.last_heartbeat_time, Some(Time(t(0))));
    }

    #[test]
    fn a_kubelet_reporting_not_ready_is_alive_but_not_ready() {
        let rec = observe(
            None,
            &node(Some(("False", 0))),
            Some(&lease(0)),
            t(0),
            GRACE,
        )
        .record;
        let o = observe(
            Some(&rec),
            &node(Some(("False", 10))),
            Some(&lease(10)),
            t(10),
            GRACE,
        );
        assert_eq!(o.current.as_deref(), Some("False"));
        assert_eq!(o.observed, "False");
        assert_eq!(o.new_conditions, None);
    }
}
