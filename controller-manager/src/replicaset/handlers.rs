//! Informer events → ReplicaSet keys to sync, and the expectation
//! bookkeeping pod events drive (`addPod`/`updatePod`/`deletePod` upstream).

use std::sync::Arc;

use tug_api::apps::ReplicaSet;
use tug_api::core::Pod;
use tug_api::meta::OwnerReference;
use tug_client::{key_of, Event, Store, WorkQueue};

use super::expectations::Expectations;
use crate::util::claim::{refers_to, selects};

/// What the handlers need; cheap to clone into each closure.
#[derive(Clone)]
pub struct Router {
    pub replicasets: Store<ReplicaSet>,
    pub expectations: Arc<Expectations>,
    pub queue: WorkQueue<String>,
}

impl Router {
    /// ReplicaSet events: sync it; a deleted (or replaced) one's
    /// expectations are dropped.
    pub fn on_replicaset(&self, event: &Event<ReplicaSet>) {
        match event {
            Event::Added(rs) => self.queue.add(key_of(&rs.metadata)),
            Event::Updated { old, new } => {
                if old.metadata.uid != new.metadata.uid {
                    self.expectations.delete(&key_of(&old.metadata));
                }
                self.queue.add(key_of(&new.metadata));
            }
            Event::Deleted(rs) => {
                let key = key_of(&rs.metadata);
                self.expectations.delete(&key);
                self.queue.add(key);
            }
        }
    }

