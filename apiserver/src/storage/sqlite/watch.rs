//! Watch: replay the log after the start revision in batches, then follow
//! the writer's live broadcast. The broadcast receiver is subscribed before
//! the replay's snapshot is taken, so every change committed after the
//! snapshot is in the receiver; changes at or below the replay's end are
//! skipped there. Nothing is missed and nothing is sent twice.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use super::reader::{self, prefix_range, ReadPool};
use crate::storage::{StorageError, StorageResult, WatchEvent, WatchStream};

/// Rows fetched per replay query.
const REPLAY_BATCH: usize = 1000;

/// Starts a watch; `events` must have been subscribed before this call.
/// A compacted start revision is returned as the call's error.
pub(super) async fn watch(
    pool: Arc<ReadPool>,
    events: broadcast::Receiver<Arc<WatchEvent>>,
    prefix: &str,
    after: i64,
) -> StorageResult<WatchStream> {
    let (lo, hi) = prefix_range(prefix);
    let mut state = Watch {
        pool,
        events,
        prefix: prefix.to_owned(),
        lo,
        hi,
        pos: after,
        head: None,
        replaying: true,
        queue: VecDeque::new(),
        done: false,
    };
    state.replay_batch().await?;
    Ok(Box::pin(futures::stream::unfold(
        state,
        |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        },
    )))
}

struct Watch {
    pool: Arc<ReadPool>,
    events: broadcast::Receiver<Arc<WatchEvent>>,
    prefix: String,
    lo: Vec<u8>,
    hi: Vec<u8>,
    /// Every change at or below this revision has been queued or skipped.
    pos: i64,
    /// Where the replay ends (fixed by its first batch).
    head: Option<i64>,
    replaying: bool,
    queue: VecDeque<WatchEvent>,
    done: bool,
}

impl Watch {
    async fn next(&mut self) -> Option<StorageResult<WatchEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if self.replaying {
                if let Err(e) = self.replay_batch().await {
                    return self.fail(e);
                }
                continue;
            }
            match self.events.recv().await {
                Ok(event) => {
                    let revision = event.revision();
                    if revision <= self.pos {
                        continue;
                    }
                    self.pos = revision;
                    if event.key().starts_with(&self.prefix) {
                        return Some(Ok(WatchEvent::clone(&event)));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    return self.fail(StorageError::Backend(format!(
                        "watcher too slow: {missed} events behind"
                    )))
                }
                Err(RecvError::Closed) => {
                    return self.fail(StorageError::Backend("sqlite storage closed".into()))
                }
            }
        }
    }

    fn fail(&mut self, e: StorageError) -> Option<StorageResult<WatchEvent>> {
        self.done = true;
        Some(Err(e))
    }

    /// Queues the next batch of history; the last batch ends the replay.
    async fn replay_batch(&mut self) -> StorageResult<()> {
        let (lo, hi, after, head) = (self.lo.clone(), self.hi.clone(), self.pos, self.head);
        let batch = self
            .pool
            .run(move |conn| reader::history(conn, (&lo, &hi), after, head, REPLAY_BATCH))
            .await?;
        self.head = Some(batch.head);
        let last_batch = batch.rows.len() < REPLAY_BATCH;
        for row in batch.rows {
            self.pos = row.id;
            self.queue.push_back(row.into_event());
        }
        if last_batch {
            self.pos = self.pos.max(batch.head);
            self.replaying = false;
        }
        Ok(())
    }
}
