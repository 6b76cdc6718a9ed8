//! The scheduling queue (upstream `PriorityQueue`): the pods waiting for a
//! node, in three parts.
//!
//! - **activeQ**: ready to be tried, highest `spec.priority` first, then
//!   first come first served.
//! - **backoffQ**: tried and failed recently; each waits out a backoff
//!   that doubles with every attempt (1 s, 2 s, 4 s, ... up to 10 s by
//!   default) before going back to activeQ.
//! - **unschedulable**: no node fitted. They stay there until something
//!   changes that might make them fit — a node added or changed, a bound
//!   pod deleted or finished ([`SchedulingQueue::move_all_to_active_or_backoff`]),
//!   the pod itself updated — or, failing that, until they have waited
//!   `max_in_unschedulable` (upstream's `podMaxInUnschedulablePodsDuration`).
//!
//! A pod being scheduled is *in flight*. If the cluster changes while it
//! is in flight and the attempt then fails, the pod goes to backoffQ
//! rather than unschedulable, so the change is not missed (upstream's
//! `moveRequestCycle`).
//!
//! The queue holds one entry per pod key; heap items carry a stamp and
//! are dropped lazily when the entry has moved on since.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tug_api::core::Pod;

/// Backoff and retry timing.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Backoff after the first failed attempt.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// How long a pod stays unschedulable before it is retried anyway.
    pub max_in_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_in_unschedulable: Duration::from_secs(60),
        }
    }
}

impl QueueConfig {
    /// The backoff after `attempts` attempts: initial, doubled for every
    /// attempt after the first, capped at the maximum.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }
}

/// A pod handed out for scheduling.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    /// The pod as the queue last saw it.
    pub pod: Arc<Pod>,
    /// `namespace/name`.
    pub key: String,
    /// Scheduling attempts so far, this one included.
    pub attempts: u32,
    /// The scheduling cycle this attempt belongs to.
    pub cycle: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    location: Location,
    /// Identifies the entry's current heap item.
    stamp: u64,
    attempts: u32,
    /// When the current backoff ends.
    backoff_until: Option<Instant>,
    /// The pod itself changed while in flight.
    updated_in_flight: bool,
}

/// An activeQ item: higher priority first, then older stamp first.
#[derive(Debug, PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    stamp: u64,
    key: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.stamp.cmp(&self.stamp))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A timed item (backoff end, unschedulable deadline): earliest first.
type Timed = Reverse<(Instant, u64, String)>;

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Timed>,
    unschedulable: HashSet<String>,
    /// Deadlines after which unschedulable pods are retried anyway.
    leftover: BinaryHeap<Timed>,
    next_stamp: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    closed: bool,
}

/// How many pods wait where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// In activeQ.
    pub active: usize,
    /// In backoffQ.
    pub backoff: usize,
    /// Unschedulable.
    pub unschedulable: usize,
    /// Being scheduled.
    pub in_flight: usize,
}

/// The scheduling queue. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    config: QueueConfig,
    inner: Mutex<Inner>,
    notify: Notify,
}

/// Whether an update of a pod may change where it fits: anything but its
/// status and bookkeeping metadata (upstream `isPodUpdated`).
fn pod_changed(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
        || old.metadata.owner_references != new.metadata.owner_references
}

fn key_of(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace, pod.metadata.name)
}

impl Inner {
    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn move_to_active(&mut self, key: &str) {
        let stamp = self.stamp();
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.location = Location::Active;
        e.stamp = stamp;
        let priority = e.pod.spec.priority.unwrap_or(0);
        self.unschedulable.remove(key);
        self.active.push(ActiveItem {
            priority,
            stamp,
            key: key.to_string(),
        });
    }

    /// To backoffQ while the pod's backoff lasts, else to activeQ.
    fn move_to_backoff_or_active(&mut self, key: &str, now: Instant) {
        let until = match self.entries.get(key) {
            Some(e) => e.backoff_until.filter(|u| *u > now),
            None => return,
        };
        let Some(until) = until else {
            self.move_to_active(key);
            return;
        };
        let stamp = self.stamp();
        let e = self.entries.get_mut(key).expect("checked above");
        e.location = Location::Backoff;
        e.stamp = stamp;
        self.unschedulable.remove(key);
        self.backoff.push(Reverse((until, stamp, key.to_string())));
    }

