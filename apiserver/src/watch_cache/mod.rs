//! The watch cache: one storage watch per resource, fanned out to every
//! client watching it. Recent events stay in memory so a client resuming
//! from a recent resourceVersion is served without touching storage; an
//! older resume falls back to a storage watch (and gets 410 Gone if that
//! history was compacted). A client that cannot keep up is cut off rather
//! than slowing everyone else: it resumes from its last resourceVersion.
//!
//! Events reach watchers through a [`Dispatcher`] that indexes watchers by
//! the value their field selector pins on the kind's trigger field (pods:
//! `spec.nodeName`), so a pod event wakes its node's watch, not every
//! node's.

mod dispatch;
mod event;
mod watcher;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use tug_api::selector::FieldSelector;

use crate::registry::Handler;
use crate::storage::{Storage, StorageError};

pub use dispatch::trigger_field;
pub use event::{CacheEvent, EventType};
pub use watcher::CacheWatch;

use dispatch::Dispatcher;
use watcher::{Inbox, Watcher};

/// Events kept in memory per resource unless configured otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;
/// How many live events a watcher may have queued before it is cut off.
const WATCHER_BACKLOG: usize = 2048;

/// Why a watch stream ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// The start revision is compacted: the client must relist (410).
    Expired(String),
    /// The watcher fell behind or storage failed: the client should
    /// re-watch from its last resourceVersion.
    Interrupted(String),
}

pub type EventStream = BoxStream<'static, Result<Arc<CacheEvent>, WatchEnd>>;

struct CacheState {
    events: VecDeque<Arc<CacheEvent>>,
    /// Watches from a revision ≥ this are served from memory.
    oldest: i64,
    /// Revision of the newest event seen (every watcher has been handed
    /// the events up to it that concern it).
    newest: i64,
    watchers: Dispatcher,
}

/// The watch cache of one resource.
pub struct WatchCache {
    handler: Handler,
    storage: Arc<dyn Storage>,
    prefix: String,
    capacity: usize,
    /// Shared with every [`Watcher`], which unregisters itself on drop.
    state: Arc<Mutex<CacheState>>,
}

impl WatchCache {
    /// Start caching `handler`'s resource from the current revision,
    /// keeping the last `capacity` events in memory.
    pub async fn start(
        handler: Handler,
        storage: Arc<dyn Storage>,
        capacity: usize,
    ) -> Result<Arc<WatchCache>, StorageError> {
        let start = storage.current_revision().await?;
        let prefix = handler.info().prefix("");
        let watchers = Dispatcher::new(trigger_field(handler.info()));
        let cache = Arc::new(WatchCache {
            handler,
            storage,
            prefix,
            capacity: capacity.max(1),
            state: Arc::new(Mutex::new(CacheState {
                events: VecDeque::new(),
                oldest: start,
                newest: start,
                watchers,
            })),
        });
        tokio::spawn(cache.clone().run(start));
        Ok(cache)
    }

