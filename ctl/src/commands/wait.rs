//! Waiting, with a deadline, for deleted objects to be gone (`delete
//! --wait`, `drain`): an object is gone when a GET finds nothing, or
//! finds a new object of the same name (another uid).

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tug_client::{Deleted, DynamicApi};

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
    /// The grace period the server gave it, in seconds.
    pub grace_seconds: u64,
}

impl Deleting {
    /// What to wait for after `api.delete(name)` answered `answer`:
    /// nothing when the answer is a Status (the object is gone already).
    pub fn after(api: &DynamicApi, name: &str, answer: Deleted<Value>) -> Option<Deleting> {
        let object = answer.object()?;
        let meta = &object["metadata"];
        Some(Deleting {
            api: api.clone(),
            name: name.to_string(),
            uid: meta["uid"].as_str().unwrap_or_default().to_string(),
            display: format!("{}/{name}", api.resource().plural_group()),
            grace_seconds: meta["deletionGracePeriodSeconds"].as_u64().unwrap_or(0),
        })
    }
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

/// The deadline for a wait of `timeout` for `objects`; a zero timeout
/// means the longest grace period among them plus a minute.
pub fn deadline(timeout: Duration, objects: &[Deleting]) -> Instant {
    let wait = if timeout.is_zero() {
        let longest = objects.iter().map(|o| o.grace_seconds).max().unwrap_or(0);
        Duration::from_secs(longest + 60)
    } else {
        timeout
    };
    Instant::now() + wait
}
