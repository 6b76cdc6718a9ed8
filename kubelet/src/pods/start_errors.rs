//! Containers that could not be started, and when to try again — the
//! image back-off of the kubelet's image manager, plus the retry of other
//! start errors.
//!
//! - An image that failed to pull (`ErrImagePull`) is not tried again for
//!   a back-off per container and image: the base (10 s) after the first
//!   failure, doubling up to 300 s; a success forgets it, and so does a
//!   quiet spell of twice the cap. Right after a failure the container
//!   waits with `ErrImagePull` and the error; for the rest of the
//!   back-off with `ImagePullBackOff` (`Back-off pulling image "x"`).
//!   (The half-base window stands for upstream's sync right after the
//!   failure; later syncs in the back-off report `ImagePullBackOff`.)
//! - Other image errors (`ErrImageNeverPull`, `InvalidImageName`) and
//!   errors creating or running the container (`CreateContainerError`,
//!   `RunContainerError`) are reported as they come and retried after
//!   the base delay.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The waiting reason of a failed image pull.
pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
/// The waiting reason while an image pull backs off.
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";

/// Why a container waits, as its status says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// `ErrImagePull`, `ImagePullBackOff`, `CreateContainerError`, ...
    pub reason: String,
    /// The error, in words.
    pub message: String,
}

#[derive(Clone, Debug)]
struct Entry {
    reason: String,
    message: String,
    failed_at: DateTime<Utc>,
    backoff: Duration,
    backoff_reported: bool,
}

impl Entry {
    fn retry_at(&self) -> DateTime<Utc> {
        self.failed_at + to_chrono(self.backoff)
    }

    fn is_pull(&self) -> bool {
        self.reason == ERR_IMAGE_PULL
    }
}

/// The start failures of the containers of one pod.
#[derive(Clone, Debug)]
pub struct StartErrors {
    base: Duration,
    max: Duration,
    /// By (container, image).
    entries: HashMap<(String, String), Entry>,
}

