//! The work queue under contention: many workers, many adds of few keys.
//! No key ever runs on two workers at once, and every add is followed by
//! a processing that starts after it (nothing is lost to de-duplication).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tug_client::{RateLimiter, WorkQueue};

const KEYS: usize = 5;
const WORKERS: usize = 8;
const ADDS: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_runs_twice_at_once_and_no_add_is_lost() {
    let queue: WorkQueue<usize> = WorkQueue::new();
    // desired[k]: bumped before every add, like an object changing;
    // processed[k]: what the last processing of k read at its start.
    let desired: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let processed: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let active: Arc<Vec<AtomicUsize>> = Arc::new((0..KEYS).map(|_| AtomicUsize::new(0)).collect());
    let overlap = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (queue, desired, processed, active, overlap, runs) = (
            queue.clone(),
            desired.clone(),
            processed.clone(),
            active.clone(),
            overlap.clone(),
            runs.clone(),
        );
        workers.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                if active[key].fetch_add(1, Ordering::SeqCst) != 0 {
                    overlap.store(true, Ordering::SeqCst);
                }
                let seen = desired[key].load(Ordering::SeqCst);
                // Some work, during which more adds of this key arrive.
                let steps = rand::thread_rng().gen_range(0..4);
                for _ in 0..steps {
                    tokio::task::yield_now().await;
                }
                processed[key].store(seen, Ordering::SeqCst);
                runs.fetch_add(1, Ordering::SeqCst);
                active[key].fetch_sub(1, Ordering::SeqCst);
                queue.done(&key);
            }
        }));
    }

    let producer = {
        let (queue, desired) = (queue.clone(), desired.clone());
        tokio::spawn(async move {
            for n in 0..ADDS {
                let key = rand::thread_rng().gen_range(0..KEYS);
                desired[key].fetch_add(1, Ordering::SeqCst);
                queue.add(key);
                if n % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    producer.await.unwrap();

    // Every key's last processing must have seen its last change.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let caught_up = (0..KEYS)
            .all(|k| processed[k].load(Ordering::SeqCst) == desired[k].load(Ordering::SeqCst));
        if caught_up && queue.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost adds: desired {:?}, processed {:?}",
            desired
                .iter()
                .map(|d| d.load(Ordering::SeqCst))
                .collect::<Vec<_>>(),
            processed
                .iter()
                .map(|d| d.load(Ordering::SeqCst))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !overlap.load(Ordering::SeqCst),
        "a key ran on two workers at once"
    );
    let runs = runs.load(Ordering::SeqCst);
    assert!(runs < ADDS as u64, "adds were de-duplicated ({runs} runs)");

    queue.shutdown();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(5), w)
            .await
            .expect("workers stop after shutdown")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_per_key() {
    let queue: WorkQueue<&'static str> = WorkQueue::with_rate_limiter(RateLimiter {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(10),
        qps: 0.0,
        burst: 0,
    });
    // A key that keeps failing waits longer each time; another key that
    // succeeds is not held up by it.
    let mut waits = Vec::new();
    for _ in 0..4 {
        let start = tokio::time::Instant::now();
        queue.add_rate_limited("failing");
        let k = queue.get().await.unwrap();
        waits.push(start.elapsed());
        queue.done(&k);
    }
    for (i, w) in waits.iter().enumerate() {
        let expected = Duration::from_millis(20 << i);
        assert!(
            *w >= expected,
            "retry {i} came after {w:?}, before {expected:?}"
        );
    }
    assert_eq!(queue.num_requeues(&"failing"), 4);

    // The failing key now waits 320 ms; a healthy key is not held up.
    queue.add_rate_limited("failing");
    queue.add("healthy");
    assert_eq!(queue.get().await, Some("healthy"));
    queue.done(&"healthy");
    let start = tokio::time::Instant::now();
    assert_eq!(queue.get().await, Some("failing"));
    queue.done(&"failing");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );

    // After forget the backoff starts again from the base delay.
    queue.forget(&"failing");
    assert_eq!(queue.num_requeues(&"failing"), 0);
    let start = tokio::time::Instant::now();
    queue.add_rate_limited("failing");
    assert_eq!(queue.num_requeues(&"failing"), 1);
    queue.get().await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20));
}
