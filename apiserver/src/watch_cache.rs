//! The watch cache: one storage watch per resource, fanned out to every
//! client watching it. Recent events stay in memory so a client resuming
//! from a recent resourceVersion is served without touching storage; an
//! older resume falls back to a storage watch (and gets 410 Gone if that
//! history was compacted). A client that cannot keep up is cut off rather
//! than slowing everyone else: it resumes from its last resourceVersion.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::objects::{decode_bytes, decode_kv};
use crate::registry::{Handler, ObjectAttrs};
use crate::storage::{Storage, StorageError, WatchEvent};

/// Events kept in memory per resource unless configured otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;
/// How far a watcher may fall behind the newest event before it is cut off.
const WATCHER_BACKLOG: usize = 2048;

/// The type of a change as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, decoded once and shared by every watcher.
#[derive(Debug)]
pub struct CacheEvent {
    pub event_type: EventType,
    pub revision: i64,
    /// The object after the change (for a delete: its last state), with
    /// `resourceVersion` = `revision`, serialized.
    pub object: Bytes,
    pub attrs: ObjectAttrs,
    /// For a modification: the object before, serialized with
    /// `resourceVersion` = `revision` (sent as DELETED to watchers whose
    /// selector it no longer matches), and its attributes.
    pub prev: Option<(Bytes, ObjectAttrs)>,
}

fn serialize(object: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(object).unwrap_or_default())
}

impl CacheEvent {
    /// Decode a storage event for `handler`'s kind.
    pub fn from_storage(handler: &Handler, event: &WatchEvent) -> Option<CacheEvent> {
        match event {
            WatchEvent::Put { kv, prev } => {
                let cur = decode_kv(kv).ok()?;
                let prev = prev.as_ref().and_then(|p| {
                    let old = decode_bytes(&p.value, kv.mod_revision).ok()?;
                    Some((serialize(&old.object), handler.attrs(&old.object)))
                });
                Some(CacheEvent {
                    event_type: if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    },
                    revision: kv.mod_revision,
                    attrs: handler.attrs(&cur.object),
                    object: serialize(&cur.object),
                    prev,
                })
            }
            WatchEvent::Delete { prev, revision } => {
                let last = decode_bytes(&prev.value, *revision).ok()?;
                Some(CacheEvent {
                    event_type: EventType::Deleted,
                    revision: *revision,
                    attrs: handler.attrs(&last.object),
                    object: serialize(&last.object),
                    prev: None,
                })
            }
        }
    }

    /// What a watcher with filter `matches` sees of this event, if anything:
    /// an object entering the filter is ADDED, leaving it is DELETED.
    pub fn as_seen_by(
        &self,
        matches: &dyn Fn(&ObjectAttrs) -> bool,
    ) -> Option<(EventType, &Bytes)> {
        let now = matches(&self.attrs);
        match (&self.prev, self.event_type) {
            (Some((prev_obj, prev_attrs)), EventType::Modified) => {
                match (matches(prev_attrs), now) {
                    (true, true) => Some((EventType::Modified, &self.object)),
                    (false, true) => Some((EventType::Added, &self.object)),
                    (true, false) => Some((EventType::Deleted, prev_obj)),
                    (false, false) => None,
                }
            }
            _ => now.then_some((self.event_type, &self.object)),
        }
    }
}

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
    /// Revision of the newest event seen.
    newest: i64,
    sender: broadcast::Sender<Arc<CacheEvent>>,
}

/// The watch cache of one resource.
pub struct WatchCache {
    handler: Handler,
    storage: Arc<dyn Storage>,
    prefix: String,
    capacity: usize,
    state: Mutex<CacheState>,
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
        let (sender, _) = broadcast::channel(WATCHER_BACKLOG);
        let cache = Arc::new(WatchCache {
            handler,
            storage,
            prefix,
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                events: VecDeque::new(),
                oldest: start,
                newest: start,
                sender,
            }),
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
            let (sender, _) = broadcast::channel(WATCHER_BACKLOG);
            s.sender = sender;
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
        s.events.push_back(event.clone());
        // No receivers is fine: nobody is watching.
        let _ = s.sender.send(event);
    }

    /// Every event with revision > `after`, in order, then live events.
    pub async fn watch(&self, after: i64) -> EventStream {
        let subscribed = match self.state.lock() {
            Err(_) => {
                return futures::stream::once(async {
                    Err(WatchEnd::Interrupted("watch cache unavailable".into()))
                })
                .boxed()
            }
            Ok(s) if after < s.oldest => None,
            Ok(s) => {
                let backlog: Vec<Arc<CacheEvent>> = s
                    .events
                    .iter()
                    .filter(|e| e.revision > after)
                    .cloned()
                    .collect();
                Some((backlog, s.sender.subscribe()))
            }
        };
        let Some((backlog, receiver)) = subscribed else {
            return self.watch_storage(after).await;
        };
        let last = backlog.last().map_or(after, |e| e.revision);
        let live = futures::stream::unfold((receiver, last), |(mut rx, last)| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.revision <= last => continue,
                    Ok(ev) => {
                        let rev = ev.revision;
                        return Some((Ok(ev), (rx, rev)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((
                            Err(WatchEnd::Interrupted(
                                "watcher fell too far behind and was closed".into(),
                            )),
                            (rx, i64::MAX),
                        ));
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Some((
                            Err(WatchEnd::Interrupted("watch cache restarted".into())),
                            (rx, i64::MAX),
                        ));
                    }
                }
            }
        });
        futures::stream::iter(backlog.into_iter().map(Ok))
            .chain(live)
            .take_while_inclusive_ok()
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
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::storage::SqliteStorage;
    use std::time::Duration;

    fn configmap(name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
        }))
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_watcher_is_cut_off_and_others_see_everything() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(&dir.path().join("db")).unwrap());
        let registry = Registry::new(crate::registry::all_kinds());
        let handler = registry.get("", "v1", "configmaps").unwrap().clone();
        let cache = WatchCache::start(handler, storage.clone(), 16)
            .await
            .unwrap();
        let start = storage.current_revision().await.unwrap();

        let mut slow = cache.watch(start).await;
        let mut fast = cache.watch(start).await;
        let total = WATCHER_BACKLOG + 100;
        let writer = {
            let storage = storage.clone();
            tokio::spawn(async move {
                for i in 0..total {
                    let key = format!("/registry/configmaps/default/c{i}");
                    storage
                        .create(&key, configmap(&format!("c{i}")))
                        .await
                        .unwrap();
                }
            })
        };
        // The fast watcher keeps up and sees every write in order.
        let mut last = start;
        for _ in 0..total {
            let ev = tokio::time::timeout(Duration::from_secs(30), fast.next())
                .await
                .expect("fast watcher is never starved")
                .expect("stream open")
                .expect("fast watcher is not cut off");
            assert!(ev.revision > last);
            last = ev.revision;
        }
        writer.await.unwrap();
        // The slow one never read: it is told it was closed, after at most
        // its backlog.
        let mut delivered = 0;
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(10), slow.next()).await {
                Ok(Some(Ok(_))) => delivered += 1,
                Ok(Some(Err(end))) => break end,
                other => panic!("slow watcher neither cut off nor served: {other:?}"),
            }
        };
        assert!(matches!(end, WatchEnd::Interrupted(_)), "{end:?}");
        assert!(delivered <= WATCHER_BACKLOG, "{delivered}");
        assert!(
            slow.next().await.is_none(),
            "the stream ends after the cut-off"
        );
    }
}
