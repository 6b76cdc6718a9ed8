//! Informers, as client-go's: keep a local [`Store`] of one kind current
//! and tell handlers what changed.
//!
//! The loop ([`Informer::run`]):
//!
//! 1. **List** the selected objects and load them into the store
//!    atomically. On the first list the store becomes synced; on a later
//!    one (a relist) handlers get a delete for every object that vanished,
//!    an add for every new one and an update for every changed one — so no
//!    change is missed and no deleted object lingers.
//! 2. **Watch** from the list's resourceVersion, applying each event to the
//!    store and then to the handlers. Every event and bookmark advances
//!    the informer's resourceVersion.
//! 3. When the watch ends or the connection drops, **watch again from the
//!    last resourceVersion** (after a backoff if it failed), so nothing in
//!    between is lost — including across an apiserver restart.
//! 4. When the server answers 410 Gone (that resourceVersion has been
//!    compacted away), go back to 1.
//!
//! Optionally every `resync` period each object in the store is delivered
//! again as an update whose old and new object are the same, so
//! level-triggered controllers re-check everything now and then.
//!
//! Handlers are plain callbacks run on the informer's task, after the
//! store has been updated: a controller's handler typically just adds the
//! object's key to a [`WorkQueue`](crate::workqueue::WorkQueue). One
//! informer per kind can serve several controllers (register a handler
//! for each before running it).
//!
//! ```no_run
//! # async fn demo(client: tug_client::Client) {
//! use tug_client::{Api, Informer, ListParams, WorkQueue};
//! use tug_client::api_types::core::Pod;
//!
//! let queue = WorkQueue::new();
//! let q = queue.clone();
//! let informer = Informer::new(Api::<Pod>::all(client), ListParams::default())
//!     .with_index("nodeName", |p: &Pod| vec![p.spec.node_name.clone()])
//!     .on_event(move |ev| q.add(ev.key()));
//! let pods = informer.store();
//! tokio::spawn(informer.run());
//! pods.wait_synced().await;
//! while let Some(key) = queue.get().await {
//!     let _pod = pods.get(&key); // reconcile from the cache
//!     queue.done(&key);
//! }
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tug_api::Resource;

use crate::api::Api;
use crate::backoff::Backoff;
use crate::error::Error;
use crate::params::ListParams;
use crate::store::{key_of, Change, Store};
use crate::watch::WatchEvent;

/// A change delivered to handlers.
#[derive(Debug)]
pub enum Event<K> {
    /// A new object.
    Added(Arc<K>),
    /// A changed object; on a periodic resync `old` and `new` are the same
    /// object ([`Event::is_resync`]).
    Updated {
        /// The state before the change.
        old: Arc<K>,
        /// The state after it.
        new: Arc<K>,
    },
    /// A deleted object, in its last known state.
    Deleted(Arc<K>),
}

impl<K: Resource> Event<K> {
    /// The object (the new one for an update).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Event::Added(o) | Event::Deleted(o) => o,
            Event::Updated { new, .. } => new,
        }
    }

    /// The object's store key (`namespace/name`).
    pub fn key(&self) -> String {
        key_of(self.object().meta())
    }

    /// Whether this is a periodic resync rather than a real change.
    pub fn is_resync(&self) -> bool {
        matches!(self, Event::Updated { old, new } if Arc::ptr_eq(old, new))
    }
}

impl<K> From<Change<K>> for Event<K> {
    fn from(c: Change<K>) -> Self {
        match c {
            Change::Added(o) => Event::Added(o),
            Change::Updated { old, new } => Event::Updated { old, new },
            Change::Deleted(o) => Event::Deleted(o),
        }
    }
}

type Handler<K> = Box<dyn Fn(&Event<K>) + Send + Sync>;

/// Counters of what an informer has done, for tests and metrics.
#[derive(Debug, Default)]
pub struct InformerStats {
    lists: AtomicU64,
    relists_after_gone: AtomicU64,
    watches: AtomicU64,
    events: AtomicU64,
    resource_version: Mutex<String>,
}

