//! The ownership graph (upstream `graph_builder.go`): every object of the
//! monitored kinds by UID, with its owner references and the set of its
//! dependents, kept current from informer events — so no decision ever
//! needs a list of the whole API.
//!
//! An owner known only from a dependent's `ownerReferences` is a
//! *virtual* node until an informer reports it; a worker checks with the
//! API whether it exists. Applying a change returns the [`Work`] it
//! causes: items whose owners may be gone (attempt to delete), and owners
//! whose dependents must be orphaned.

use std::collections::{BTreeSet, HashMap};

use tug_api::OwnerReference;

/// The finalizer asking the collector to orphan the dependents first.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer asking the collector to delete the dependents first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Which object a node is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `apps/v1`.
    pub api_version: String,
    /// `ReplicaSet`.
    pub kind: String,
    /// Empty for cluster-scoped objects. For a virtual node, the
    /// namespace of the dependent that referenced it.
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Identity {
    /// `ReplicaSet ns/name`, for logs.
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// Whether an owner reference names this object.
    fn matches(&self, r: &OwnerReference) -> bool {
        r.uid == self.uid
            && r.kind == self.kind
            && r.name == self.name
            && r.api_version == self.api_version
    }
}

/// What an informer event says about an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectInfo {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl ObjectInfo {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// A change for the graph.
#[derive(Clone, Debug)]
pub enum Change {
    /// An object was added or updated (`old` is its previous state, if
    /// the informer had one).
    Upsert {
        old: Option<ObjectInfo>,
        new: ObjectInfo,
    },
    /// An object was deleted.
    Delete(ObjectInfo),
    /// A worker found that a virtual node's object does not exist.
    VirtualDelete(String),
}

/// One object in the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    /// UIDs of the objects that list this one as an owner.
    pub dependents: BTreeSet<String>,
    /// Has a deletionTimestamp.
    pub being_deleted: bool,
    /// Being deleted in the foreground: waits for its dependents.
    pub deleting_dependents: bool,
    /// Known only from owner references, not (yet) from an informer.
    pub virtual_: bool,
}

/// What a change asks the workers to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// UIDs to attempt to delete (or, for a waiting owner, to finish).
    pub attempt_to_delete: Vec<String>,
    /// UIDs of owners whose dependents must be orphaned.
    pub attempt_to_orphan: Vec<String>,
    /// UIDs now known not to exist.
    pub absent: Vec<String>,
}

impl Work {
    fn delete(&mut self, uid: &str) {
        if !self.attempt_to_delete.iter().any(|u| u == uid) {
            self.attempt_to_delete.push(uid.to_string());
        }
    }
}

