//! [`Store<K>`]: the local, indexed cache an [informer](crate::informer)
//! keeps of one kind, as client-go's `cache.Indexer`.
//!
//! Objects are kept by key (`namespace/name`, or `name` for cluster-scoped
//! kinds) behind `Arc`s, so readers share them without copying. Besides
//! the key, every object is indexed by namespace ([`NAMESPACE_INDEX`]), by
//! each of its labels ([`LABEL_INDEX`], values `key=value`), and by any
//! custom index function (`spec.nodeName` for pods, say).
//!
//! Controllers read the store, never the API server, on every reconcile;
//! the store is a snapshot that the informer keeps current. Clones share
//! the same cache.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::watch;
use tug_api::selector::Selector;
use tug_api::{ObjectMeta, Resource};

/// Index of objects by `metadata.namespace`.
pub const NAMESPACE_INDEX: &str = "namespace";
/// Index of objects by label; the values are `key=value`.
pub const LABEL_INDEX: &str = "label";

/// A function from an object to the index values it is filed under.
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// The store key of an object: `namespace/name`, or `name` when it has no
/// namespace (client-go's `MetaNamespaceKeyFunc`).
pub fn key_of(meta: &ObjectMeta) -> String {
    if meta.namespace.is_empty() {
        meta.name.clone()
    } else {
        format!("{}/{}", meta.namespace, meta.name)
    }
}

/// Split a key into namespace (empty for cluster-scoped) and name.
pub fn split_key(key: &str) -> (&str, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", key),
    }
}

/// What one store change did, as the informer reports it to handlers.
pub(crate) enum Change<K> {
    Added(Arc<K>),
    Updated { old: Arc<K>, new: Arc<K> },
    Deleted(Arc<K>),
}

struct Inner<K> {
    objects: BTreeMap<String, Arc<K>>,
    indexers: HashMap<String, IndexFn<K>>,
    /// index name → index value → keys.
    indices: HashMap<String, HashMap<String, BTreeSet<String>>>,
}

impl<K: Resource> Inner<K> {
    fn index_add(&mut self, key: &str, obj: &K) {
        for (name, f) in &self.indexers {
            let index = self.indices.entry(name.clone()).or_default();
            for value in f(obj) {
                index.entry(value).or_default().insert(key.to_string());
            }
        }
    }

    fn index_remove(&mut self, key: &str, obj: &K) {
        for (name, f) in &self.indexers {
            let Some(index) = self.indices.get_mut(name) else {
                continue;
            };
            for value in f(obj) {
                if let Some(keys) = index.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.remove(&value);
                    }
                }
            }
        }
    }

    fn insert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = key_of(obj.meta());
        let old = self.objects.insert(key.clone(), obj.clone());
        if let Some(old) = &old {
            self.index_remove(&key, old);
        }
        self.index_add(&key, &obj);
        old
    }

    fn remove(&mut self, key: &str) -> Option<Arc<K>> {
        let old = self.objects.remove(key)?;
        self.index_remove(key, &old);
        Some(old)
    }

    fn rebuild(&mut self, name: &str) {
        let Some(f) = self.indexers.get(name).cloned() else {
            return;
        };
        let mut index: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (key, obj) in &self.objects {
            for value in f(obj) {
                index.entry(value).or_default().insert(key.clone());
            }
        }
        self.indices.insert(name.to_string(), index);
    }
}

struct Shared<K> {
    inner: RwLock<Inner<K>>,
    synced: watch::Sender<bool>,
}

/// An indexed cache of objects of one kind. Clones share it.
pub struct Store<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            shared: self.shared.clone(),
        }
    }
}

impl<K: Resource> Default for Store<K> {
    fn default() -> Self {
        Store::new()
    }
}

