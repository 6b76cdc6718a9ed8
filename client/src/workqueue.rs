//! A work queue of keys, as client-go's `workqueue.RateLimitingInterface`.
//!
//! The rules that make level-triggered controllers correct:
//!
//! - **De-duplication**: a key added many times before a worker takes it
//!   is processed once (`dirty` set).
//! - **One worker per key**: a key handed to a worker ([`WorkQueue::get`])
//!   is *processing* until [`WorkQueue::done`]. Adding it meanwhile marks
//!   it dirty but does not queue it; `done` queues it again. So no key ever
//!   runs on two workers at once, and a change that arrives while a key is
//!   being reconciled is never lost.
//! - **Retries with backoff**: [`WorkQueue::add_rate_limited`] re-adds a
//!   key after a per-key exponential delay (5 ms, 10 ms, ... up to 1000 s),
//!   also held to an overall token bucket (10 per second, burst 100);
//!   [`WorkQueue::forget`] resets the key's count after a success.
//! - **Delays**: [`WorkQueue::add_after`] adds a key later (requeue after
//!   N seconds); a key waiting twice keeps the earlier time.
//! - **Shutdown**: [`WorkQueue::shutdown`] makes `get` return `None` once
//!   the queued keys are drained; later adds are ignored.
//!
//! Delayed keys need no background task: whichever worker waits in `get`
//! sleeps until the earliest delayed key is due.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Per-key exponential backoff, as client-go's
/// `ItemExponentialFailureRateLimiter`, combined with an overall token
/// bucket (`BucketRateLimiter`): the longer of the two delays wins.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// Delay of a key's first retry.
    pub base_delay: Duration,
    /// The most a key's delay grows to.
    pub max_delay: Duration,
    /// Overall retries per second (0 disables the bucket).
    pub qps: f64,
    /// Overall burst.
    pub burst: u32,
}

impl Default for RateLimiter {
    /// client-go's defaults: 5 ms doubling to 1000 s; 10 qps, burst 100.
    fn default() -> Self {
        RateLimiter {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1000),
            qps: 10.0,
            burst: 100,
        }
    }
}

impl RateLimiter {
    /// The per-key delay after `failures` earlier retries.
    pub fn item_delay(&self, failures: u32) -> Duration {
        let factor = 2f64.powi(failures.min(64) as i32);
        let secs = self.base_delay.as_secs_f64() * factor;
        if !secs.is_finite() || secs > self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// The overall bucket: when the next token is available.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Keys that need processing (queued, or re-added while processing).
    dirty: HashSet<T>,
    processing: HashSet<T>,
    /// Delayed keys: (due, sequence) → key, and key → its (due, sequence).
    waiting: BTreeMap<(Instant, u64), T>,
    waiting_index: HashMap<T, (Instant, u64)>,
    seq: u64,
    failures: HashMap<T, u32>,
    bucket: Bucket,
    shutting_down: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    notify: Notify,
    limiter: RateLimiter,
}

/// A de-duplicating, rate-limited work queue of keys. Clones share it.
pub struct WorkQueue<T = String> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// A queue with client-go's default rate limiter.
    pub fn new() -> Self {
        Self::with_rate_limiter(RateLimiter::default())
    }