/// The graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    /// The node with this UID.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// How many objects the graph holds (virtual ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The dependents of `uid` (nodes).
    pub fn dependents(&self, uid: &str) -> Vec<Node> {
        self.nodes
            .get(uid)
            .map(|n| {
                n.dependents
                    .iter()
                    .filter_map(|d| self.nodes.get(d).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Dependents of `uid` whose reference to it has
    /// `blockOwnerDeletion: true`: a foreground deletion waits for them.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        self.dependents(uid)
            .into_iter()
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
            })
            .collect()
    }

    /// Apply one change; what the workers must do about it.
    pub fn apply(&mut self, change: Change) -> Work {
        let mut work = Work::default();
        match change {
            Change::Upsert { old, new } => self.upsert(old.as_ref(), new, &mut work),
            Change::Delete(info) => {
                if self.nodes.contains_key(&info.identity.uid) {
                    self.remove(&info.identity.uid, &mut work);
                }
            }
            Change::VirtualDelete(uid) => {
                if self.nodes.get(&uid).is_some_and(|n| n.virtual_) {
                    self.remove(&uid, &mut work);
                }
            }
        }
        work
    }

    fn upsert(&mut self, old: Option<&ObjectInfo>, new: ObjectInfo, work: &mut Work) {
        let uid = new.identity.uid.clone();
        if let Some(existing) = self.nodes.get_mut(&uid) {
            if existing.virtual_ {
                // Observed at last: its dependents may have referred to it
                // by other coordinates; let them be checked.
                existing.virtual_ = false;
                if existing.identity != new.identity {
                    let mismatched: Vec<String> = existing.dependents.iter().cloned().collect();
                    existing.identity = new.identity.clone();
                    for dep in mismatched {
                        let refers_wrongly = self.nodes.get(&dep).is_some_and(|d| {
                            d.owners
                                .iter()
                                .any(|r| r.uid == uid && !new.identity.matches(r))
                        });
                        if refers_wrongly {
                            work.delete(&dep);
                        }
                    }
                }
            }
        }
        match self.nodes.get(&uid).cloned() {
            None => {
                let node = Node {
                    identity: new.identity.clone(),
                    owners: new.owners.clone(),
                    dependents: BTreeSet::new(),
                    being_deleted: new.deleting,
                    deleting_dependents: new.deleting && new.has(FOREGROUND_FINALIZER),
                    virtual_: false,
                };
                self.nodes.insert(uid.clone(), node);
                self.add_to_owners(&uid, &new.identity.namespace, &new.owners, work);
            }
            Some(existing) => {
                let (added, removed, changed) = diff_owners(&existing.owners, &new.owners);
                if !added.is_empty() || !removed.is_empty() || !changed.is_empty() {
                    // An owner waiting for this dependent may now go.
                    for r in removed
                        .iter()
                        .filter(|r| r.block_owner_deletion == Some(true))
                        .chain(changed.iter().filter_map(|(was, now)| {
                            (was.block_owner_deletion == Some(true)
                                && now.block_owner_deletion != Some(true))
                            .then_some(was)
                        }))
                    {
                        if self
                            .nodes
                            .get(&r.uid)
                            .is_some_and(|o| o.deleting_dependents)
                        {
                            work.delete(&r.uid);
                        }
                    }
                    if let Some(n) = self.nodes.get_mut(&uid) {
                        n.owners = new.owners.clone();
                    }
                    self.add_to_owners(&uid, &new.identity.namespace, &added, work);
                    for r in &removed {
                        if let Some(owner) = self.nodes.get_mut(&r.uid) {
                            owner.dependents.remove(&uid);
                        }
                    }
                }
                if new.deleting {
                    if let Some(n) = self.nodes.get_mut(&uid) {
                        n.being_deleted = true;
                    }
                }
            }
        }
        self.transitions(old, &new, work);
    }

    /// Start orphaning or foreground deletion when an object has just
    /// been marked for deletion with that finalizer.
    fn transitions(&mut self, old: Option<&ObjectInfo>, new: &ObjectInfo, work: &mut Work) {
        let starts = |finalizer: &str| {
            new.deleting
                && new.has(finalizer)
                && !old.is_some_and(|o| o.deleting && o.has(finalizer))
        };
        let uid = &new.identity.uid;
        if starts(ORPHAN_FINALIZER) {
            work.attempt_to_orphan.push(uid.clone());
            return;
        }
        if starts(FOREGROUND_FINALIZER) {
            if let Some(n) = self.nodes.get_mut(uid) {
                n.deleting_dependents = true;
                for dep in n.dependents.clone() {
                    work.delete(&dep);
                }
            }
            work.delete(uid);
        }
    }

    /// Make `uid` a dependent of each of `owners`, creating virtual owner
    /// nodes (to be checked) for owners not seen yet.
    fn add_to_owners(
        &mut self,
        uid: &str,
        namespace: &str,
        owners: &[OwnerReference],
        work: &mut Work,
    ) {
        for r in owners {
            let owner = self.nodes.entry(r.uid.clone()).or_insert_with(|| {
                work.delete(&r.uid);
                Node {
                    identity: Identity {
                        api_version: r.api_version.clone(),
                        kind: r.kind.clone(),
                        namespace: namespace.to_string(),
                        name: r.name.clone(),
                        uid: r.uid.clone(),
                    },
                    owners: Vec::new(),
                    dependents: BTreeSet::new(),
                    being_deleted: false,
                    deleting_dependents: false,
                    virtual_: true,
                }
            });
            owner.dependents.insert(uid.to_string());
        }
    }

    /// Take a node out; its dependents must be checked, and owners
    /// waiting for it may now finish.
    fn remove(&mut self, uid: &str, work: &mut Work) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for r in &node.owners {
            if let Some(owner) = self.nodes.get_mut(&r.uid) {
                owner.dependents.remove(uid);
            }
        }
        if !node.dependents.is_empty() {
            work.absent.push(uid.to_string());
        }
        for dep in &node.dependents {
            work.delete(dep);
        }
        for r in &node.owners {
            if self
                .nodes
                .get(&r.uid)
                .is_some_and(|o| o.deleting_dependents)
            {
                work.delete(&r.uid);
            }
        }
    }
}

