//! Which pods a ReplicaSet deletes first when it scales down
//! (`ActivePodsWithRanks` upstream). Earlier in the order goes first:
//!
//! 1. not yet scheduled before scheduled;
//! 2. `Pending` before `Unknown` before `Running`;
//! 3. not ready before ready;
//! 4. lower `controller.kubernetes.io/pod-deletion-cost` first;
//! 5. more related active pods on the same node first (spreads what stays);
//! 6. ready for less time first;
//! 7. more container restarts first (app containers, then sidecars);
//! 8. newer first;
//!
//! then by UID. Times (6, 8) are compared in log2 buckets of their age, so
//! pods created a few seconds apart count as equally old and the spread
//! and restart rules decide (upstream's `LogarithmicScaleDown`).
//!
//! The order is written as a sort key, which keeps it a total order (a
//! comparator that jumps to the UID inside a bucket is not, and Rust's
//! sort may panic on one).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tug_api::core::{is_pod_active, is_pod_ready, pod_ready_since, Pod};

/// The annotation that lets users say which pods matter less.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `count` pods of `pods` to delete first. `related` are the active
/// pods of the ReplicaSets sharing this one's controller (or its own),
/// used to count pods per node.
pub fn pods_to_delete(
    pods: &[Arc<Pod>],
    related: &[Arc<Pod>],
    count: usize,
    now: DateTime<Utc>,
) -> Vec<Arc<Pod>> {
    let mut pods = pods.to_vec();
    if count < pods.len() {
        rank_for_deletion(&mut pods, related, now);
    }
    pods.truncate(count);
    pods
}

/// Sort `pods` so that the first should be deleted first.
pub fn rank_for_deletion(pods: &mut [Arc<Pod>], related: &[Arc<Pod>], now: DateTime<Utc>) {
    let mut on_node: HashMap<&str, u32> = HashMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        *on_node.entry(p.spec.node_name.as_str()).or_default() += 1;
    }
    let colocated = |p: &Pod| on_node.get(p.spec.node_name.as_str()).copied().unwrap_or(0);
    pods.sort_by_cached_key(|p| DeletionKey::of(p, colocated(p), now));
}

/// A pod's place in the deletion order; smaller is deleted first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DeletionKey {
    scheduled: bool,
    phase: u8,
    ready: bool,
    deletion_cost: i32,
    colocated: Reverse<u32>,
    ready_age: i64,
    restarts: Reverse<i32>,
    sidecar_restarts: Reverse<i32>,
    age: i64,
    uid: String,
}

impl DeletionKey {
    fn of(pod: &Pod, colocated: u32, now: DateTime<Utc>) -> DeletionKey {
        let ready = is_pod_ready(pod);
        let (restarts, sidecar_restarts) = max_restarts(pod);
        DeletionKey {
            scheduled: !pod.spec.node_name.is_empty(),
            phase: match pod.status.phase.as_str() {
                "Unknown" => 1,
                "Running" => 2,
                _ => 0,
            },
            ready,
            deletion_cost: deletion_cost(pod),
            colocated: Reverse(colocated),
            // Compared only between ready pods (rule 3 settled the rest).
            ready_age: if ready {
                age_bucket(pod_ready_since(pod), now)
            } else {
                0
            },
            restarts: Reverse(restarts),
            sidecar_restarts: Reverse(sidecar_restarts),
            age: age_bucket(pod.metadata.creation_timestamp.map(|t| t.0), now),
            uid: pod.metadata.uid.clone(),
        }
    }
}

/// The pod's deletion cost; missing or not an int32 counts as 0.
fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .get(POD_DELETION_COST)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The most restarts of an app container, and of a sidecar (an init
/// container with `restartPolicy: Always`).
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let app = pod
        .status
        .container_statuses
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecar = pod
        .status
        .init_container_statuses
        .iter()
        .filter(|s| {
            pod.spec
                .init_containers
                .iter()
                .any(|c| c.name == s.name && c.restart_policy.as_deref() == Some("Always"))
        })
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (app, sidecar)
}

