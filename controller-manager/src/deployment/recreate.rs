//! The Recreate strategy's gate (`oldPodsRunning` upstream): the new
//! ReplicaSet is created only once no pod of an old one may still run.

use std::sync::Arc;

use tug_api::apps::ReplicaSet;
use tug_api::core::Pod;

use super::replicas::total_actual;

/// Whether an old ReplicaSet still has pods, or any pod of an old
/// ReplicaSet is not yet Succeeded or Failed — a terminating pod whose
/// containers still run counts, and so does one in phase `Unknown` (its
/// node is unreachable: it may still run). `pods_of` gives the pods a
/// ReplicaSet (by uid) controls.
pub fn old_pods_running(old: &[&ReplicaSet], pods_of: impl Fn(&str) -> Vec<Arc<Pod>>) -> bool {
    if total_actual(old.iter().copied()) > 0 {
        return true;
    }
    old.iter().any(|rs| {
        pods_of(&rs.metadata.uid)
            .iter()
            .any(|p| !matches!(p.status.phase.as_str(), "Succeeded" | "Failed"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::replicas::tests::replica_set;
    use tug_api::meta::Time;

    fn pod(phase: &str) -> Arc<Pod> {
        let mut p = Pod::default();
        p.status.phase = phase.into();
        Arc::new(p)
    }

    #[test]
    fn waits_for_every_old_pod_to_stop() {
        let scaled_down = replica_set("old", 100, 0, 0);
        let none = |_: &str| Vec::new();
        assert!(!old_pods_running(&[&scaled_down], none));

        // status.replicas not yet 0.
        let mut counting = scaled_down.clone();
        counting.status.replicas = 1;
        assert!(old_pods_running(&[&counting], none));

        // A terminating pod still Running, or Pending, or Unknown: wait.
        for phase in ["Running", "Pending", "Unknown", ""] {
            let mut p = (*pod(phase)).clone();
            p.metadata.deletion_timestamp = Some(Time::now());
            let p = Arc::new(p);
            assert!(
                old_pods_running(&[&scaled_down], |_| vec![p.clone()]),
                "{phase}"
            );
        }
        // Finished pods do not hold the rollout.
        assert!(!old_pods_running(&[&scaled_down], |_| vec![
            pod("Succeeded"),
            pod("Failed")
        ]));
    }
}
