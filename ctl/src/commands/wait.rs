//! Waiting, with a deadline, for deleted objects to be gone (`delete
//! --wait`, `drain`): an object is gone when a GET finds nothing, or
//! finds a new object of the same name (another uid).

use std::time::Duration;

use tokio::time::Instant;
use tug_client::DynamicApi;

use super::error::{usage, Result};

/// One object being deleted.
#[derive(Clone, Debug)]
pub struct Deleting {
    pub api: DynamicApi,
    pub name: String,
    /// The uid of the deleted object (empty: unknown, any object counts).
    pub uid: String,
    /// How kubectl names it in the timeout message: `pods/x`.
    pub display: String,
}

/// Wait until every object in `objects` is gone, or fail at `deadline`
/// with kubectl's `timed out waiting for the condition on pods/x`.
pub async fn until_gone(objects: &[Deleting], deadline: Instant) -> Result<()> {
    for object in objects {
        let mut pause = Duration::from_millis(50);
        loop {
            match object.api.get_opt(&object.name).await {
                Ok(None) => break,
                Ok(Some(live)) => {
                    let uid = live["metadata"]["uid"].as_str().unwrap_or_default();
                    if !object.uid.is_empty() && uid != object.uid {
                        break;
                    }
                }
                // The server may be briefly away; the deadline still holds.
                Err(e) if e.is_transport() => {}
                Err(e) => return Err(e.into()),
            }
            if Instant::now() + pause > deadline {
                return Err(usage(format!(
                    "timed out waiting for the condition on {}",
                    object.display
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
    Ok(())
}

/// The deadline for a wait of `timeout`; a zero timeout means the
/// longest grace period among the objects plus a minute.
pub fn deadline(timeout: Duration, longest_grace_seconds: u64) -> Instant {
    let wait = if timeout.is_zero() {
        Duration::from_secs(longest_grace_seconds + 60)
    } else {
        timeout
    };
    Instant::now() + wait
}