/// `floor(log2(age in ns))`: -1 for a time not in the past, and below
/// everything for an unknown time (upstream's zero time sorts first).
fn age_bucket(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    let Some(since) = since else {
        return i64::MIN;
    };
    let nanos = (now - since).num_nanoseconds().unwrap_or(i64::MAX);
    if nanos <= 0 {
        -1
    } else {
        i64::from(63 - nanos.leading_zeros() as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use tug_api::core::{ContainerStatus, PodCondition};
    use tug_api::meta::Time;

    struct P(Pod);

    impl P {
        fn new(uid: &str) -> P {
            let mut p = Pod::default();
            p.metadata.name = uid.into();
            p.metadata.uid = uid.into();
            p.spec.node_name = "n1".into();
            p.status.phase = "Running".into();
            P(p)
        }
        fn node(mut self, n: &str) -> P {
            self.0.spec.node_name = n.into();
            self
        }
        fn phase(mut self, ph: &str) -> P {
            self.0.status.phase = ph.into();
            self
        }
        fn ready_since(mut self, t: DateTime<Utc>) -> P {
            self.0.status.conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t)),
                ..Default::default()
            });
            self
        }
        fn created(mut self, t: DateTime<Utc>) -> P {
            self.0.metadata.creation_timestamp = Some(Time(t));
            self
        }
        fn restarts(mut self, n: i32) -> P {
            self.0.status.container_statuses.push(ContainerStatus {
                name: "c".into(),
                restart_count: n,
                ..Default::default()
            });
            self
        }
        fn cost(mut self, c: &str) -> P {
            self.0
                .metadata
                .annotations
                .insert(POD_DELETION_COST.into(), c.into());
            self
        }
        fn arc(self) -> Arc<Pod> {
            Arc::new(self.0)
        }
    }

    fn order(pods: Vec<Arc<Pod>>, related: &[Arc<Pod>], now: DateTime<Utc>) -> Vec<String> {
        let mut pods = pods;
        rank_for_deletion(&mut pods, related, now);
        pods.iter().map(|p| p.metadata.uid.clone()).collect()
    }

    #[test]
    fn each_rule_in_turn() {
        let now = Utc::now();
        let old = now - Duration::hours(10);
        // 1. unscheduled first, 2. Pending < Unknown < Running, 3. not ready first.
        let pods = vec![
            P::new("running-ready").ready_since(old).arc(),
            P::new("running").arc(),
            P::new("unknown").phase("Unknown").arc(),
            P::new("pending").phase("Pending").arc(),
            P::new("unscheduled").node("").phase("Pending").arc(),
        ];
        assert_eq!(
            order(pods, &[], now),
            vec![
                "unscheduled",
                "pending",
                "unknown",
                "running",
                "running-ready"
            ]
        );

        // 4. lower deletion cost first; a bad value counts as 0.
        let pods = vec![
            P::new("a").cost("10").arc(),
            P::new("b").cost("-5").arc(),
            P::new("c").cost("junk").arc(),
        ];
        assert_eq!(order(pods, &[], now), vec!["b", "c", "a"]);
    }

    #[test]
    fn doubled_up_nodes_lose_pods_first() {
        let now = Utc::now();
        let t = now - Duration::hours(1);
        let a = P::new("a").node("n1").ready_since(t).created(t).arc();
        let b = P::new("b").node("n2").ready_since(t).created(t).arc();
        let c = P::new("c").node("n2").ready_since(t).created(t).arc();
        let related = vec![a.clone(), b.clone(), c.clone()];
        let victims = pods_to_delete(&related, &related, 1, now);
        assert_eq!(victims[0].metadata.uid, "b", "n2 has two pods, ties by UID");
        // Inactive related pods do not count: n1 has one active pod (and
        // two terminating ones), n2 two.
        let mut dying = (*a).clone();
        dying.metadata.uid = "d".into();
        dying.metadata.deletion_timestamp = Some(Time(now));
        let related = vec![
            a.clone(),
            b.clone(),
            c,
            Arc::new(dying.clone()),
            Arc::new(dying),
        ];
        assert_eq!(order(vec![a, b], &related, now), vec!["b", "a"]);
    }

    #[test]
    fn ready_time_restarts_and_age_in_log_buckets() {
        let now = Utc::now();
        let t = now - Duration::days(3);
        // 6. ready for less time first.
        let pods = vec![
            P::new("long")
                .ready_since(now - Duration::hours(5))
                .created(t)
                .arc(),
            P::new("short")
                .ready_since(now - Duration::seconds(5))
                .created(t)
                .arc(),
        ];
        assert_eq!(order(pods, &[], now), vec!["short", "long"]);

        // Ready 100 s vs 110 s ago: the same log2 bucket, so 7. restarts decide.
        let pods = vec![
            P::new("a")
                .ready_since(now - Duration::seconds(100))
                .created(t)
                .arc(),
            P::new("b")
                .ready_since(now - Duration::seconds(110))
                .created(t)
                .restarts(3)
                .arc(),
        ];
        assert_eq!(order(pods, &[], now), vec!["b", "a"]);

        // 8. newer first when all else is equal.
        let pods = vec![
            P::new("older").created(now - Duration::hours(3)).arc(),
            P::new("newer").created(now - Duration::minutes(1)).arc(),
            P::new("no-time").arc(),
        ];
        assert_eq!(order(pods, &[], now), vec!["no-time", "newer", "older"]);

        // The same bucket: UID decides.
        let pods = vec![
            P::new("z").created(now - Duration::seconds(70)).arc(),
            P::new("y").created(now - Duration::seconds(80)).arc(),
        ];
        assert_eq!(order(pods, &[], now), vec!["y", "z"]);
    }

    #[test]
    fn pods_to_delete_takes_the_first_few() {
        let now = Utc::now();
        let pods = vec![
            P::new("r").ready_since(now).arc(),
            P::new("p").phase("Pending").arc(),
            P::new("u").node("").arc(),
        ];
        let names = |v: Vec<Arc<Pod>>| v.iter().map(|p| p.metadata.uid.clone()).collect::<Vec<_>>();
        assert_eq!(names(pods_to_delete(&pods, &[], 2, now)), vec!["u", "p"]);
        assert_eq!(names(pods_to_delete(&pods, &[], 5, now)).len(), 3);
    }

    #[test]
    fn age_buckets() {
        let now = Utc::now();
        assert_eq!(age_bucket(None, now), i64::MIN);
        assert_eq!(age_bucket(Some(now), now), -1);
        assert_eq!(age_bucket(Some(now - Duration::nanoseconds(1)), now), 0);
        assert_eq!(age_bucket(Some(now - Duration::nanoseconds(1024)), now), 10);
        assert_eq!(age_bucket(Some(now - Duration::nanoseconds(2047)), now), 10);
    }
}
