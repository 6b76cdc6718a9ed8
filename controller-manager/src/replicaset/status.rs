//! A ReplicaSet's status from its pods (`calculateStatus` upstream), and
//! when to look again for pods that will become available.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::apps::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use tug_api::core::{is_pod_available, is_pod_ready, pod_ready_since, Pod};
use tug_api::meta::Time;

/// The condition a failed create or delete leaves on the status.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The status `rs` should have with these active, claimed `pods`.
/// `manage_error` is the failure of this sync's creates or deletes: it
/// sets `ReplicaFailure` (`FailedCreate`/`FailedDelete`), and a sync
/// without one clears it. `observedGeneration` is left as it was; the
/// writer sets it.
pub fn calculate_status(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    manage_error: Option<&str>,
    now: DateTime<Utc>,
) -> ReplicaSetStatus {
    let mut status = rs.status.clone();
    let template_labels = &rs.spec.template.metadata.labels;
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    for pod in pods {
        let labels = &pod.metadata.labels;
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            fully_labeled += 1;
        }
        if is_pod_ready(pod) {
            ready += 1;
            if is_pod_available(pod, rs.spec.min_ready_seconds, now) {
                available += 1;
            }
        }
    }
    let has_failure = status.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match manage_error {
        Some(message) if !has_failure => {
            let diff = pods.len() as i64 - i64::from(rs.spec.replicas.unwrap_or(1));
            let reason = match diff.signum() {
                -1 => "FailedCreate",
                1 => "FailedDelete",
                _ => "",
            };
            status.conditions.push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                last_transition_time: Some(Time(now)),
                reason: reason.into(),
                message: message.into(),
            });
        }
        None if has_failure => status.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }
    status.replicas = pods.len() as i32;
    status.fully_labeled_replicas = fully_labeled;
    status.ready_replicas = ready;
    status.available_replicas = available;
    status
}

/// Whether `new` differs from the stored status of `rs`, or the
/// generation is not yet observed: only then is a write needed.
pub fn status_needs_write(rs: &ReplicaSet, new: &ReplicaSetStatus) -> bool {
    let old = &rs.status;
    old.replicas != new.replicas
        || old.fully_labeled_replicas != new.fully_labeled_replicas
        || old.ready_replicas != new.ready_replicas
        || old.available_replicas != new.available_replicas
        || old.conditions != new.conditions
        || old.observed_generation != rs.metadata.generation
}

/// How long until the next ready pod has been ready for
/// `minReadySeconds` (and so becomes available); `None` when no pod is
/// waiting for that.
pub fn next_available_in(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    now: DateTime<Utc>,
) -> Option<Duration> {
    let min_ready = i64::from(rs.spec.min_ready_seconds);
    if min_ready <= 0 {
        return None;
    }
    pods.iter()
        .filter(|p| !is_pod_available(p, rs.spec.min_ready_seconds, now))
        .filter_map(|p| pod_ready_since(p))
        .map(|since| since + chrono::Duration::seconds(min_ready) - now)
        .min()
        .map(|d| {
            d.to_std()
                .unwrap_or_default()
                .max(Duration::from_millis(10))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::PodCondition;

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.spec.replicas = Some(replicas);
        rs.spec.min_ready_seconds = min_ready;
        rs.spec.template.metadata.labels.extend([
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "fe".to_string()),
        ]);
        rs.metadata.generation = 2;
        rs
    }

    fn pod(labels: &[(&str, &str)], ready_since: Option<DateTime<Utc>>) -> Arc<Pod> {
        let mut p = Pod::default();
        for (k, v) in labels {
            p.metadata.labels.insert(k.to_string(), v.to_string());
        }
        if let Some(t) = ready_since {
            p.status.conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t)),
                ..Default::default()
            });
        }
        Arc::new(p)
    }

    #[test]
    fn counts_labels_readiness_and_availability() {
        let now = Utc::now();
        let full = [("app", "web"), ("tier", "fe")];
        let pods = vec![
            pod(&full, Some(now - chrono::Duration::seconds(30))),
            pod(&full, Some(now - chrono::Duration::seconds(3))),
            pod(&[("app", "web")], None),
        ];
        let s = calculate_status(&rs(3, 10), &pods, None, now);
        assert_eq!(
            (
                s.replicas,
                s.fully_labeled_replicas,
                s.ready_replicas,
                s.available_replicas
            ),
            (3, 2, 2, 1)
        );
        // The second pod becomes available in 7 s.
        let wait = next_available_in(&rs(3, 10), &pods, now).unwrap();
        assert_eq!(wait.as_secs(), 7);
        assert_eq!(next_available_in(&rs(3, 0), &pods, now), None);
        assert!(status_needs_write(&rs(3, 10), &s));
    }

    #[test]
    fn replica_failure_is_set_and_cleared() {
        let now = Utc::now();
        let set = rs(3, 0);
        let s = calculate_status(&set, &[], Some("quota exceeded"), now);
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].reason, "FailedCreate");
        assert_eq!(s.conditions[0].message, "quota exceeded");

        let mut failed = set.clone();
        failed.status = s;
        // A second failure keeps the first condition as it was.
        let again = calculate_status(&failed, &[], Some("other"), now);
        assert_eq!(again.conditions[0].message, "quota exceeded");
        let ok = calculate_status(&failed, &[], None, now);
        assert!(ok.conditions.is_empty());
    }

    #[test]
    fn unchanged_status_at_the_current_generation_needs_no_write() {
        let mut set = rs(1, 0);
        set.status.observed_generation = 2;
        let same = calculate_status(&set, &[], None, Utc::now());
        assert!(!status_needs_write(&set, &same));
        set.metadata.generation = 3;
        assert!(status_needs_write(&set, &same));
    }
}