    /// Pod events: lower the owner's expectations and sync it; an orphan
    /// wakes every ReplicaSet that might adopt it.
    pub fn on_pod(&self, event: &Event<Pod>) {
        match event {
            Event::Added(pod) => self.pod_added(pod),
            Event::Updated { old, new } => self.pod_updated(old, new),
            Event::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    fn pod_added(&self, pod: &Pod) {
        if pod.metadata.deletion_timestamp.is_some() {
            // Seen for the first time already terminating (after a relist,
            // say): it must not count as a creation.
            return self.pod_deleted(pod);
        }
        match pod.metadata.controller_ref() {
            Some(r) => {
                if let Some(key) = self.owner_key(&pod.metadata.namespace, r) {
                    self.expectations.creation_observed(&key);
                    self.queue.add(key);
                }
            }
            None => self.enqueue_adopters(pod),
        }
    }

    fn pod_updated(&self, old: &Pod, new: &Pod) {
        if old.metadata.resource_version == new.metadata.resource_version {
            // A periodic resync: nothing changed.
            return;
        }
        let labels_changed = old.metadata.labels != new.metadata.labels;
        if new.metadata.deletion_timestamp.is_some() {
            // Graceful deletion began: the ReplicaSet may replace the pod
            // now rather than when the kubelet finishes with it.
            self.pod_deleted(new);
            if labels_changed {
                self.pod_deleted(old);
            }
            return;
        }
        let old_ref = old.metadata.controller_ref();
        let new_ref = new.metadata.controller_ref();
        let ref_changed = old_ref != new_ref;
        if ref_changed {
            if let Some(key) = old_ref.and_then(|r| self.owner_key(&old.metadata.namespace, r)) {
                self.queue.add(key);
            }
        }
        match new_ref {
            Some(r) => {
                if let Some(key) = self.owner_key(&new.metadata.namespace, r) {
                    self.queue.add(key);
                }
            }
            None if labels_changed || ref_changed => self.enqueue_adopters(new),
            None => {}
        }
    }

    fn pod_deleted(&self, pod: &Pod) {
        let Some(r) = pod.metadata.controller_ref() else {
            return;
        };
        if let Some(key) = self.owner_key(&pod.metadata.namespace, r) {
            self.expectations
                .deletion_observed(&key, &key_of(&pod.metadata));
            self.queue.add(key);
        }
    }

    /// The key of the ReplicaSet `r` points at, if it is in the cache with
    /// that uid (not a namesake).
    fn owner_key(&self, namespace: &str, r: &OwnerReference) -> Option<String> {
        if !refers_to::<ReplicaSet>(r) {
            return None;
        }
        let rs = self.replicasets.get_namespaced(namespace, &r.name)?;
        (rs.metadata.uid == r.uid).then(|| key_of(&rs.metadata))
    }

    /// Queue every ReplicaSet in the pod's namespace whose selector
    /// matches it.
    fn enqueue_adopters(&self, pod: &Pod) {
        for rs in self.replicasets.by_namespace(&pod.metadata.namespace) {
            if selects(rs.spec.selector.as_ref(), &pod.metadata.labels) {
                self.queue.add(key_of(&rs.metadata));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::meta::{LabelSelector, Time};

    fn rs(name: &str, uid: &str, app: &str) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = name.into();
        rs.metadata.namespace = "ns".into();
        rs.metadata.uid = uid.into();
        rs.spec.selector = Some(LabelSelector {
            match_labels: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        });
        rs
    }

    fn pod(name: &str, app: &str, owner: Option<&ReplicaSet>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "ns".into();
        p.metadata.resource_version = "1".into();
        p.metadata.labels.insert("app".into(), app.into());
        if let Some(o) = owner {
            p.metadata
                .owner_references
                .push(OwnerReference::controller_of(o));
        }
        p
    }

    fn router() -> Router {
        let store = Store::new();
        store.insert(rs("web", "u-web", "web"));
        store.insert(rs("db", "u-db", "db"));
        Router {
            replicasets: store,
            expectations: Arc::new(Expectations::default()),
            queue: WorkQueue::new(),
        }
    }

    async fn drain(q: &WorkQueue<String>) -> Vec<String> {
        let mut keys = Vec::new();
        while !q.is_empty() {
            let k = q.get().await.unwrap();
            q.done(&k);
            keys.push(k);
        }
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn pod_events_lower_expectations_of_the_owner() {
        let r = router();
        let web = r.replicasets.get("ns/web").unwrap();
        r.expectations.expect_creations("ns/web", 2);
        r.on_pod(&Event::Added(Arc::new(pod("a", "web", Some(&web)))));
        assert_eq!(r.expectations.pending("ns/web"), Some((1, 0)));
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);

        // A pod whose owner reference names a replaced ReplicaSet (other uid)
        // counts for nobody.
        let mut stale = pod("b", "web", Some(&web));
        stale.metadata.owner_references[0].uid = "old".into();
        r.on_pod(&Event::Added(Arc::new(stale)));
        assert_eq!(r.expectations.pending("ns/web"), Some((1, 0)));
        assert!(r.queue.is_empty());

        // Deletion: the deletionTimestamp counts, the final delete does not
        // count twice.
        r.expectations
            .expect_deletions("ns/web", ["ns/a".to_string()]);
        let old = Arc::new(pod("a", "web", Some(&web)));
        let mut terminating = (*old).clone();
        terminating.metadata.resource_version = "2".into();
        terminating.metadata.deletion_timestamp = Some(Time::now());
        let terminating = Arc::new(terminating);
        r.on_pod(&Event::Updated {
            old,
            new: terminating.clone(),
        });
        assert!(r.expectations.satisfied("ns/web"));
        r.on_pod(&Event::Deleted(terminating));
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);
    }

    #[tokio::test]
    async fn orphans_wake_matching_replicasets() {
        let r = router();
        r.on_pod(&Event::Added(Arc::new(pod("o", "db", None))));
        assert_eq!(drain(&r.queue).await, vec!["ns/db"]);

        // Relabelled from web to db while owned by web: web must release
        // it; an owned pod does not wake others.
        let web = r.replicasets.get("ns/web").unwrap();
        let old = Arc::new(pod("p", "web", Some(&web)));
        let mut new = (*old).clone();
        new.metadata.resource_version = "2".into();
        new.metadata.labels.insert("app".into(), "db".into());
        r.on_pod(&Event::Updated {
            old: old.clone(),
            new: Arc::new(new.clone()),
        });
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);

        // Released (ownerReference removed): both web and the new match hear.
        let mut released = new.clone();
        released.metadata.resource_version = "3".into();
        released.metadata.owner_references.clear();
        r.on_pod(&Event::Updated {
            old: Arc::new(new),
            new: Arc::new(released),
        });
        assert_eq!(drain(&r.queue).await, vec!["ns/db", "ns/web"]);

        // A resync (same resourceVersion) does nothing.
        r.on_pod(&Event::Updated {
            old: old.clone(),
            new: old,
        });
        assert!(r.queue.is_empty());
    }

    #[tokio::test]
    async fn replicaset_deletion_forgets_expectations() {
        let r = router();
        r.expectations.expect_creations("ns/web", 3);
        let web = r.replicasets.get("ns/web").unwrap();
        r.on_replicaset(&Event::Deleted(web));
        assert_eq!(r.expectations.pending("ns/web"), None);
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);
    }
}
