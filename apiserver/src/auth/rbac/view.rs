//! An in-memory copy of every object of one RBAC kind, kept current from
//! the kind's watch cache, so authorization never reads storage and a new
//! binding takes effect as soon as the watch delivers it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use tug_api::selector::FieldSelector;
use tug_api::Resource;

use crate::storage::{ListOptions, Storage};
use crate::watch_cache::{EventType, WatchCache};

/// `namespace/name` (or `name`) → object.
pub struct KindView<T> {
    objects: RwLock<HashMap<String, Arc<T>>>,
}

fn key_of<T: Resource>(obj: &T) -> String {
    format!("{}/{}", obj.meta().namespace, obj.meta().name)
}

impl<T: Resource + DeserializeOwned> KindView<T> {
    /// List the kind under `prefix`, then follow `cache` in the
    /// background. Returns once the first list is in.
    pub async fn start(
        storage: Arc<dyn Storage>,
        prefix: String,
        cache: Arc<WatchCache>,
    ) -> Arc<KindView<T>> {
        let view = Arc::new(KindView {
            objects: RwLock::new(HashMap::new()),
        });
        let revision = view.relist(&storage, &prefix).await;
        tokio::spawn(view.clone().follow(storage, prefix, cache, revision));
        view
    }

    /// Replace the contents with a fresh list; returns its revision.
    async fn relist(&self, storage: &Arc<dyn Storage>, prefix: &str) -> i64 {
        loop {
            match storage.list(prefix, ListOptions::default()).await {
                Ok(listed) => {
                    let fresh: HashMap<String, Arc<T>> = listed
                        .items
                        .iter()
                        .filter_map(|kv| serde_json::from_slice::<T>(&kv.value).ok())
                        .map(|o| (key_of(&o), Arc::new(o)))
                        .collect();
                    if let Ok(mut objects) = self.objects.write() {
                        *objects = fresh;
                    }
                    return listed.revision;
                }
                Err(e) => {
                    tracing::warn!(%prefix, error = %e, "authorization view could not list; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Apply watch events; relist whenever the watch ends.
    async fn follow(
        self: Arc<Self>,
        storage: Arc<dyn Storage>,
        prefix: String,
        cache: Arc<WatchCache>,
        mut revision: i64,
    ) {
        loop {
            let mut events = cache.watch(revision, &FieldSelector::everything()).await;
            while let Some(Ok(ev)) = events.next().await {
                let Ok(obj) = serde_json::from_slice::<T>(&ev.object) else {
                    continue;
                };
                if let Ok(mut objects) = self.objects.write() {
                    if ev.event_type == EventType::Deleted {
                        objects.remove(&key_of(&obj));
                    } else {
                        objects.insert(key_of(&obj), Arc::new(obj));
                    }
                }
            }
            revision = self.relist(&storage, &prefix).await;
        }
    }

    /// The object `namespace/name` (namespace empty for cluster-scoped).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        self.objects
            .read()
            .ok()?
            .get(&format!("{namespace}/{name}"))
            .cloned()
    }

    /// Every object (of one namespace, when `namespace` is given).
    pub fn list(&self, namespace: Option<&str>) -> Vec<Arc<T>> {
        let Ok(objects) = self.objects.read() else {
            return Vec::new();
        };
        objects
            .values()
            .filter(|o| namespace.is_none_or(|ns| o.meta().namespace == ns))
            .cloned()
            .collect()
    }
}
