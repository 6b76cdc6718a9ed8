//! Writing a pod's status, as the kubelet's status manager does: only
//! when it changed, as a merge patch of the `status` subresource computed
//! from the status last seen, carrying the pod's uid as a precondition (a
//! pod deleted and re-created under the same name is never written with
//! the old one's status).
//!
//! The informer's copy of the pod lags behind our own writes. So that a
//! sync running before the watch has delivered our last write does not
//! write the same thing again, the writer remembers what it sent and the
//! resourceVersion that write was based on: as long as the cache still
//! shows that version and we want the same status, there is nothing to do.
//! Any other version (someone else wrote, or our write arrived) is
//! compared afresh.

use serde_json::json;
use tug_api::core::{Pod, PodStatus};
use tug_api::patch::create_merge_patch;
use tug_client::{Api, Client, Patch, PatchParams};

#[derive(Debug)]
struct Sent {
    base_resource_version: String,
    status: PodStatus,
}

/// The status writer of one pod.
#[derive(Debug, Default)]
pub struct StatusWriter {
    last: Option<Sent>,
}

/// What a write did.
#[derive(Debug, PartialEq)]
pub enum Written {
    /// Nothing to write.
    Unchanged,
    /// Written; the pod as stored now.
    Updated(Box<Pod>),
    /// The pod is gone, or is another pod now: nothing written.
    Gone,
}

impl StatusWriter {
    /// Whether `desired` needs writing, given the cached `pod`.
    pub fn needs_write(&self, pod: &Pod, desired: &PodStatus) -> bool {
        if pod.status == *desired {
            return false;
        }
        !matches!(&self.last, Some(s)
            if s.base_resource_version == pod.metadata.resource_version && s.status == *desired)
    }

    /// Write `desired` as the status of `pod` if it needs writing.
    pub async fn write(
        &mut self,
        client: &Client,
        pod: &Pod,
        desired: &PodStatus,
    ) -> tug_client::Result<Written> {
        if !self.needs_write(pod, desired) {
            return Ok(Written::Unchanged);
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.metadata.namespace);
        let old = serde_json::to_value(&pod.status).unwrap_or_default();
        let new = serde_json::to_value(desired).unwrap_or_default();
        let patch = json!({
            "metadata": {"uid": pod.metadata.uid},
            "status": create_merge_patch(&old, &new),
        });
        match api
            .patch_status(
                &pod.metadata.name,
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(written) => {
                self.last = Some(Sent {
                    base_resource_version: pod.metadata.resource_version.clone(),
                    status: desired.clone(),
                });
                Ok(Written::Updated(Box::new(written)))
            }
            // NotFound: deleted. Conflict: the uid precondition failed.
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(Written::Gone),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(rv: &str, phase: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.resource_version = rv.into();
        p.status.phase = phase.into();
        p
    }

    fn status(phase: &str) -> PodStatus {
        PodStatus {
            phase: phase.into(),
            ..Default::default()
        }
    }

    #[test]
    fn writes_only_what_is_not_there_yet() {
        let mut w = StatusWriter::default();
        assert!(!w.needs_write(&pod("5", "Pending"), &status("Pending")));
        assert!(w.needs_write(&pod("5", "Pending"), &status("Running")));
        w.last = Some(Sent {
            base_resource_version: "5".into(),
            status: status("Running"),
        });
        assert!(
            !w.needs_write(&pod("5", "Pending"), &status("Running")),
            "the cache has not caught up with our write yet"
        );
        assert!(
            w.needs_write(&pod("5", "Pending"), &status("Failed")),
            "a different status is written"
        );
        assert!(
            w.needs_write(&pod("7", "Pending"), &status("Running")),
            "someone else wrote after us: write again"
        );
        assert!(!w.needs_write(&pod("6", "Running"), &status("Running")));
    }
}