impl InformerStats {
    /// Successful lists (the first one included).
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::SeqCst)
    }
    /// Relists caused by 410 Gone.
    pub fn relists_after_gone(&self) -> u64 {
        self.relists_after_gone.load(Ordering::SeqCst)
    }
    /// Watches opened (the first and every resume).
    pub fn watches(&self) -> u64 {
        self.watches.load(Ordering::SeqCst)
    }
    /// Watch events applied (bookmarks excluded).
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::SeqCst)
    }
    /// The resourceVersion the informer would resume from.
    pub fn resource_version(&self) -> String {
        self.resource_version
            .lock()
            .map(|rv| rv.clone())
            .unwrap_or_default()
    }
    fn set_resource_version(&self, rv: &str) {
        if let Ok(mut cur) = self.resource_version.lock() {
            rv.clone_into(&mut cur);
        }
    }
}

/// Keeps a [`Store`] of the objects an [`Api`] and [`ListParams`] select
/// current, and tells handlers about every change.
pub struct Informer<K: Resource> {
    api: Api<K>,
    params: ListParams,
    store: Store<K>,
    handlers: Vec<Handler<K>>,
    resync: Option<Duration>,
    stats: Arc<InformerStats>,
    backoff: Backoff,
}

/// Why a watch loop gave up.
enum WatchEnd {
    /// 410: the resourceVersion is gone, list again.
    Gone,
}

impl<K: Resource> Informer<K> {
    /// An informer over the objects `params` select through `api` (a
    /// namespaced `Api` watches one namespace, `Api::all` every one).
    pub fn new(api: Api<K>, params: ListParams) -> Self {
        Informer {
            api,
            params,
            store: Store::new(),
            handlers: Vec::new(),
            resync: None,
            stats: Arc::new(InformerStats::default()),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
        }
    }

    /// Re-deliver every object as an update every `period`.
    pub fn with_resync(mut self, period: Duration) -> Self {
        self.resync = Some(period).filter(|p| !p.is_zero());
        self
    }

    /// Add a custom index to the store (see [`Store::add_index`]).
    pub fn with_index(
        self,
        name: &str,
        f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.store.add_index(name, f);
        self
    }

