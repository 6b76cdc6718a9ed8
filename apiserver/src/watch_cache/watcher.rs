//! One client's watch on the cache: an inbox the dispatcher fills under the
//! cache lock, and the stream that empties it.
//!
//! Each watcher has its own bounded inbox (upstream's `cacheWatcher.input`)
//! rather than a shared broadcast: the dispatcher only touches the inboxes
//! of the watchers an event concerns, so a pod event does not wake every
//! node's watch.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;

use super::{CacheEvent, CacheState, EventStream, WatchEnd, WATCHER_BACKLOG};

/// The events queued for one watcher, and how its stream ends.
pub(super) struct Inbox {
    queue: Mutex<Queue>,
}

struct Queue {
    events: VecDeque<Arc<CacheEvent>>,
    /// How many of the queued events (at the front) are history the
    /// watcher asked for when it started; only live events count towards
    /// the backlog limit, as a resume from far back is not a slow reader.
    history: usize,
    /// Set when the watcher is closed: returned after the queued events.
    end: Option<WatchEnd>,
    /// The end was returned: the stream is over.
    finished: bool,
    waker: Option<Waker>,
}

impl Inbox {
    /// An inbox holding `history`, the cached events the watch starts with.
    pub(super) fn new(history: VecDeque<Arc<CacheEvent>>) -> Arc<Inbox> {
        Arc::new(Inbox {
            queue: Mutex::new(Queue {
                history: history.len(),
                events: history,
                end: None,
                finished: false,
                waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a live event. Returns false when the watcher no longer takes
    /// events: it was closed, or it is now cut off because it fell more
    /// than [`WATCHER_BACKLOG`] events behind (its queued events are
    /// dropped; the client resumes from its last resourceVersion).
    pub(super) fn deliver(&self, event: &Arc<CacheEvent>) -> bool {
        let mut q = self.lock();
        if q.end.is_some() || q.finished {
            return false;
        }
        let accepted = q.events.len() - q.history < WATCHER_BACKLOG;
        if accepted {
            q.events.push_back(event.clone());
        } else {
            q.events.clear();
            q.history = 0;
            q.end = Some(WatchEnd::Interrupted(
                "watcher fell too far behind and was closed".into(),
            ));
        }
        // Woken only when it was waiting on an empty inbox: a reader that
        // has not drained it yet will see this event anyway. The waker is
        // kept, so the next wait need not clone it again.
        if accepted && q.events.len() > 1 {
            return true;
        }
        if let Some(w) = &q.waker {
            w.wake_by_ref();
        }
        accepted
    }

    /// End the watch once the queued events are read.
    pub(super) fn close(&self, end: WatchEnd) {
        let mut q = self.lock();
        if q.end.is_none() && !q.finished {
            q.end = Some(end);
        }
        if let Some(w) = &q.waker {
            w.wake_by_ref();
        }
    }

    /// Whether the reader has taken every event queued so far and the
    /// watch goes on.
    fn is_drained(&self) -> bool {
        let q = self.lock();
        q.events.is_empty() && q.end.is_none() && !q.finished
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Arc<CacheEvent>, WatchEnd>>> {
        let mut q = self.lock();
        if let Some(ev) = q.events.pop_front() {
            q.history = q.history.saturating_sub(1);
            return Poll::Ready(Some(Ok(ev)));
        }
        if let Some(end) = q.end.take() {
            q.finished = true;
            return Poll::Ready(Some(Err(end)));
        }
        if q.finished {
            return Poll::Ready(None);
        }
        match &mut q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// A watcher registered with the cache's dispatcher; unregisters itself
/// when dropped.
pub(super) struct Watcher {
    pub(super) id: u64,
    /// The value of the kind's trigger field this watcher is indexed under.
    pub(super) trigger: Option<String>,
    pub(super) inbox: Arc<Inbox>,
    pub(super) cache: Arc<Mutex<CacheState>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Ok(mut s) = self.cache.lock() {
            s.watchers.remove(self.id, self.trigger.as_deref());
        }
    }
}

/// A watch on a resource: the events after its start revision, in order,
/// ending with an error item when the watch cannot go on.
pub struct CacheWatch {
    source: Source,
}

enum Source {
    /// Served from the cache.
    Cache(Watcher),
    /// Served from storage (a start older than the cache) or failed.
    Direct(EventStream),
}

impl CacheWatch {
    pub(super) fn cached(watcher: Watcher) -> CacheWatch {
        CacheWatch {
            source: Source::Cache(watcher),
        }
    }

    pub(super) fn direct(stream: EventStream) -> CacheWatch {
        CacheWatch {
            source: Source::Direct(stream),
        }
    }

    /// The revision a bookmark may carry now: the newest revision of the
    /// resource when this watcher has been handed every event it gets up to
    /// that revision (events it does not get are filtered out or indexed
    /// away). `None` when that cannot be said (events are still queued, the
    /// watch is ending, or it is served from storage): the caller falls
    /// back to the last event it passed on.
    pub fn bookmark_revision(&self) -> Option<i64> {
        let Source::Cache(w) = &self.source else {
            return None;
        };
        // The cache lock first, as the dispatcher takes it: no event can be
        // dispatched between reading `newest` and looking at the inbox.
        let s = w.cache.lock().ok()?;
        w.inbox.is_drained().then_some(s.newest)
    }
}

impl Stream for CacheWatch {
    type Item = Result<Arc<CacheEvent>, WatchEnd>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().source {
            Source::Cache(w) => w.inbox.poll_next(cx),
            Source::Direct(s) => s.as_mut().poll_next(cx),
        }
    }
}