fn key(name: &str, image: &str) -> (String, String) {
    (name.to_string(), image.to_string())
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl StartErrors {
    /// Back-offs starting at `base`, doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> StartErrors {
        StartErrors {
            base,
            max: max.max(base),
            entries: HashMap::new(),
        }
    }

    /// Container `name` (running `image`) failed to start at `now`, with
    /// waiting reason `reason`.
    pub fn failed(
        &mut self,
        name: &str,
        image: &str,
        reason: &str,
        message: &str,
        now: DateTime<Utc>,
    ) {
        let k = key(name, image);
        let backoff = match self.entries.get(&k) {
            Some(e)
                if reason == ERR_IMAGE_PULL
                    && e.is_pull()
                    && now - e.failed_at <= to_chrono(self.max * 2) =>
            {
                (e.backoff * 2).min(self.max)
            }
            _ => self.base,
        };
        self.entries.insert(
            k,
            Entry {
                reason: reason.to_string(),
                message: message.to_string(),
                failed_at: now,
                backoff,
                backoff_reported: false,
            },
        );
    }

    /// Container `name` started with `image`: its failures are forgotten.
    pub fn started(&mut self, name: &str, image: &str) {
        self.entries.remove(&key(name, image));
    }

    /// Whether `name` may be tried now.
    pub fn may_start(&self, name: &str, image: &str, now: DateTime<Utc>) -> bool {
        self.entries
            .get(&key(name, image))
            .is_none_or(|e| now >= e.retry_at())
    }

    /// The length of the current back-off of `name`, if it failed.
    pub fn backoff(&self, name: &str, image: &str) -> Option<Duration> {
        self.entries.get(&key(name, image)).map(|e| e.backoff)
    }

    /// How container `name` waits at `now`, if it failed to start.
    pub fn waiting(&self, name: &str, image: &str, now: DateTime<Utc>) -> Option<Waiting> {
        let e = self.entries.get(&key(name, image))?;
        if e.is_pull() && self.backing_off(e, now) {
            return Some(Waiting {
                reason: IMAGE_PULL_BACK_OFF.into(),
                message: format!("Back-off pulling image \"{image}\""),
            });
        }
        Some(Waiting {
            reason: e.reason.clone(),
            message: e.message.clone(),
        })
    }

    /// Past the `ErrImagePull` window and before the retry.
    fn backing_off(&self, e: &Entry, now: DateTime<Utc>) -> bool {
        now >= e.failed_at + to_chrono(self.base / 2) && now < e.retry_at()
    }

    /// Whether a `BackOff` event is due for `name`: once per failure,
    /// when its `ImagePullBackOff` begins.
    pub fn take_backoff_event(&mut self, name: &str, image: &str, now: DateTime<Utc>) -> bool {
        let base = self.base;
        let Some(e) = self.entries.get_mut(&key(name, image)) else {
            return false;
        };
        let due = e.is_pull()
            && !e.backoff_reported
            && now >= e.failed_at + to_chrono(base / 2)
            && now < e.retry_at();
        if due {
            e.backoff_reported = true;
        }
        due
    }

    /// When what these failures show next changes by itself (the waiting
    /// reason turns to `ImagePullBackOff`, a retry is due).
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .flat_map(|e| {
                let shown = e.is_pull().then(|| e.failed_at + to_chrono(self.base / 2));
                [shown, Some(e.retry_at())]
            })
            .flatten()
            .filter(|t| *t > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + chrono::Duration::milliseconds(ms)
    }

    fn t(secs: i64) -> DateTime<Utc> {
        t_ms(secs * 1000)
    }

    fn errors() -> StartErrors {
        StartErrors::new(Duration::from_secs(10), Duration::from_secs(300))
    }

    const IMG: &str = "registry.local/app:1";

    fn pull_failed(e: &mut StartErrors, at: DateTime<Utc>) {
        e.failed(
            "app",
            IMG,
            ERR_IMAGE_PULL,
            "failed to pull image: not found",
            at,
        );
    }

    #[test]
    fn err_image_pull_then_image_pull_back_off_then_a_retry() {
        let mut e = errors();
        assert!(e.may_start("app", IMG, t(0)));
        assert_eq!(e.waiting("app", IMG, t(0)), None);
        pull_failed(&mut e, t(0));
        let w = e.waiting("app", IMG, t(1)).unwrap();
        assert_eq!(w.reason, "ErrImagePull");
        assert_eq!(w.message, "failed to pull image: not found");
        assert_eq!(e.next_change(t(1)), Some(t(5)));
        assert!(!e.take_backoff_event("app", IMG, t(1)));
        let w = e.waiting("app", IMG, t(5)).unwrap();
        assert_eq!(
            (w.reason.as_str(), w.message.as_str()),
            (
                "ImagePullBackOff",
                "Back-off pulling image \"registry.local/app:1\""
            )
        );
        assert!(e.take_backoff_event("app", IMG, t(5)));
        assert!(!e.take_backoff_event("app", IMG, t(6)), "once per failure");
        assert!(!e.may_start("app", IMG, t(9)));
        assert_eq!(e.next_change(t(6)), Some(t(10)));
        assert!(e.may_start("app", IMG, t(10)));
    }

    #[test]
    fn the_back_off_doubles_to_the_cap_and_resets_on_success() {
        let mut e = errors();
        let mut at = 0;
        for expected in [10, 20, 40, 80, 160, 300, 300] {
            pull_failed(&mut e, t(at));
            assert_eq!(e.backoff("app", IMG), Some(Duration::from_secs(expected)));
            at += expected as i64;
            assert!(e.may_start("app", IMG, t(at)));
        }
        e.started("app", IMG);
        assert!(e.waiting("app", IMG, t(at)).is_none());
        pull_failed(&mut e, t(at));
        assert_eq!(e.backoff("app", IMG), Some(Duration::from_secs(10)));
    }

    #[test]
    fn back_offs_are_per_container_and_image() {
        let mut e = errors();
        pull_failed(&mut e, t(0));
        assert!(e.may_start("app", "registry.local/app:2", t(1)));
        assert!(e.may_start("other", IMG, t(1)));
        assert!(!e.may_start("app", IMG, t(1)));
    }

    #[test]
    fn other_errors_show_as_they_come_and_retry_after_the_base() {
        let mut e = errors();
        for _ in 0..3 {
            e.failed(
                "app",
                IMG,
                "ErrImageNeverPull",
                "Container image \"registry.local/app:1\" is not present with pull policy of Never",
                t(0),
            );
        }
        let w = e.waiting("app", IMG, t(7)).unwrap();
        assert_eq!(w.reason, "ErrImageNeverPull");
        assert_eq!(
            e.backoff("app", IMG),
            Some(Duration::from_secs(10)),
            "no doubling"
        );
        assert!(!e.take_backoff_event("app", IMG, t(7)));
        e.failed("app", IMG, "RunContainerError", "exec: not found", t(20));
        assert_eq!(
            e.waiting("app", IMG, t(21)).unwrap().reason,
            "RunContainerError"
        );
        assert!(e.may_start("app", IMG, t(30)));
    }
}