    /// A queue with the given rate limiter.
    pub fn with_rate_limiter(limiter: RateLimiter) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: BTreeMap::new(),
                    waiting_index: HashMap::new(),
                    seq: 0,
                    failures: HashMap::new(),
                    bucket: Bucket {
                        tokens: f64::from(limiter.burst),
                        last: Instant::now(),
                    },
                    shutting_down: false,
                }),
                notify: Notify::new(),
                limiter,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent before it can
        // panic, so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queue `key` unless it is already queued; if a worker is processing
    /// it, it is queued again when that worker calls [`done`](Self::done).
    pub fn add(&self, key: T) {
        let mut s = self.lock();
        if Self::add_locked(&mut s, key) {
            drop(s);
            self.inner.notify.notify_one();
        }
    }

    /// Returns whether the key was queued (a worker should be woken).
    fn add_locked(s: &mut State<T>, key: T) -> bool {
        if s.shutting_down || s.dirty.contains(&key) {
            return false;
        }
        s.dirty.insert(key.clone());
        if s.processing.contains(&key) {
            return false;
        }
        s.queue.push_back(key);
        true
    }

    /// Add `key` after `delay`. If it is already waiting, the earlier time wins.
    pub fn add_after(&self, key: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let due = Instant::now() + delay;
        let mut s = self.lock();
        if s.shutting_down {
            return;
        }
        if let Some(&(at, seq)) = s.waiting_index.get(&key) {
            if at <= due {
                return;
            }
            s.waiting.remove(&(at, seq));
        }
        s.seq += 1;
        let slot = (due, s.seq);
        s.waiting.insert(slot, key.clone());
        s.waiting_index.insert(key, slot);
        drop(s);
        // A waiting worker may need to wake earlier than it planned.
        self.inner.notify.notify_waiters();
    }

    /// Add `key` after its backoff: 5 ms after the first failure, doubling
    /// each time until [`forget`](Self::forget).
    pub fn add_rate_limited(&self, key: T) {
        let delay = {
            let mut s = self.lock();
            let failures = s.failures.entry(key.clone()).or_insert(0);
            let item = self.inner.limiter.item_delay(*failures);
            *failures = failures.saturating_add(1);
            item.max(self.bucket_delay(&mut s))
        };
        self.add_after(key, delay);
    }

    /// Reserve a token of the overall bucket; how long until it is ours.
    fn bucket_delay(&self, s: &mut State<T>) -> Duration {
        let l = &self.inner.limiter;
        if l.qps <= 0.0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(s.bucket.last).as_secs_f64();
        s.bucket.tokens = (s.bucket.tokens + elapsed * l.qps).min(f64::from(l.burst));
        s.bucket.last = now;
        s.bucket.tokens -= 1.0;
        if s.bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.bucket.tokens / l.qps)
        }
    }

    /// Reset `key`'s backoff (after it was processed successfully).
    pub fn forget(&self, key: &T) {
        self.lock().failures.remove(key);
    }

    /// How many times `key` has been retried since it was last forgotten.
    pub fn num_requeues(&self, key: &T) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// The next key to process, waiting for one; `None` once the queue is
    /// shut down and drained. Call [`done`](Self::done) with the key when
    /// finished with it.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Register before looking, so an add between the look and the
            // wait still wakes us.
            notified.as_mut().enable();
            let next_due = {
                let mut s = self.lock();
                Self::promote_due(&mut s);
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    return Some(key);
                }
                if s.shutting_down {
                    return None;
                }
                s.waiting.keys().next().map(|(due, _)| *due)
            };
            match next_due {
                Some(due) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Move delayed keys that are due into the queue.
    fn promote_due(s: &mut State<T>) {
        let now = Instant::now();
        while let Some((&(due, seq), _)) = s.waiting.iter().next() {
            if due > now {
                break;
            }
            if let Some(key) = s.waiting.remove(&(due, seq)) {
                s.waiting_index.remove(&key);
                Self::add_locked(s, key);
            }
        }
    }

    /// Finish processing `key`. If it was added again meanwhile, it is
    /// queued now.
    pub fn done(&self, key: &T) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            drop(s);
            self.inner.notify.notify_one();
        }
    }

    /// Keys queued and ready (not counting delayed or processing ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key is queued and ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stop: `get` returns `None` once the queued keys are drained, adds
    /// are ignored, delayed keys are dropped.
    pub fn shutdown(&self) {
        let mut s = self.lock();
        s.shutting_down = true;
        s.waiting.clear();
        s.waiting_index.clear();
        drop(s);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedups_and_holds_processing_keys() {
        let q: WorkQueue<String> = WorkQueue::new();
        q.add("a".into());
        q.add("a".into());
        q.add("b".into());
        assert_eq!(q.len(), 2);
        let a = q.get().await.unwrap();
        assert_eq!(a, "a");
        // Re-added while processing: not handed out again until done.
        q.add("a".into());
        assert_eq!(q.get().await.unwrap(), "b");
        assert!(q.is_empty());
        q.done(&a);
        assert_eq!(q.get().await.unwrap(), "a");
        q.done(&"a".to_string());
        q.done(&"b".to_string());
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn shutdown_drains_then_ends() {
        let q: WorkQueue<u32> = WorkQueue::new();
        q.add(1);
        q.shutdown();
        q.add(2);
        assert_eq!(q.get().await, Some(1));
        assert_eq!(q.get().await, None);
    }

    #[tokio::test]
    async fn shutdown_wakes_waiting_workers() {
        let q: WorkQueue<u32> = WorkQueue::new();
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shutdown();
        assert_eq!(worker.await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_keeps_the_earlier_time() {
        let q: WorkQueue<&'static str> = WorkQueue::new();
        let start = Instant::now();
        q.add_after("k", Duration::from_secs(10));
        q.add_after("k", Duration::from_secs(2));
        q.add_after("k", Duration::from_secs(5));
        assert_eq!(q.get().await, Some("k"));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        q.done(&"k");
        // The later entries were merged into the first: nothing else comes.
        assert!(tokio::time::timeout(Duration::from_secs(20), q.get())
            .await
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_backoff_doubles_and_forget_resets() {
        let q: WorkQueue<&'static str> = WorkQueue::new();
        let mut waits = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            q.add_rate_limited("k");
            let k = q.get().await.unwrap();
            waits.push(start.elapsed());
            q.done(&k);
        }
        let ms: Vec<u128> = waits.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![5, 10, 20, 40, 80]);
        assert_eq!(q.num_requeues(&"k"), 5);
        q.forget(&"k");
        assert_eq!(q.num_requeues(&"k"), 0);
        let start = Instant::now();
        q.add_rate_limited("k");
        q.get().await.unwrap();
        assert_eq!(start.elapsed().as_millis(), 5);
    }

    #[test]
    fn item_delay_caps() {
        let l = RateLimiter::default();
        assert_eq!(l.item_delay(0), Duration::from_millis(5));
        assert_eq!(l.item_delay(3), Duration::from_millis(40));
        assert_eq!(l.item_delay(30), Duration::from_secs(1000));
        assert_eq!(l.item_delay(u32::MAX), Duration::from_secs(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_limits_bursts_of_retries() {
        let q: WorkQueue<u32> = WorkQueue::with_rate_limiter(RateLimiter {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            qps: 10.0,
            burst: 2,
        });
        let start = Instant::now();
        for k in 0..4 {
            q.add_rate_limited(k);
        }
        for _ in 0..4 {
            let k = q.get().await.unwrap();
            q.done(&k);
        }
        // Two tokens at once, then one per 100 ms.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(250),
            "{took:?}"
        );
    }
}
