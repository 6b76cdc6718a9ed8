//! The pod's `PodScheduled` condition when no node fits:
//! `False`/`Unschedulable` with the FailedScheduling message, written
//! through the status subresource as upstream does — but only when it
//! would change (a pod retried every few seconds with the same reasons
//! costs no writes).

use serde_json::json;
use tug_api::core::{pod_condition, Pod};
use tug_api::Time;
use tug_client::{Api, Client, Patch, PatchParams};

/// The condition type.
pub const POD_SCHEDULED: &str = "PodScheduled";
/// The reason for a pod no node fits.
pub const UNSCHEDULABLE: &str = "Unschedulable";

/// The strategic merge patch that sets the pod's PodScheduled condition to
/// False/Unschedulable with `message`, or `None` when the pod already says
/// exactly that. The transition time is kept when the status was already
/// False.
pub fn unschedulable_patch(pod: &Pod, message: &str) -> Option<serde_json::Value> {
    let current = pod_condition(pod, POD_SCHEDULED);
    if let Some(c) = current {
        if c.status == "False" && c.reason == UNSCHEDULABLE && c.message == message {
            return None;
        }
    }
    let transition = current
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time)
        .unwrap_or_else(Time::now);
    Some(json!({
        "status": {
            "conditions": [{
                "type": POD_SCHEDULED,
                "status": "False",
                "reason": UNSCHEDULABLE,
                "message": message,
                "lastProbeTime": null,
                "lastTransitionTime": transition,
            }]
        }
    }))
}

/// Write the condition when it changes; failures are only logged (the
/// next attempt writes it again).
pub async fn set_unschedulable(client: Client, pod: &Pod, message: &str) {
    let Some(patch) = unschedulable_patch(pod, message) else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(client, &pod.metadata.namespace);
    if let Err(e) = api
        .patch_status(
            &pod.metadata.name,
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        tracing::debug!(pod = %pod.metadata.name, error = %e, "could not update PodScheduled");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;
    use tug_api::core::PodCondition;

    #[test]
    fn the_condition_is_written_only_when_it_changes() {
        let mut p = pod("a");
        let patch = unschedulable_patch(&p, "0/1 nodes are available: 1 Too many pods.").unwrap();
        let cond = &patch["status"]["conditions"][0];
        assert_eq!(cond["type"], "PodScheduled");
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], "Unschedulable");
        assert_eq!(cond["message"], "0/1 nodes are available: 1 Too many pods.");

        let since = Time::now();
        p.status.conditions.push(PodCondition {
            type_: POD_SCHEDULED.into(),
            status: "False".into(),
            reason: UNSCHEDULABLE.into(),
            message: "0/1 nodes are available: 1 Too many pods.".into(),
            last_transition_time: Some(since),
            ..Default::default()
        });
        assert!(unschedulable_patch(&p, "0/1 nodes are available: 1 Too many pods.").is_none());
        let changed = unschedulable_patch(&p, "0/2 nodes are available: 2 Too many pods.").unwrap();
        assert_eq!(
            changed["status"]["conditions"][0]["lastTransitionTime"],
            serde_json::to_value(since).unwrap()
        );
    }
}
