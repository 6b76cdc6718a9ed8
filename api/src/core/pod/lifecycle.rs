//! Where a pod stands, as controllers judge it: active, terminal, ready,
//! available (`podutil` in Kubernetes).

use chrono::{DateTime, Utc};

use super::{Pod, PodCondition};

/// `Succeeded`: every container exited 0 and will not restart.
pub const POD_SUCCEEDED: &str = "Succeeded";
/// `Failed`: a container failed and will not restart.
pub const POD_FAILED: &str = "Failed";
/// `Running`: bound, and at least one container runs.
pub const POD_RUNNING: &str = "Running";
/// `Pending`: accepted, not every container has started yet.
pub const POD_PENDING: &str = "Pending";
/// `Unknown`: the node stopped reporting.
pub const POD_UNKNOWN: &str = "Unknown";

/// The condition of `type_` on the pod, if reported.
pub fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status.conditions.iter().find(|c| c.type_ == type_)
}

/// Succeeded or Failed: the pod will never run again.
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_str(), POD_SUCCEEDED | POD_FAILED)
}

/// Counts towards a controller's replicas: neither terminal nor being
/// deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// The `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// Since when the pod has been ready (the Ready condition's last
/// transition), if it is ready.
pub fn pod_ready_since(pod: &Pod) -> Option<DateTime<Utc>> {
    pod_condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Ready for at least `min_ready_seconds` at `now`. A ready pod without a
/// transition time counts as available only when no wait is asked for.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: DateTime<Utc>) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    pod_ready_since(pod)
        .is_some_and(|since| since + chrono::Duration::seconds(i64::from(min_ready_seconds)) <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Time;

    fn ready_pod(since: DateTime<Utc>) -> Pod {
        let mut pod = Pod::default();
        pod.status.phase = POD_RUNNING.into();
        pod.status.conditions.push(PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(since)),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now = Utc::now();
        let pod = ready_pod(now - chrono::Duration::seconds(5));
        assert!(is_pod_available(&pod, 0, now));
        assert!(is_pod_available(&pod, 5, now));
        assert!(!is_pod_available(&pod, 6, now));
        assert!(!is_pod_available(&Pod::default(), 0, now));
    }

    #[test]
    fn terminal_and_deleted_pods_are_not_active() {
        let mut pod = ready_pod(Utc::now());
        assert!(is_pod_active(&pod));
        pod.status.phase = POD_FAILED.into();
        assert!(!is_pod_active(&pod));
        pod.status.phase = POD_RUNNING.into();
        pod.metadata.deletion_timestamp = Some(Time(Utc::now()));
        assert!(!is_pod_active(&pod));
    }
}
