//! The worker loop every level-triggered controller runs: take a key from
//! the [`WorkQueue`], reconcile it, and decide from the outcome when (if
//! ever) to look at it again.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::workqueue::WorkQueue;

/// What a successful reconcile asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the key is added again by an event.
    Done,
    /// Look again after this long (a time-based condition such as
    /// `minReadySeconds` or a progress deadline is pending).
    RequeueAfter(Duration),
}

/// Run `workers` tasks that reconcile keys from `queue` until it shuts
/// down. A failed reconcile is retried with the queue's per-key backoff; a
/// success resets it. The queue guarantees no key runs on two workers at
/// once. `name` labels the log lines.
pub async fn run_workers<F, Fut, E>(
    name: &'static str,
    queue: WorkQueue<String>,
    workers: usize,
    reconcile: F,
) where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let reconcile = Arc::new(reconcile);
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let queue = queue.clone();
            let reconcile = reconcile.clone();
            tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    match reconcile(key.clone()).await {
                        Ok(action) => {
                            queue.forget(&key);
                            if let Action::RequeueAfter(delay) = action {
                                queue.add_after(key.clone(), delay);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(controller = name, key = %key, error = %e, "reconcile failed; retrying with backoff");
                            queue.add_rate_limited(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}