    /// Follow storage forever, re-watching after errors.
    async fn run(self: Arc<Self>, start: i64) {
        let mut after = start;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.storage.watch(&self.prefix, after).await {
                Ok(mut stream) => {
                    backoff = Duration::from_millis(100);
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(event) => {
                                after = event.revision();
                                if let Some(ev) = CacheEvent::from_storage(&self.handler, &event) {
                                    self.push(Arc::new(ev));
                                }
                            }
                            Err(StorageError::Compacted { .. }) => {
                                after = self.reset().await;
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(prefix = %self.prefix, error = %e, "watch cache lost its storage watch; resuming");
                                break;
                            }
                        }
                    }
                }
                Err(StorageError::Compacted { .. }) => after = self.reset().await,
                Err(e) => {
                    tracing::warn!(prefix = %self.prefix, error = %e, "watch cache could not watch storage; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// History we needed is gone: drop every watcher (they resume or relist)
    /// and start over from the current revision.
    async fn reset(&self) -> i64 {
        let now = self.storage.current_revision().await.unwrap_or(0);
        if let Ok(mut s) = self.state.lock() {
            s.events.clear();
            s.oldest = now;
            s.newest = now;
            s.watchers
                .close_all(WatchEnd::Interrupted("watch cache restarted".into()));
        }
        now
    }

    fn push(&self, event: Arc<CacheEvent>) {
        let Ok(mut s) = self.state.lock() else { return };
        if event.revision <= s.newest {
            return;
        }
        s.newest = event.revision;
        if s.events.len() >= self.capacity {
            if let Some(evicted) = s.events.pop_front() {
                s.oldest = evicted.revision;
            }
        }
        s.watchers.dispatch(&event);
        s.events.push_back(event);
    }

    /// Every event with revision > `after`, in order, then live events,
    /// for a watcher whose field selector is `fields` (it only narrows who
    /// is woken for what: the caller still applies its selectors).
    pub async fn watch(&self, after: i64, fields: &FieldSelector) -> CacheWatch {
        let registered = match self.state.lock() {
            Err(_) => {
                return CacheWatch::direct(
                    futures::stream::once(async {
                        Err(WatchEnd::Interrupted("watch cache unavailable".into()))
                    })
                    .boxed(),
                )
            }
            Ok(s) if after < s.oldest => None,
            Ok(mut s) => {
                let trigger = s.watchers.trigger_of(fields);
                let history: VecDeque<Arc<CacheEvent>> = s
                    .events
                    .iter()
                    .filter(|e| e.revision > after)
                    .filter(|e| s.watchers.concerns(trigger.as_deref(), e))
                    .cloned()
                    .collect();
                let inbox = Inbox::new(history);
                let id = s.watchers.add(trigger.clone(), inbox.clone());
                Some(Watcher {
                    id,
                    trigger,
                    inbox,
                    cache: self.state.clone(),
                })
            }
        };
        match registered {
            Some(watcher) => CacheWatch::cached(watcher),
            None => CacheWatch::direct(self.watch_storage(after).await),
        }
    }

    /// A watch older than the cache window: straight from storage.
    async fn watch_storage(&self, after: i64) -> EventStream {
        let handler = self.handler.clone();
        match self.storage.watch(&self.prefix, after).await {
            Ok(stream) => stream
                .filter_map(move |item| {
                    let out = match item {
                        Ok(ev) => CacheEvent::from_storage(&handler, &ev).map(|e| Ok(Arc::new(e))),
                        Err(StorageError::Compacted {
                            requested,
                            compacted,
                        }) => Some(Err(WatchEnd::Expired(format!(
                            "too old resource version: {requested} ({compacted})"
                        )))),
                        Err(e) => Some(Err(WatchEnd::Interrupted(e.to_string()))),
                    };
                    futures::future::ready(out)
                })
                .take_while_inclusive_ok(),
            Err(StorageError::Compacted {
                requested,
                compacted,
            }) => futures::stream::once(async move {
                Err(WatchEnd::Expired(format!(
                    "too old resource version: {requested} ({compacted})"
                )))
            })
            .boxed(),
            Err(e) => {
                let msg = e.to_string();
                futures::stream::once(async move { Err(WatchEnd::Interrupted(msg)) }).boxed()
            }
        }
    }
}

/// Ends a stream right after its first error item, without waiting for
/// another item (a cut-off watcher is closed at once).
trait TakeWhileInclusiveOk {
    fn take_while_inclusive_ok(self) -> EventStream;
}

impl<S> TakeWhileInclusiveOk for S
where
    S: futures::Stream<Item = Result<Arc<CacheEvent>, WatchEnd>> + Send + 'static,
{
    fn take_while_inclusive_ok(self) -> EventStream {
        futures::stream::unfold((self.boxed(), false), |(mut inner, done)| async move {
            if done {
                return None;
            }
            let item = inner.next().await?;
            let done = item.is_err();
            Some((item, (inner, done)))
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests;
