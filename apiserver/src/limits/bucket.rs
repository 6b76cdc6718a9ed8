//! Per-client rate limiting: one token bucket per user name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: holds at most `burst` tokens, refilled at `qps` per
/// second; each request takes one.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

/// The rate and size shared by every bucket of a [`RateLimiter`].
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Tokens added per second.
    pub qps: f64,
    /// Most tokens a bucket holds (the burst a fresh client may send).
    pub burst: f64,
}

impl Rate {
    /// How long an emptied bucket takes to fill up again.
    fn refill_time(&self) -> Duration {
        Duration::from_secs_f64(self.burst / self.qps)
    }
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: rate.burst,
            updated: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.qps).min(rate.burst);
        self.updated = now;
    }

    /// Take a token, or say how long until one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate.qps))
        }
    }

    /// Whether the bucket is full again at `now`: then it is no different
    /// from a fresh one and can be forgotten.
    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * rate.qps >= rate.burst
    }
}

/// Fewest buckets that trigger a sweep of full ones; after a sweep the
/// next one comes at twice the buckets kept, so sweeping is amortised
/// O(1) per request.
const MIN_SWEEP_AT: usize = 1024;

/// One bucket per user name. Buckets that refilled completely are
/// dropped (a fresh bucket is full too), so memory holds only the users
/// active within about one refill time (`burst / qps`), however many
/// identities come and go.
pub struct RateLimiter {
    rate: Rate,
    state: Mutex<Buckets>,
}

struct Buckets {
    by_user: HashMap<String, TokenBucket>,
    sweep_at: usize,
    next_sweep: Instant,
}

impl RateLimiter {
    /// A limiter handing every user `rate`.
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            rate,
            state: Mutex::new(Buckets {
                by_user: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
                next_sweep: Instant::now() + rate.refill_time(),
            }),
        }
    }

    /// Take a token from `user`'s bucket, or say how long until one is there.
    pub fn take(&self, user: &str, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.by_user.len() >= state.sweep_at || now >= state.next_sweep {
            state.sweep(self.rate, now);
        }
        match state.by_user.get_mut(user) {
            Some(bucket) => bucket.take(self.rate, now),
            None => {
                let mut bucket = TokenBucket::new(self.rate, now);
                let taken = bucket.take(self.rate, now);
                state.by_user.insert(user.to_string(), bucket);
                taken
            }
        }
    }

    /// Buckets currently held (users active within about a refill time).
    pub fn tracked_users(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_user
            .len()
    }
}

impl Buckets {
    fn sweep(&mut self, rate: Rate, now: Instant) {
        self.by_user.retain(|_, b| !b.is_full(rate, now));
        self.sweep_at = (2 * self.by_user.len()).max(MIN_SWEEP_AT);
        self.next_sweep = now + rate.refill_time();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        qps: 10.0,
        burst: 20.0,
    };

    #[test]
    fn a_fresh_client_gets_its_burst_then_waits_for_the_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RATE, t0);
        for i in 0..20 {
            assert_eq!(b.take(RATE, t0), Ok(()), "request {i} of the burst");
        }
        let wait = b.take(RATE, t0).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(100), "one token per 1/qps");
        // Half a token later: half the wait left.
        let wait = b
            .take(RATE, t0 + Duration::from_millis(50))
            .expect_err("still empty");
        assert!((wait.as_secs_f64() - 0.05).abs() < 1e-9, "{wait:?}");
        assert_eq!(b.take(RATE, t0 + Duration::from_millis(100)), Ok(()));
    }

    #[test]
    fn refill_never_exceeds_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RATE, t0);
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..20 {
            assert_eq!(b.take(RATE, later), Ok(()));
        }
        assert!(b.take(RATE, later).is_err());
    }

    #[test]
    fn clients_have_separate_buckets() {
        let limiter = RateLimiter::new(RATE);
        let t0 = Instant::now();
        for _ in 0..20 {
            limiter.take("flood", t0).unwrap();
        }
        assert!(limiter.take("flood", t0).is_err());
        assert_eq!(limiter.take("polite", t0), Ok(()));
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let limiter = RateLimiter::new(RATE);
        let t0 = Instant::now();
        for i in 0..5000 {
            limiter.take(&format!("user-{i}"), t0).unwrap();
        }
        // A sweep ran each time the map doubled; all are recent, so kept.
        assert_eq!(limiter.tracked_users(), 5000);
        // Once everybody's bucket has refilled (burst/qps = 2 s), the next
        // request sweeps them all away.
        let later = t0 + Duration::from_secs(3);
        limiter.take("newcomer", later).unwrap();
        assert_eq!(limiter.tracked_users(), 1);
    }

    #[test]
    fn a_remembered_empty_bucket_is_not_reset_by_a_sweep() {
        let limiter = RateLimiter::new(RATE);
        let t0 = Instant::now();
        for _ in 0..20 {
            limiter.take("flood", t0).unwrap();
        }
        // Sweep-triggering traffic from many others.
        for i in 0..2000 {
            let _ = limiter.take(&format!("u{i}"), t0);
        }
        assert!(limiter.take("flood", t0).is_err());
    }
}
