//! Exponential backoff with jitter for reconnect loops, so a crowd of
//! clients does not reconnect to a restarted server in lock step.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `initial` up to `max`, each with up to 20%
/// random jitter added.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::thread_rng().gen_range(0.0..0.2);
        base.mul_f64(1.0 + jitter)
    }

    /// Start again from `initial` (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let d: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert!((100..=120).contains(&d[0]), "{d:?}");
        assert!((200..=240).contains(&d[1]), "{d:?}");
        assert!((350..=420).contains(&d[2]), "{d:?}");
        assert!((350..=420).contains(&d[3]), "{d:?}");
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(121));
    }
}
