//! Write conflicts in informer-driven controllers.
//!
//! A 409 Conflict on a write made at the cached resourceVersion means the
//! object changed after the cache was read. That change is on its way to
//! the informer, whose event queues the key again; retrying with backoff
//! meanwhile would only act on the same stale copy. So a sync that hits a
//! conflict ends quietly and looks again after [`CONFLICT_RECHECK`] at the
//! latest (in case the event is slow).

use std::time::Duration;

use tug_client::Action;

/// When to look again after a conflict if no event came first.
pub const CONFLICT_RECHECK: Duration = Duration::from_secs(1);

/// Whether `e` (or what caused it) is a 409 Conflict from the API server.
pub fn is_conflict(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<tug_client::Error>()
            .is_some_and(|e| e.is_conflict())
    })
}

/// A sync's outcome with conflicts turned into a quiet recheck.
pub fn settle_conflicts(
    controller: &str,
    key: &str,
    result: anyhow::Result<Action>,
) -> anyhow::Result<Action> {
    match result {
        Err(e) if is_conflict(&e) => {
            tracing::debug!(controller, key, error = %e, "object changed meanwhile; waiting for the newer version");
            Ok(Action::RequeueAfter(CONFLICT_RECHECK))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn conflicts_are_found_through_context() {
        let status: tug_api::Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "reason": "Conflict", "code": 409, "message": "the object has been modified",
        }))
        .unwrap();
        let conflict = tug_client::Error::Api(Box::new(status));
        let wrapped = Err::<(), _>(conflict)
            .context("updating the Deployment status")
            .unwrap_err();
        assert!(is_conflict(&wrapped));
        assert_eq!(
            settle_conflicts("d", "ns/x", Err(wrapped)).unwrap(),
            Action::RequeueAfter(CONFLICT_RECHECK)
        );
        assert!(!is_conflict(&anyhow::anyhow!("something else")));
        assert!(settle_conflicts("d", "ns/x", Err(anyhow::anyhow!("boom"))).is_err());
    }
}