impl<K: Resource> Store<K> {
    /// An empty store with the namespace and label indices.
    pub fn new() -> Store<K> {
        let (synced, _) = watch::channel(false);
        let store = Store {
            shared: Arc::new(Shared {
                inner: RwLock::new(Inner {
                    objects: BTreeMap::new(),
                    indexers: HashMap::new(),
                    indices: HashMap::new(),
                }),
                synced,
            }),
        };
        store.add_index(NAMESPACE_INDEX, |o: &K| vec![o.meta().namespace.clone()]);
        store.add_index(LABEL_INDEX, |o: &K| {
            o.meta()
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        });
        store
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner<K>> {
        // A panic while holding the lock cannot leave the maps half
        // updated in a way readers could not cope with; keep serving.
        self.shared
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K>> {
        self.shared
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Add (or replace) a custom index: `f` returns the values an object is
    /// filed under, e.g. `|p: &Pod| vec![p.spec.node_name.clone()]`.
    /// Objects already in the store are indexed at once.
    pub fn add_index(&self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        let mut inner = self.write();
        inner.indexers.insert(name.to_string(), Arc::new(f));
        inner.rebuild(name);
    }

    /// The object with this key (`namespace/name` or `name`).
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.read().objects.get(key).cloned()
    }

    /// The object `name` in `namespace` (empty for cluster-scoped kinds).
    pub fn get_namespaced(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        if namespace.is_empty() {
            self.get(name)
        } else {
            self.get(&format!("{namespace}/{name}"))
        }
    }

    /// Every object, in key order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// Every key, in order.
    pub fn keys(&self) -> Vec<String> {
        self.read().objects.keys().cloned().collect()
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.read().objects.is_empty()
    }

    /// The objects filed under `value` in index `index`, in key order.
    /// Empty when the index does not exist.
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        let inner = self.read();
        let Some(keys) = inner.indices.get(index).and_then(|i| i.get(value)) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| inner.objects.get(k).cloned())
            .collect()
    }

