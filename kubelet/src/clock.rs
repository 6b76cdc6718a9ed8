//! Where the kubelet gets the time: the wall clock in the program, a
//! hand-stepped one in tests.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
