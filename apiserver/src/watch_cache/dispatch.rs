//! Who gets an event: indexed triggers, as upstream's cacher has them
//! (`IndexerFuncs`/`triggerFunc` in `pkg/storage/cacher`).
//!
//! A kind may name one selectable field as its trigger (pods:
//! `spec.nodeName`). A watcher whose field selector pins that field with
//! `=` (every kubelet: `spec.nodeName=<node>`; the scheduler's unscheduled
//! pods: `spec.nodeName=`) is indexed under the pinned value and only
//! receives events whose object carries that value now or carried it
//! before the change, so an object leaving its selection still reaches it
//! (as DELETED, see [`CacheEvent::as_seen_by`]). Every other watcher gets
//! every event and filters for itself. The index only narrows who is
//! woken: each watcher still applies its whole selector.

use std::collections::HashMap;
use std::sync::Arc;

use tug_api::selector::FieldSelector;

use super::watcher::Inbox;
use super::{CacheEvent, WatchEnd};
use crate::registry::ResourceInfo;

/// Per kind (group, plural), the field watchers are indexed by.
const TRIGGER_FIELDS: &[(&str, &str, &str)] = &[("", "pods", "spec.nodeName")];

/// The trigger field of a kind, if it has one.
pub fn trigger_field(info: &ResourceInfo) -> Option<&'static str> {
    TRIGGER_FIELDS
        .iter()
        .find(|(group, plural, _)| *group == info.group && *plural == info.plural)
        .map(|(_, _, field)| *field)
}

type Inboxes = HashMap<u64, Arc<Inbox>>;

/// The live watchers of one resource, by trigger value.
pub(super) struct Dispatcher {
    field: Option<&'static str>,
    next_id: u64,
    /// Watchers that get every event.
    general: Inboxes,
    /// Watchers indexed by the trigger value their selector pins.
    by_value: HashMap<String, Inboxes>,
}

impl Dispatcher {
    pub(super) fn new(field: Option<&'static str>) -> Dispatcher {
        Dispatcher {
            field,
            next_id: 0,
            general: HashMap::new(),
            by_value: HashMap::new(),
        }
    }

    /// The trigger value a watcher with selector `fields` is indexed
    /// under, if the kind has a trigger and the selector pins it.
    pub(super) fn trigger_of(&self, fields: &FieldSelector) -> Option<String> {
        fields.exact_value(self.field?).map(str::to_string)
    }

    /// Whether a watcher indexed under `trigger` receives `event`.
    pub(super) fn concerns(&self, trigger: Option<&str>, event: &CacheEvent) -> bool {
        match (trigger, self.field) {
            (Some(value), Some(field)) => event.field_values(field).any(|v| v == value),
            _ => true,
        }
    }

    /// Register a watcher; returns its id.
    pub(super) fn add(&mut self, trigger: Option<String>, inbox: Arc<Inbox>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        match trigger {
            Some(value) => self.by_value.entry(value).or_default().insert(id, inbox),
            None => self.general.insert(id, inbox),
        };
        id
    }

    /// Forget a watcher (it went away, or was cut off or closed). Unknown
    /// ids are ignored.
    pub(super) fn remove(&mut self, id: u64, trigger: Option<&str>) {
        match trigger {
            Some(value) => {
                if let Some(set) = self.by_value.get_mut(value) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_value.remove(value);
                    }
                }
            }
            None => {
                self.general.remove(&id);
            }
        }
    }

    /// Queue `event` for every watcher it concerns; watchers that no longer
    /// take events (cut off for falling behind) are dropped.
    pub(super) fn dispatch(&mut self, event: &Arc<CacheEvent>) {
        let mut gone: Vec<(u64, Option<String>)> = Vec::new();
        for (id, inbox) in &self.general {
            if !inbox.deliver(event) {
                gone.push((*id, None));
            }
        }
        if let Some(field) = self.field {
            for value in event.field_values(field) {
                let Some(set) = self.by_value.get(value) else {
                    continue;
                };
                for (id, inbox) in set {
                    if !inbox.deliver(event) {
                        gone.push((*id, Some(value.to_string())));
                    }
                }
            }
        }
        for (id, trigger) in gone {
            self.remove(id, trigger.as_deref());
        }
    }

    /// End every watch (they read what is queued, then `end`) and forget
    /// them all.
    pub(super) fn close_all(&mut self, end: WatchEnd) {
        let all = self
            .general
            .drain()
            .chain(self.by_value.drain().flat_map(|(_, set)| set));
        for (_, inbox) in all {
            inbox.close(end.clone());
        }
    }

    /// How many watchers are registered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.general.len() + self.by_value.values().map(HashMap::len).sum::<usize>()
    }
}