    /// Call `handler` for every change, after the store reflects it.
    pub fn on_event(mut self, handler: impl Fn(&Event<K>) + Send + Sync + 'static) -> Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Call `handler` for every change (the `&mut` form of
    /// [`Informer::on_event`], for informers shared through an
    /// [`InformerFactory`](crate::factory::InformerFactory)).
    pub fn add_handler(&mut self, handler: impl Fn(&Event<K>) + Send + Sync + 'static) {
        self.handlers.push(Box::new(handler));
    }

    /// Add a custom index (the `&mut` form of [`Informer::with_index`]).
    pub fn add_index(&mut self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        self.store.add_index(name, f);
    }

    /// The store this informer fills (clones share it).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// This informer's counters.
    pub fn stats(&self) -> Arc<InformerStats> {
        self.stats.clone()
    }

    /// List, watch, resume and relist for ever. Stop it by dropping the
    /// future or aborting the task it runs on; the store keeps its last
    /// content.
    pub async fn run(mut self) {
        let mut resync = self.resync.map(|period| {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        });
        loop {
            let list = match self.api.list(&self.params).await {
                Ok(list) => list,
                Err(e) => {
                    let delay = self.backoff.next_delay();
                    tracing::warn!(kind = %self.api.resource().kind, error = %e, retry_in = ?delay, "informer list failed");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            self.backoff.reset();
            let mut rv = list.metadata.resource_version.clone();
            self.stats.set_resource_version(&rv);
            let changes = self.store.replace(list.items);
            self.stats.lists.fetch_add(1, Ordering::SeqCst);
            self.store.set_synced();
            for change in changes {
                self.deliver(&change.into());
            }
            match self.watch_from(&mut rv, resync.as_mut()).await {
                WatchEnd::Gone => {
                    self.stats.relists_after_gone.fetch_add(1, Ordering::SeqCst);
                    tracing::info!(kind = %self.api.resource().kind, resource_version = %rv, "watch expired (410 Gone); listing again");
                }
            }
        }
    }

    /// Watch from `rv`, resuming after every end or failure, until the
    /// server says 410 Gone.
    async fn watch_from(
        &mut self,
        rv: &mut String,
        mut resync: Option<&mut tokio::time::Interval>,
    ) -> WatchEnd {
        loop {
            let mut stream = match self.api.watch(&self.params, rv).await {
                Ok(s) => s,
                Err(Error::Gone(_)) => return WatchEnd::Gone,
                Err(e) => {
                    let delay = self.backoff.next_delay();
                    if e.is_transport() {
                        // The server is away (restarting, say): expected, quiet.
                        tracing::debug!(kind = %self.api.resource().kind, error = %e, retry_in = ?delay, "informer watch failed");
                    } else {
                        tracing::warn!(kind = %self.api.resource().kind, error = %e, retry_in = ?delay, "informer watch failed");
                    }
                    self.sleep_resyncing(delay, resync.as_deref_mut()).await;
                    continue;
                }
            };
            self.stats.watches.fetch_add(1, Ordering::SeqCst);
            let mut received = 0u64;
            let failed = loop {
                let item = match resync.as_deref_mut() {
                    Some(timer) => tokio::select! {
                        item = stream.next() => item,
                        _ = timer.tick() => { self.resync(); continue; }
                    },
                    None => stream.next().await,
                };
                match item {
                    // A clean end (the server's timeout): resume at once,
                    // unless the server keeps ending watches immediately.
                    None => break received == 0,
                    Some(Ok(event)) => {
                        received += 1;
                        self.backoff.reset();
                        if !self.apply(event, rv) {
                            break true;
                        }
                    }
                    Some(Err(Error::Gone(_))) => return WatchEnd::Gone,
                    Some(Err(e)) => {
                        tracing::debug!(kind = %self.api.resource().kind, error = %e, "informer watch broke; resuming");
                        break true;
                    }
                }
            };
            if failed {
                let delay = self.backoff.next_delay();
                self.sleep_resyncing(delay, resync.as_deref_mut()).await;
            }
        }
    }

    /// Sleep for `delay`, still resyncing on schedule.
    async fn sleep_resyncing(&self, delay: Duration, resync: Option<&mut tokio::time::Interval>) {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        match resync {
            Some(timer) => loop {
                tokio::select! {
                    _ = &mut sleep => return,
                    _ = timer.tick() => self.resync(),
                }
            },
            None => sleep.await,
        }
    }

    /// Apply one watch event; false when the watch should be reopened.
    fn apply(&self, event: WatchEvent<K>, rv: &mut String) -> bool {
        match event {
            WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                self.advance(rv, &obj.meta().resource_version);
                let new = Arc::new(obj);
                let event = match self.store.insert_arc(new.clone()) {
                    None => Event::Added(new),
                    Some(old) => Event::Updated { old, new },
                };
                self.stats.events.fetch_add(1, Ordering::SeqCst);
                self.deliver(&event);
            }
            WatchEvent::Deleted(obj) => {
                self.advance(rv, &obj.meta().resource_version);
                self.stats.events.fetch_add(1, Ordering::SeqCst);
                // Only what the store held is reported deleted: no phantom deletes.
                if self.store.remove(&key_of(obj.meta())).is_some() {
                    self.deliver(&Event::Deleted(Arc::new(obj)));
                }
            }
            WatchEvent::Bookmark(b) => self.advance(rv, &b.resource_version),
            WatchEvent::Error(status) => {
                tracing::warn!(kind = %self.api.resource().kind, code = status.code, message = %status.message, "watch error event; resuming");
                return false;
            }
        }
        true
    }

    fn advance(&self, rv: &mut String, new: &str) {
        if !new.is_empty() {
            new.clone_into(rv);
            self.stats.set_resource_version(new);
        }
    }

    /// Deliver every stored object again as an update.
    fn resync(&self) {
        for obj in self.store.list() {
            self.deliver(&Event::Updated {
                old: obj.clone(),
                new: obj,
            });
        }
    }

    fn deliver(&self, event: &Event<K>) {
        for h in &self.handlers {
            h(event);
        }
    }
}
