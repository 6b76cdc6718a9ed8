//! One change of a resource as the watch cache holds it: decoded once,
//! serialized once, shared by every watcher.

use bytes::Bytes;
use serde_json::Value;

use crate::objects::{decode_bytes, decode_kv};
use crate::registry::{Handler, ObjectAttrs};
use crate::storage::WatchEvent;

/// The type of a change as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, decoded once and shared by every watcher.
#[derive(Debug)]
pub struct CacheEvent {
    pub event_type: EventType,
    pub revision: i64,
    /// The object after the change (for a delete: its last state), with
    /// `resourceVersion` = `revision`, serialized.
    pub object: Bytes,
    pub attrs: ObjectAttrs,
    /// For a modification: the object before, serialized with
    /// `resourceVersion` = `revision` (sent as DELETED to watchers whose
    /// selector it no longer matches), and its attributes.
    pub prev: Option<(Bytes, ObjectAttrs)>,
}

fn serialize(object: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(object).unwrap_or_default())
}

impl CacheEvent {
    /// Decode a storage event for `handler`'s kind.
    pub fn from_storage(handler: &Handler, event: &WatchEvent) -> Option<CacheEvent> {
        match event {
            WatchEvent::Put { kv, prev } => {
                let cur = decode_kv(kv).ok()?;
                let prev = prev.as_ref().and_then(|p| {
                    let old = decode_bytes(&p.value, kv.mod_revision).ok()?;
                    Some((serialize(&old.object), handler.attrs(&old.object)))
                });
                Some(CacheEvent {
                    event_type: if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    },
                    revision: kv.mod_revision,
                    attrs: handler.attrs(&cur.object),
                    object: serialize(&cur.object),
                    prev,
                })
            }
            WatchEvent::Delete { prev, revision } => {
                let last = decode_bytes(&prev.value, *revision).ok()?;
                Some(CacheEvent {
                    event_type: EventType::Deleted,
                    revision: *revision,
                    attrs: handler.attrs(&last.object),
                    object: serialize(&last.object),
                    prev: None,
                })
            }
        }
    }

    /// What a watcher with filter `matches` sees of this event, if anything:
    /// an object entering the filter is ADDED, leaving it is DELETED.
    pub fn as_seen_by(
        &self,
        matches: &dyn Fn(&ObjectAttrs) -> bool,
    ) -> Option<(EventType, &Bytes)> {
        let now = matches(&self.attrs);
        match (&self.prev, self.event_type) {
            (Some((prev_obj, prev_attrs)), EventType::Modified) => {
                match (matches(prev_attrs), now) {
                    (true, true) => Some((EventType::Modified, &self.object)),
                    (false, true) => Some((EventType::Added, &self.object)),
                    (true, false) => Some((EventType::Deleted, prev_obj)),
                    (false, false) => None,
                }
            }
            _ => now.then_some((self.event_type, &self.object)),
        }
    }

    /// The value of selectable field `field` on the object after the change
    /// and, when it differs, before it: the values a watcher pinning
    /// `field` must hold to care about this event.
    pub fn field_values<'a>(&'a self, field: &str) -> impl Iterator<Item = &'a str> {
        let now = self.attrs.fields.get(field).map(String::as_str);
        let before = self
            .prev
            .as_ref()
            .and_then(|(_, attrs)| attrs.fields.get(field))
            .map(String::as_str)
            .filter(|b| Some(*b) != now);
        now.into_iter().chain(before)
    }
}