    /// The keys filed under `value` in index `index`.
    pub fn index_keys(&self, index: &str, value: &str) -> Vec<String> {
        self.read()
            .indices
            .get(index)
            .and_then(|i| i.get(value))
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Objects in namespace `ns`.
    pub fn by_namespace(&self, ns: &str) -> Vec<Arc<K>> {
        self.by_index(NAMESPACE_INDEX, ns)
    }

    /// Objects with label `key=value`.
    pub fn by_label(&self, key: &str, value: &str) -> Vec<Arc<K>> {
        self.by_index(LABEL_INDEX, &format!("{key}={value}"))
    }

    /// Objects (in `namespace`, when given) whose labels match `selector`.
    /// An `key=value` requirement of the selector narrows the search
    /// through the label index.
    pub fn select(&self, namespace: Option<&str>, selector: &Selector) -> Vec<Arc<K>> {
        let candidates = match selector
            .requirements()
            .iter()
            .find(|r| r.op() == tug_api::selector::LabelOp::Equals && r.values().len() == 1)
        {
            Some(r) => self.by_label(r.key(), &r.values()[0]),
            None => match namespace {
                Some(ns) => self.by_namespace(ns),
                None => self.list(),
            },
        };
        candidates
            .into_iter()
            .filter(|o| match namespace {
                Some(ns) => o.meta().namespace == ns,
                None => true,
            })
            .filter(|o| selector.matches(&o.meta().labels))
            .collect()
    }

    /// Insert or replace an object; the previous one, if any. (The
    /// informer does this; tests of controllers may fill a store by hand.)
    pub fn insert(&self, obj: K) -> Option<Arc<K>> {
        self.write().insert(Arc::new(obj))
    }

    /// Remove the object with this key; it, if it was there.
    pub fn remove(&self, key: &str) -> Option<Arc<K>> {
        self.write().remove(key)
    }

    pub(crate) fn insert_arc(&self, obj: Arc<K>) -> Option<Arc<K>> {
        self.write().insert(obj)
    }

    /// Replace the whole content with a fresh list, atomically; what
    /// changed, deletions first. Objects whose resourceVersion did not
    /// change are not reported.
    pub(crate) fn replace(&self, items: Vec<K>) -> Vec<Change<K>> {
        let mut inner = self.write();
        let mut fresh: BTreeMap<String, Arc<K>> = BTreeMap::new();
        for item in items {
            fresh.insert(key_of(item.meta()), Arc::new(item));
        }
        let vanished: Vec<String> = inner
            .objects
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .cloned()
            .collect();
        let mut changes = Vec::new();
        for key in vanished {
            if let Some(old) = inner.remove(&key) {
                changes.push(Change::Deleted(old));
            }
        }
        for (_, new) in fresh {
            match inner.insert(new.clone()) {
                None => changes.push(Change::Added(new)),
                Some(old) if old.meta().resource_version != new.meta().resource_version => {
                    changes.push(Change::Updated { old, new })
                }
                Some(_) => {}
            }
        }
        changes
    }

    /// Whether the first list has been loaded.
    pub fn has_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// Wait until the first list has been loaded.
    pub async fn wait_synced(&self) {
        let mut rx = self.shared.synced.subscribe();
        // The sender lives as long as the store, so this only ends when synced.
        let _ = rx.wait_for(|synced| *synced).await;
    }

    pub(crate) fn set_synced(&self) {
        self.shared.synced.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::Pod;

    fn pod(ns: &str, name: &str, node: &str, labels: &[(&str, &str)]) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = ns.into();
        p.metadata.name = name.into();
        p.metadata.resource_version = "1".into();
        p.spec.node_name = node.into();
        for (k, v) in labels {
            p.metadata.labels.insert(k.to_string(), v.to_string());
        }
        p
    }

    fn names(v: &[Arc<Pod>]) -> Vec<String> {
        v.iter().map(|p| key_of(&p.metadata)).collect()
    }

    #[test]
    fn indices_follow_updates_and_removals() {
        let store: Store<Pod> = Store::new();
        store.add_index("node", |p: &Pod| vec![p.spec.node_name.clone()]);
        store.insert(pod("a", "p1", "n1", &[("app", "web")]));
        store.insert(pod("a", "p2", "n2", &[("app", "db")]));
        store.insert(pod("b", "p3", "n1", &[("app", "web")]));
        assert_eq!(names(&store.by_index("node", "n1")), vec!["a/p1", "b/p3"]);
        assert_eq!(names(&store.by_namespace("a")), vec!["a/p1", "a/p2"]);
        assert_eq!(names(&store.by_label("app", "web")), vec!["a/p1", "b/p3"]);
        let sel = Selector::parse("app=web").unwrap();
        assert_eq!(names(&store.select(Some("b"), &sel)), vec!["b/p3"]);
        let sel = Selector::parse("app!=web").unwrap();
        assert_eq!(names(&store.select(None, &sel)), vec!["a/p2"]);

        // Moving a pod to another node moves it in the index.
        store.insert(pod("a", "p1", "n2", &[]));
        assert_eq!(names(&store.by_index("node", "n1")), vec!["b/p3"]);
        assert_eq!(names(&store.by_index("node", "n2")), vec!["a/p1", "a/p2"]);
        assert_eq!(names(&store.by_label("app", "web")), vec!["b/p3"]);
        store.remove("b/p3");
        assert!(store.by_index("node", "n1").is_empty());
        assert!(store.by_label("app", "web").is_empty());
        assert_eq!(
            store.get_namespaced("a", "p2").unwrap().spec.node_name,
            "n2"
        );

        // An index added later covers what is already there.
        store.add_index("ns-node", |p: &Pod| {
            vec![format!("{}@{}", p.metadata.namespace, p.spec.node_name)]
        });
        assert_eq!(store.index_keys("ns-node", "a@n2"), vec!["a/p1", "a/p2"]);
    }

    #[test]
    fn replace_reports_the_difference() {
        let store: Store<Pod> = Store::new();
        store.insert(pod("a", "gone", "", &[]));
        store.insert(pod("a", "same", "", &[]));
        store.insert(pod("a", "changed", "", &[]));
        let mut changed = pod("a", "changed", "", &[]);
        changed.metadata.resource_version = "2".into();
        let changes = store.replace(vec![
            pod("a", "same", "", &[]),
            changed,
            pod("a", "new", "", &[]),
        ]);
        let summary: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Added(o) => format!("add {}", o.metadata.name),
                Change::Updated { new, .. } => format!("update {}", new.metadata.name),
                Change::Deleted(o) => format!("delete {}", o.metadata.name),
            })
            .collect();
        assert_eq!(summary, vec!["delete gone", "update changed", "add new"]);
        assert_eq!(store.keys(), vec!["a/changed", "a/new", "a/same"]);
    }

    #[test]
    fn keys() {
        assert_eq!(split_key("ns/name"), ("ns", "name"));
        assert_eq!(split_key("node-1"), ("", "node-1"));
    }
}
