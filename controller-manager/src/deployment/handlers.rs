//! Informer events → Deployment keys to sync.
//!
//! A Deployment is synced when it changes; when one of its ReplicaSets
//! changes (or an orphan ReplicaSet it might adopt appears); and, for
//! Recreate, when a pod of one of its ReplicaSets is deleted, since that
//! may be the last old pod the new ReplicaSet waits for. Pods becoming
//! ready reach it through their ReplicaSet's status.

use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::core::Pod;
use tug_api::meta::OwnerReference;
use tug_client::{key_of, Event, Store, WorkQueue};

use super::replicas::RECREATE;
use crate::util::claim::{refers_to, selects};

/// What the handlers need; cheap to clone into each closure.
#[derive(Clone)]
pub struct Router {
    pub deployments: Store<Deployment>,
    pub replicasets: Store<ReplicaSet>,
    pub queue: WorkQueue<String>,
}

impl Router {
    /// Any change of a Deployment (and its deletion) syncs it.
    pub fn on_deployment(&self, event: &Event<Deployment>) {
        self.queue.add(event.key());
    }

    /// ReplicaSet events sync its owner, or for an orphan every
    /// Deployment that might adopt it.
    pub fn on_replicaset(&self, event: &Event<ReplicaSet>) {
        match event {
            Event::Added(rs) => match rs.metadata.controller_ref() {
                Some(r) => self.enqueue_owner(&rs.metadata.namespace, r),
                None => self.enqueue_adopters(rs),
            },
            Event::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let old_ref = old.metadata.controller_ref();
                let new_ref = new.metadata.controller_ref();
                let ref_changed = old_ref != new_ref;
                if let (true, Some(r)) = (ref_changed, old_ref) {
                    self.enqueue_owner(&old.metadata.namespace, r);
                }
                match new_ref {
                    Some(r) => self.enqueue_owner(&new.metadata.namespace, r),
                    None if ref_changed || old.metadata.labels != new.metadata.labels => {
                        self.enqueue_adopters(new)
                    }
                    None => {}
                }
            }
            Event::Deleted(rs) => {
                if let Some(r) = rs.metadata.controller_ref() {
                    self.enqueue_owner(&rs.metadata.namespace, r);
                }
            }
        }
    }

    /// A deleted pod may be the last old one a Recreate waits for.
    pub fn on_pod(&self, event: &Event<Pod>) {
        let Event::Deleted(pod) = event else {
            return;
        };
        let ns = &pod.metadata.namespace;
        let Some(rs) = pod
            .metadata
            .controller_ref()
            .filter(|r| refers_to::<ReplicaSet>(r))
            .and_then(|r| {
                self.replicasets
                    .get_namespaced(ns, &r.name)
                    .filter(|rs| rs.metadata.uid == r.uid)
            })
        else {
            return;
        };
        if let Some(d) = rs.metadata.controller_ref().and_then(|r| self.owner(ns, r)) {
            if d.spec.strategy.type_ == RECREATE {
                self.queue.add(key_of(&d.metadata));
            }
        }
    }

    fn owner(&self, namespace: &str, r: &OwnerReference) -> Option<std::sync::Arc<Deployment>> {
        if !refers_to::<Deployment>(r) {
            return None;
        }
        self.deployments
            .get_namespaced(namespace, &r.name)
            .filter(|d| d.metadata.uid == r.uid)
    }

    fn enqueue_owner(&self, namespace: &str, r: &OwnerReference) {
        if let Some(d) = self.owner(namespace, r) {
            self.queue.add(key_of(&d.metadata));
        }
    }

    fn enqueue_adopters(&self, rs: &ReplicaSet) {
        for d in self.deployments.by_namespace(&rs.metadata.namespace) {
            if selects(d.spec.selector.as_ref(), &rs.metadata.labels) {
                self.queue.add(key_of(&d.metadata));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tug_api::meta::LabelSelector;

    fn deployment(name: &str, app: &str, strategy: &str) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.name = name.into();
        d.metadata.namespace = "ns".into();
        d.metadata.uid = format!("{name}-uid");
        d.spec.selector = Some(LabelSelector {
            match_labels: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        });
        d.spec.strategy.type_ = strategy.into();
        d
    }

    fn replica_set(name: &str, app: &str, owner: Option<&Deployment>) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = name.into();
        rs.metadata.namespace = "ns".into();
        rs.metadata.uid = format!("{name}-uid");
        rs.metadata.resource_version = "1".into();
        rs.metadata.labels.insert("app".into(), app.into());
        if let Some(d) = owner {
            rs.metadata
                .owner_references
                .push(OwnerReference::controller_of(d));
        }
        rs
    }

    fn router() -> Router {
        let deployments = Store::new();
        deployments.insert(deployment("web", "web", "RollingUpdate"));
        deployments.insert(deployment("batch", "batch", RECREATE));
        Router {
            deployments,
            replicasets: Store::new(),
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
    async fn replica_set_events_reach_the_owner_or_adopters() {
        let r = router();
        let web = r.deployments.get("ns/web").unwrap();
        r.on_replicaset(&Event::Added(Arc::new(replica_set(
            "web-1",
            "web",
            Some(&web),
        ))));
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);
        // An orphan matching batch's selector.
        let orphan = Arc::new(replica_set("loose", "batch", None));
        r.on_replicaset(&Event::Added(orphan.clone()));
        assert_eq!(drain(&r.queue).await, vec!["ns/batch"]);
        // Relabelled orphan: the new match hears of it.
        let mut relabelled = (*orphan).clone();
        relabelled.metadata.resource_version = "2".into();
        relabelled
            .metadata
            .labels
            .insert("app".into(), "web".into());
        r.on_replicaset(&Event::Updated {
            old: orphan,
            new: Arc::new(relabelled),
        });
        assert_eq!(drain(&r.queue).await, vec!["ns/web"]);
    }

    #[tokio::test]
    async fn pod_deletions_wake_recreate_deployments_only() {
        let r = router();
        for name in ["web", "batch"] {
            let d = r.deployments.get(&format!("ns/{name}")).unwrap();
            r.replicasets
                .insert(replica_set(&format!("{name}-1"), name, Some(&d)));
        }
        let pod_of = |rs: &str| {
            let rs = r.replicasets.get(&format!("ns/{rs}")).unwrap();
            let mut p = Pod::default();
            p.metadata.namespace = "ns".into();
            p.metadata
                .owner_references
                .push(OwnerReference::controller_of(rs.as_ref()));
            Arc::new(p)
        };
        r.on_pod(&Event::Deleted(pod_of("web-1")));
        assert!(r.queue.is_empty());
        r.on_pod(&Event::Deleted(pod_of("batch-1")));
        assert_eq!(drain(&r.queue).await, vec!["ns/batch"]);
        r.on_pod(&Event::Added(pod_of("batch-1")));
        assert!(r.queue.is_empty());
    }
}
