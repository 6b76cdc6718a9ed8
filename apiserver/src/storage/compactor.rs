//! Periodic compaction, for either backend.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Storage, StorageResult};

/// Compacts `storage` every `every` to `current - keep_revisions` (kine
/// keeps the last 1000 revisions), logging failures and carrying on. Abort
/// the returned handle to stop it.
pub fn spawn_compactor(
    storage: Arc<dyn Storage>,
    every: Duration,
    keep_revisions: i64,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match compact_once(&*storage, keep_revisions).await {
                Ok(Some(revision)) => tracing::debug!(revision, "compacted storage"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "storage compaction failed"),
            }
        }
    })
}

/// Compacts to `current - keep_revisions` if that is newer than the last
/// compaction; returns the revision compacted to, if any.
pub async fn compact_once(
    storage: &dyn Storage,
    keep_revisions: i64,
) -> StorageResult<Option<i64>> {
    let target = storage.current_revision().await? - keep_revisions.max(0);
    if target <= 0 || target <= storage.compacted_revision().await? {
        return Ok(None);
    }
    storage.compact(target).await?;
    Ok(Some(target))
}
