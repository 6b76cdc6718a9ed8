//! An in-memory view of which namespaces exist and which are terminating,
//! kept current from the namespaces watch cache. Creates check it instead
//! of reading storage on every request (upstream's NamespaceLifecycle
//! admission does the same with an informer); a namespace the view has not
//! seen yet is looked up in storage, so a just-created one is never refused.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tug_api::selector::FieldSelector;

use crate::storage::{ListOptions, Storage};
use crate::watch_cache::{EventType, WatchCache};

/// What the view knows of a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespaceState {
    Active,
    Terminating,
}

fn state_of(ns: &Value) -> NamespaceState {
    if ns.pointer("/metadata/deletionTimestamp").is_some() {
        NamespaceState::Terminating
    } else {
        NamespaceState::Active
    }
}

fn name_of(ns: &Value) -> Option<String> {
    ns.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Namespace name → state.
#[derive(Default)]
pub struct NamespaceView {
    known: RwLock<HashMap<String, NamespaceState>>,
}

impl NamespaceView {
    /// Start following the namespaces under `prefix` through `cache`.
    pub fn spawn(storage: Arc<dyn Storage>, prefix: String, cache: Arc<WatchCache>) -> Arc<Self> {
        let view = Arc::new(NamespaceView::default());
        tokio::spawn(view.clone().follow(storage, prefix, cache));
        view
    }

    /// The state of `name`, if the view has seen it.
    pub fn get(&self, name: &str) -> Option<NamespaceState> {
        self.known.read().ok()?.get(name).copied()
    }

    /// Record a namespace write made by this apiserver at once, so its own
    /// next request sees it without waiting for the watch.
    pub fn record(&self, ns: &Value, gone: bool) {
        let Some(name) = name_of(ns) else { return };
        if let Ok(mut known) = self.known.write() {
            if gone {
                known.remove(&name);
            } else {
                known.insert(name, state_of(ns));
            }
        }
    }

    /// List, then watch from the list's revision; relist whenever the
    /// watch ends.
    async fn follow(
        self: Arc<Self>,
        storage: Arc<dyn Storage>,
        prefix: String,
        cache: Arc<WatchCache>,
    ) {
        loop {
            let listed = match storage.list(&prefix, ListOptions::default()).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "namespace view could not list namespaces; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let fresh: HashMap<String, NamespaceState> = listed
                .items
                .iter()
                .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
                .filter_map(|ns| Some((name_of(&ns)?, state_of(&ns))))
                .collect();
            if let Ok(mut known) = self.known.write() {
                *known = fresh;
            }
            let mut events = cache
                .watch(listed.revision, &FieldSelector::everything())
                .await;
            while let Some(Ok(ev)) = events.next().await {
                let Ok(ns) = serde_json::from_slice::<Value>(&ev.object) else {
                    continue;
                };
                let Some(name) = name_of(&ns) else { continue };
                if let Ok(mut known) = self.known.write() {
                    if ev.event_type == EventType::Deleted {
                        known.remove(&name);
                    } else {
                        known.insert(name, state_of(&ns));
                    }
                }
            }
        }
    }
}
