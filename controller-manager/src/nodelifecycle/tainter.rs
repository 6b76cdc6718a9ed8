//! The rate-limited queue of nodes waiting for their NoExecute taint, one
//! per zone (upstream's `zoneNoExecuteTainter`, a `RateLimitedTimedQueue`
//! over a token bucket of burst 1).
//!
//! Tainting a node `NoExecute` is what evicts its pods, so it is paced:
//! a zone taints at most its rate of nodes per second (see
//! [`zones`](super::zones)). The queue is pure bookkeeping with the time
//! passed in; the controller's tainter task sleeps exactly until the next
//! token is due instead of polling.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A token bucket holding at most one token.
#[derive(Clone, Debug)]
struct Bucket {
    qps: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket (a new rate may be used at once, as upstream's
    /// `SwapLimiter`).
    fn new(qps: f64, now: Instant) -> Bucket {
        Bucket {
            qps,
            tokens: 1.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if self.qps > 0.0 {
            let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        }
        self.last = now;
    }

    fn try_take(&mut self, now: Instant) -> bool {
        if self.qps <= 0.0 {
            return false;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Give back a token taken for work that failed.
    fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(1.0);
    }

    /// When the next token is there; `None` at rate zero.
    fn next_token(&self, now: Instant) -> Option<Instant> {
        if self.qps <= 0.0 {
            return None;
        }
        if self.tokens >= 1.0 {
            return Some(now);
        }
        let at = self.last + Duration::from_secs_f64((1.0 - self.tokens) / self.qps);
        Some(at.max(now))
    }
}

#[derive(Debug)]
struct ZoneQueue {
    bucket: Bucket,
    pending: VecDeque<String>,
}

/// Nodes waiting to be tainted, per zone.
#[derive(Debug)]
pub struct Tainter {
    default_qps: f64,
    zones: HashMap<String, ZoneQueue>,
}

impl Tainter {
    /// Zones start at `default_qps` until told otherwise.
    pub fn new(default_qps: f64) -> Tainter {
        Tainter {
            default_qps,
            zones: HashMap::new(),
        }
    }

    fn zone(&mut self, zone: &str, now: Instant) -> &mut ZoneQueue {
        let qps = self.default_qps;
        self.zones
            .entry(zone.to_string())
            .or_insert_with(|| ZoneQueue {
                bucket: Bucket::new(qps, now),
                pending: VecDeque::new(),
            })
    }

    /// Queue `node` of `zone` unless it already waits. True if added.
    pub fn add(&mut self, zone: &str, node: &str, now: Instant) -> bool {
        let q = self.zone(zone, now);
        if q.pending.iter().any(|n| n == node) {
            return false;
        }
        q.pending.push_back(node.to_string());
        true
    }

    /// Forget `node` (it is healthy again, or gone).
    pub fn remove(&mut self, node: &str) {
        for q in self.zones.values_mut() {
            q.pending.retain(|n| n != node);
        }
    }

    /// Change a zone's rate (zero stops it); its bucket starts full.
    pub fn set_rate(&mut self, zone: &str, qps: f64, now: Instant) {
        let q = self.zone(zone, now);
        q.bucket = Bucket::new(qps, now);
    }

    /// The nodes whose turn it is now, with their zones, in queue order.
    pub fn take_due(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut zones: Vec<&String> = self.zones.keys().collect();
        zones.sort();
        let zones: Vec<String> = zones.into_iter().cloned().collect();
        for zone in zones {
            let q = self.zones.get_mut(&zone).expect("listed above");
            while !q.pending.is_empty() && q.bucket.try_take(now) {
                let node = q.pending.pop_front().expect("not empty");
                out.push((zone.clone(), node));
            }
        }
        out
    }

    /// Put back a node whose tainting failed, first in line, with its
    /// token refunded.
    pub fn retry(&mut self, zone: &str, node: &str, now: Instant) {
        let q = self.zone(zone, now);
        if !q.pending.iter().any(|n| n == node) {
            q.pending.push_front(node.to_string());
        }
        q.bucket.refund();
    }

    /// When the next queued node's turn comes; `None` when nothing waits
    /// (or only in stopped zones).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.zones
            .values()
            .filter(|q| !q.pending.is_empty())
            .filter_map(|q| q.bucket.next_token(now))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_at_once_then_one_per_period() {
        let t0 = Instant::now();
        let mut t = Tainter::new(0.1);
        assert!(t.add("", "a", t0));
        assert!(t.add("", "b", t0));
        assert!(!t.add("", "a", t0), "already waiting");
        assert_eq!(t.take_due(t0), vec![("".into(), "a".into())]);
        assert_eq!(t.take_due(t0 + Duration::from_secs(5)), vec![]);
        assert_eq!(t.next_due(t0), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            t.take_due(t0 + Duration::from_secs(10)),
            vec![("".into(), "b".into())]
        );
        assert_eq!(t.next_due(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn zones_have_their_own_pace_and_can_be_stopped() {
        let t0 = Instant::now();
        let mut t = Tainter::new(0.1);
        t.add("z1", "a", t0);
        t.add("z1", "b", t0);
        t.add("z2", "c", t0);
        let due: Vec<String> = t.take_due(t0).into_iter().map(|(_, n)| n).collect();
        assert_eq!(due, vec!["a", "c"]);
        t.set_rate("z1", 0.0, t0);
        t.set_rate("z2", 0.0, t0);
        assert_eq!(t.take_due(t0 + Duration::from_secs(100)), vec![]);
        assert_eq!(t.next_due(t0), None);
        t.set_rate("z1", 1.0, t0 + Duration::from_secs(100));
        assert_eq!(
            t.take_due(t0 + Duration::from_secs(100)),
            vec![("z1".into(), "b".into())]
        );
    }

    #[test]
    fn failed_nodes_go_back_first_without_losing_the_token() {
        let t0 = Instant::now();
        let mut t = Tainter::new(0.1);
        t.add("", "a", t0);
        t.add("", "b", t0);
        let due = t.take_due(t0);
        t.retry("", &due[0].1, t0);
        assert_eq!(t.take_due(t0), vec![("".into(), "a".into())]);
        t.remove("b");
        assert_eq!(t.next_due(t0), None);
    }
}