    fn move_to_unschedulable(&mut self, key: &str, deadline: Instant) {
        let stamp = self.stamp();
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.location = Location::Unschedulable;
        e.stamp = stamp;
        self.unschedulable.insert(key.to_string());
        self.leftover
            .push(Reverse((deadline, stamp, key.to_string())));
    }

    fn is_current(&self, key: &str, stamp: u64, location: Location) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.stamp == stamp && e.location == location)
    }

    /// Move due pods: finished backoffs to activeQ, unschedulable pods
    /// past their deadline to backoffQ or activeQ.
    fn flush(&mut self, now: Instant) {
        while let Some(Reverse((at, stamp, key))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            if self.is_current(&key, stamp, Location::Backoff) {
                self.move_to_active(&key);
            }
        }
        while let Some(Reverse((at, stamp, key))) = self.leftover.peek().cloned() {
            if at > now {
                break;
            }
            self.leftover.pop();
            if self.is_current(&key, stamp, Location::Unschedulable) {
                self.move_to_backoff_or_active(&key, now);
            }
        }
    }

    fn pop_active(&mut self) -> Option<QueuedPod> {
        while let Some(item) = self.active.pop() {
            if !self.is_current(&item.key, item.stamp, Location::Active) {
                continue;
            }
            self.scheduling_cycle += 1;
            let cycle = self.scheduling_cycle;
            let e = self.entries.get_mut(&item.key).expect("current entry");
            e.location = Location::InFlight;
            e.attempts += 1;
            e.updated_in_flight = false;
            return Some(QueuedPod {
                pod: e.pod.clone(),
                key: item.key,
                attempts: e.attempts,
                cycle,
            });
        }
        None
    }

    /// The next time something becomes due.
    fn next_due(&mut self) -> Option<Instant> {
        // Drop stale heads so they do not cause needless wakeups.
        while let Some(Reverse((_, stamp, key))) = self.backoff.peek() {
            if self.is_current(key, *stamp, Location::Backoff) {
                break;
            }
            self.backoff.pop();
        }
        while let Some(Reverse((_, stamp, key))) = self.leftover.peek() {
            if self.is_current(key, *stamp, Location::Unschedulable) {
                break;
            }
            self.leftover.pop();
        }
        let b = self.backoff.peek().map(|Reverse((at, _, _))| *at);
        let l = self.leftover.peek().map(|Reverse((at, _, _))| *at);
        match (b, l) {
            (Some(b), Some(l)) => Some(b.min(l)),
            (b, l) => b.or(l),
        }
    }
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> SchedulingQueue {
        SchedulingQueue {
            config,
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new pod to schedule (or an update of one already queued).
    pub fn add(&self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        let mut inner = self.lock();
        if inner.entries.contains_key(&key) {
            drop(inner);
            self.update(pod);
            return;
        }
        inner.entries.insert(
            key.clone(),
            Entry {
                pod,
                location: Location::Active,
                stamp: 0,
                attempts: 0,
                backoff_until: None,
                updated_in_flight: false,
            },
        );
        inner.move_to_active(&key);
        drop(inner);
        self.notify.notify_one();
    }

    /// A queued pod changed. An unschedulable pod whose spec or labels
    /// changed is retried (after its backoff); a new pod is added.
    pub fn update(&self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        let mut inner = self.lock();
        let Some(e) = inner.entries.get_mut(&key) else {
            drop(inner);
            self.add(pod);
            return;
        };
        let changed = pod_changed(&e.pod, &pod);
        e.pod = pod;
        match e.location {
            Location::Unschedulable if changed => {
                inner.move_to_backoff_or_active(&key, Instant::now());
                drop(inner);
                self.notify.notify_one();
            }
            Location::InFlight if changed => e.updated_in_flight = true,
            _ => {}
        }
    }

    /// The pod is gone, bound elsewhere or no longer ours.
    pub fn delete(&self, key: &str) {
        let mut inner = self.lock();
        inner.entries.remove(key);
        inner.unschedulable.remove(key);
    }

    /// The next pod to schedule, waiting until one is due. `None` once the
    /// queue is closed.
    pub async fn pop(&self) -> Option<QueuedPod> {
        loop {
            let notified = self.notify.notified();
            let due = {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                inner.flush(Instant::now());
                if let Some(p) = inner.pop_active() {
                    return Some(p);
                }
                inner.next_due()
            };
            match due {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The in-flight pod was placed (assumed): it leaves the queue.
    pub fn done(&self, key: &str) {
        let mut inner = self.lock();
        if inner
            .entries
            .get(key)
            .is_some_and(|e| e.location == Location::InFlight)
        {
            inner.entries.remove(key);
        }
    }

    /// No node fitted the in-flight pod. It waits as unschedulable — or in
    /// backoffQ, when the cluster or the pod changed during the attempt.
    /// Dropped if it was deleted meanwhile.
    pub fn add_unschedulable(&self, popped: &QueuedPod) {
        self.requeue(popped, false);
    }

    /// Scheduling the in-flight pod failed for another reason (an error):
    /// it is retried after its backoff.
    pub fn add_backoff(&self, popped: &QueuedPod) {
        self.requeue(popped, true);
    }

    fn requeue(&self, popped: &QueuedPod, error: bool) {
        let now = Instant::now();
        let backoff = self.config.backoff(popped.attempts);
        let mut inner = self.lock();
        let move_request_cycle = inner.move_request_cycle;
        let Some(e) = inner.entries.get_mut(&popped.key) else {
            return;
        };
        if e.location != Location::InFlight {
            return;
        }
        e.backoff_until = Some(now + backoff);
        let retry_soon = error || e.updated_in_flight || move_request_cycle >= popped.cycle;
        e.updated_in_flight = false;
        if retry_soon {
            inner.move_to_backoff_or_active(&popped.key, now);
        } else {
            let deadline = now + self.config.max_in_unschedulable;
            inner.move_to_unschedulable(&popped.key, deadline);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// A placed pod's binding failed: queue it again, to be retried after
    /// the backoff its `attempts` call for (unless it is queued already).
    pub fn requeue_after_bind_error(&self, pod: Arc<Pod>, attempts: u32) {
        let key = key_of(&pod);
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.entries.contains_key(&key) {
            return;
        }
        inner.entries.insert(
            key.clone(),
            Entry {
                pod,
                location: Location::Backoff,
                stamp: 0,
                attempts,
                backoff_until: Some(now + self.config.backoff(attempts)),
                updated_in_flight: false,
            },
        );
        inner.move_to_backoff_or_active(&key, now);
        drop(inner);
        self.notify.notify_one();
    }

    /// Something changed that may let unschedulable pods fit (a node added
    /// or changed, a bound pod gone): move them all to backoffQ or
    /// activeQ, and remember it for the pods in flight.
    pub fn move_all_to_active_or_backoff(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.move_request_cycle = inner.scheduling_cycle;
        let keys: Vec<String> = inner.unschedulable.iter().cloned().collect();
        if keys.is_empty() {
            return;
        }
        for key in keys {
            inner.move_to_backoff_or_active(&key, now);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Whether the queue holds the pod (anywhere, in flight included).
    pub fn contains(&self, key: &str) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// How many pods wait where.
    pub fn pending(&self) -> Pending {
        let inner = self.lock();
        let mut p = Pending::default();
        for e in inner.entries.values() {
            match e.location {
                Location::Active => p.active += 1,
                Location::Backoff => p.backoff += 1,
                Location::Unschedulable => p.unschedulable += 1,
                Location::InFlight => p.in_flight += 1,
            }
        }
        p
    }

    /// Stop: `pop` returns `None` from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn p(name: &str, priority: Option<i32>) -> Arc<Pod> {
        let mut pod = pod(name);
        pod.spec.priority = priority;
        Arc::new(pod)
    }

    async fn pop_now(q: &SchedulingQueue) -> Option<QueuedPod> {
        tokio::time::timeout(Duration::from_millis(1), q.pop())
            .await
            .ok()
            .flatten()
    }

    async fn pop_name(q: &SchedulingQueue) -> String {
        q.pop().await.unwrap().pod.metadata.name.clone()
    }

    #[test]
    fn backoff_doubles_from_one_to_ten_seconds() {
        let c = QueueConfig::default();
        let secs: Vec<u64> = (1..=6).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn higher_priority_first_then_first_come_first_served() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("low-1", None));
        q.add(p("high", Some(100)));
        q.add(p("low-2", Some(0)));
        q.add(p("mid", Some(10)));
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(pop_name(&q).await);
        }
        assert_eq!(order, vec!["high", "mid", "low-1", "low-2"]);
        assert!(pop_now(&q).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_wait_for_a_cluster_change() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        q.add_unschedulable(&a);
        assert_eq!(q.pending().unschedulable, 1);
        // Past its backoff, it still waits: nothing changed.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(pop_now(&q).await.is_none());
        // A node is added: it goes straight back (its 1 s backoff is over).
        q.move_all_to_active_or_backoff();
        let again = pop_now(&q).await.expect("retried after the change");
        assert_eq!(again.attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_during_backoff_waits_for_the_backoff() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        q.add_unschedulable(&a);
        q.move_all_to_active_or_backoff();
        assert_eq!(q.pending().backoff, 1);
        assert!(pop_now(&q).await.is_none());
        let start = Instant::now();
        let again = q.pop().await.unwrap();
        assert_eq!(again.key, "default/a");
        assert!(Instant::now() - start >= Duration::from_millis(999));
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_while_in_flight_is_not_missed() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        // A node is added while "a" is being scheduled against the old nodes.
        q.move_all_to_active_or_backoff();
        q.add_unschedulable(&a);
        assert_eq!(q.pending().backoff, 1, "retried after backoff, not parked");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(pop_now(&q).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_are_retried_after_the_leftover_timeout() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        q.add_unschedulable(&a);
        let start = Instant::now();
        let again = q.pop().await.unwrap();
        assert_eq!(again.attempts, 2);
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn spec_updates_retry_an_unschedulable_pod_status_updates_do_not() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        q.add_unschedulable(&a);
        tokio::time::advance(Duration::from_secs(2)).await;

        let mut status_only = (*a.pod).clone();
        status_only.status.phase = "Pending".into();
        q.update(Arc::new(status_only.clone()));
        assert!(pop_now(&q).await.is_none());

        let mut relaxed = status_only;
        relaxed.spec.node_selector.clear();
        relaxed.metadata.labels.insert("x".into(), "y".into());
        q.update(Arc::new(relaxed));
        let again = pop_now(&q).await.expect("retried after the update");
        assert!(again.pod.metadata.labels.contains_key("x"));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_and_deleted_pods_vanish() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        q.add(p("b", None));
        let a = q.pop().await.unwrap();
        q.add_backoff(&a);
        let b = q.pop().await.unwrap();
        assert_eq!(b.key, "default/b");
        q.delete("default/b");
        q.add_unschedulable(&b);
        assert!(!q.contains("default/b"));
        // "a" comes back after its 1 s backoff.
        let start = Instant::now();
        assert_eq!(pop_name(&q).await, "a");
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn placed_pods_leave_and_failed_bindings_come_back_with_backoff() {
        let q = SchedulingQueue::new(QueueConfig::default());
        q.add(p("a", None));
        let a = q.pop().await.unwrap();
        q.done(&a.key);
        assert!(!q.contains(&a.key));
        q.requeue_after_bind_error(a.pod.clone(), a.attempts);
        assert_eq!(q.pending().backoff, 1);
        let start = Instant::now();
        let again = q.pop().await.unwrap();
        assert_eq!(again.attempts, 2);
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn close_ends_pop() {
        let q = Arc::new(SchedulingQueue::new(QueueConfig::default()));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert!(waiter.await.unwrap().is_none());
    }
}