/// Owner references added, removed, and changed (same UID, other fields).
fn diff_owners(
    old: &[OwnerReference],
    new: &[OwnerReference],
) -> (
    Vec<OwnerReference>,
    Vec<OwnerReference>,
    Vec<(OwnerReference, OwnerReference)>,
) {
    let added = new
        .iter()
        .filter(|n| !old.iter().any(|o| o.uid == n.uid))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.uid == o.uid))
        .cloned()
        .collect();
    let changed = old
        .iter()
        .filter_map(|o| {
            new.iter()
                .find(|n| n.uid == o.uid && *n != o)
                .map(|n| (o.clone(), n.clone()))
        })
        .collect();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str) -> Identity {
        Identity {
            api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.into(),
            kind: kind.into(),
            namespace: "ns".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    fn owner_ref(kind: &str, name: &str, block: bool) -> OwnerReference {
        let i = id(kind, name);
        OwnerReference {
            api_version: i.api_version,
            kind: i.kind,
            name: i.name,
            uid: i.uid,
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn info(kind: &str, name: &str, owners: Vec<OwnerReference>) -> ObjectInfo {
        ObjectInfo {
            identity: id(kind, name),
            owners,
            ..Default::default()
        }
    }

    fn upsert(g: &mut Graph, new: ObjectInfo) -> Work {
        g.apply(Change::Upsert { old: None, new })
    }

    /// deployment d → replicaset rs → pods p1, p2.
    fn tree() -> Graph {
        let mut g = Graph::default();
        upsert(&mut g, info("Deployment", "d", vec![]));
        upsert(
            &mut g,
            info("ReplicaSet", "rs", vec![owner_ref("Deployment", "d", true)]),
        );
        upsert(
            &mut g,
            info("Pod", "p1", vec![owner_ref("ReplicaSet", "rs", true)]),
        );
        upsert(
            &mut g,
            info("Pod", "p2", vec![owner_ref("ReplicaSet", "rs", false)]),
        );
        g
    }

    #[test]
    fn dependents_are_indexed_by_owner_uid() {
        let g = tree();
        assert_eq!(g.len(), 4);
        let deps: Vec<String> = g
            .dependents("uid-rs")
            .into_iter()
            .map(|n| n.identity.name)
            .collect();
        assert_eq!(deps, vec!["p1", "p2"]);
        let blocking: Vec<String> = g
            .blocking_dependents("uid-rs")
            .into_iter()
            .map(|n| n.identity.name)
            .collect();
        assert_eq!(blocking, vec!["p1"]);
    }

    #[test]
    fn an_unseen_owner_is_virtual_and_gets_checked() {
        let mut g = Graph::default();
        let work = upsert(
            &mut g,
            info("Pod", "p", vec![owner_ref("ReplicaSet", "rs", true)]),
        );
        assert_eq!(work.attempt_to_delete, vec!["uid-rs"]);
        assert!(g.get("uid-rs").unwrap().virtual_);
        // Found absent: the virtual node goes, its dependent gets checked.
        let work = g.apply(Change::VirtualDelete("uid-rs".into()));
        assert_eq!(work.attempt_to_delete, vec!["uid-p"]);
        assert_eq!(work.absent, vec!["uid-rs"]);
        assert!(g.get("uid-rs").is_none());
        assert!(g.get("uid-p").is_some());
    }

    #[test]
    fn an_observed_owner_stops_being_virtual() {
        let mut g = Graph::default();
        upsert(
            &mut g,
            info("Pod", "p", vec![owner_ref("ReplicaSet", "rs", true)]),
        );
        let work = upsert(&mut g, info("ReplicaSet", "rs", vec![]));
        assert_eq!(work, Work::default());
        assert!(!g.get("uid-rs").unwrap().virtual_);
        // A virtual delete for a real node is ignored.
        assert_eq!(
            g.apply(Change::VirtualDelete("uid-rs".into())),
            Work::default()
        );
        assert!(g.get("uid-rs").is_some());
    }

    #[test]
    fn deleting_an_owner_queues_its_dependents() {
        let mut g = tree();
        let work = g.apply(Change::Delete(info("Deployment", "d", vec![])));
        assert_eq!(work.attempt_to_delete, vec!["uid-rs"]);
        assert_eq!(work.absent, vec!["uid-d"]);
        let work = g.apply(Change::Delete(info("ReplicaSet", "rs", vec![])));
        assert_eq!(work.attempt_to_delete, vec!["uid-p1", "uid-p2"]);
    }

    #[test]
    fn orphan_and_foreground_finalizers_start_their_work_once() {
        let mut g = tree();
        let mut deleting = info("Deployment", "d", vec![]);
        deleting.deleting = true;
        deleting.finalizers = vec![ORPHAN_FINALIZER.into()];
        let work = g.apply(Change::Upsert {
            old: Some(info("Deployment", "d", vec![])),
            new: deleting.clone(),
        });
        assert_eq!(work.attempt_to_orphan, vec!["uid-d"]);
        let again = g.apply(Change::Upsert {
            old: Some(deleting.clone()),
            new: deleting,
        });
        assert_eq!(again, Work::default());

        let mut g = tree();
        let mut fg = info("ReplicaSet", "rs", vec![owner_ref("Deployment", "d", true)]);
        fg.deleting = true;
        fg.finalizers = vec![FOREGROUND_FINALIZER.into()];
        let work = g.apply(Change::Upsert { old: None, new: fg });
        assert_eq!(work.attempt_to_delete, vec!["uid-p1", "uid-p2", "uid-rs"]);
        assert!(g.get("uid-rs").unwrap().deleting_dependents);
    }

    #[test]
    fn a_waiting_owner_is_rechecked_when_a_blocking_dependent_goes_or_unblocks() {
        let mut g = tree();
        let mut fg = info("ReplicaSet", "rs", vec![owner_ref("Deployment", "d", true)]);
        fg.deleting = true;
        fg.finalizers = vec![FOREGROUND_FINALIZER.into()];
        g.apply(Change::Upsert { old: None, new: fg });

        let work = g.apply(Change::Delete(info(
            "Pod",
            "p1",
            vec![owner_ref("ReplicaSet", "rs", true)],
        )));
        assert_eq!(work.attempt_to_delete, vec!["uid-rs"]);
        assert!(g.blocking_dependents("uid-rs").is_empty());

        // p2 turning its reference into a blocking one and back.
        let block = info("Pod", "p2", vec![owner_ref("ReplicaSet", "rs", true)]);
        g.apply(Change::Upsert {
            old: None,
            new: block,
        });
        assert_eq!(g.blocking_dependents("uid-rs").len(), 1);
        let unblock = info("Pod", "p2", vec![owner_ref("ReplicaSet", "rs", false)]);
        let work = g.apply(Change::Upsert {
            old: None,
            new: unblock,
        });
        assert_eq!(work.attempt_to_delete, vec!["uid-rs"]);
    }

    #[test]
    fn dropping_an_owner_reference_moves_the_dependent() {
        let mut g = tree();
        let released = info("Pod", "p1", vec![]);
        g.apply(Change::Upsert {
            old: None,
            new: released,
        });
        assert_eq!(g.dependents("uid-rs").len(), 1);
        let adopted = info("Pod", "p1", vec![owner_ref("ReplicaSet", "other", true)]);
        let work = g.apply(Change::Upsert {
            old: None,
            new: adopted,
        });
        assert_eq!(
            work.attempt_to_delete,
            vec!["uid-other"],
            "the unseen owner is checked"
        );
        assert_eq!(g.dependents("uid-other").len(), 1);
    }
}
