//! Ownership by controller references, as upstream's
//! `controller_ref_manager.go`: a controller *claims* the objects it
//! should manage — keeps those it owns that still match its selector,
//! adopts matching orphans, releases owned objects that stopped matching —
//! and leaves alone whatever another controller owns.
//!
//! Adoption and release are strategic-merge patches of
//! `metadata.ownerReferences` (merged by `uid`) that also carry the
//! object's own `metadata.uid`: the apiserver refuses a uid change, so the
//! patch can never land on a namesake that replaced the object.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::OnceCell;
use tug_api::meta::{LabelSelector, ObjectMeta, OwnerReference};
use tug_api::selector::Selector;
use tug_api::Resource;
use tug_client::{Api, ApiObject, Client, Patch, PatchParams};

/// Whether a controller with `selector` (its `spec.selector`) would adopt
/// an object labelled `labels`: an absent, invalid or empty selector
/// selects nothing.
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    match selector.map(Selector::from_label_selector) {
        Some(Ok(s)) => !s.is_empty() && s.matches(labels),
        _ => false,
    }
}

/// Store index of objects by the uid of their controller owner.
pub const CONTROLLER_UID_INDEX: &str = "controller-uid";

/// The index function for [`CONTROLLER_UID_INDEX`].
pub fn controller_uid<K: Resource>(obj: &K) -> Vec<String> {
    obj.meta()
        .controller_ref()
        .map(|r| vec![r.uid.clone()])
        .unwrap_or_default()
}

/// Whether `reference` points at an object of kind `O`
/// (`apps/v1` `ReplicaSet`, say; any version of the group counts).
pub fn refers_to<O: Resource>(reference: &OwnerReference) -> bool {
    let group = reference
        .api_version
        .rsplit_once('/')
        .map(|(g, _)| g)
        .unwrap_or("");
    reference.kind == O::KIND && group == O::GROUP
}

/// What claiming does with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: manage it.
    Keep,
    /// An orphan that matches: adopt it, then manage it.
    Adopt,
    /// Ours but no longer matching: remove our controller reference.
    Release,
    /// Someone else's, or nothing to do with us.
    Ignore,
}

/// The claim decision for `obj` by `owner` (`ClaimObject` upstream).
pub fn decide(owner: &ObjectMeta, selector: &Selector, obj: &ObjectMeta) -> Claim {
    let matches = selector.matches(&obj.labels);
    match obj.controller_ref() {
        Some(r) if r.uid != owner.uid => Claim::Ignore,
        Some(_) if matches => Claim::Keep,
        // A controller being deleted lets its objects go to the garbage
        // collector instead of releasing them.
        Some(_) if owner.deletion_timestamp.is_some() => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner.deletion_timestamp.is_some() || !matches => Claim::Ignore,
        None if obj.deletion_timestamp.is_some() => Claim::Ignore,
        None if !owner.namespace.is_empty() && owner.namespace != obj.namespace => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// Claims objects of one kind for one owner `O`.
pub struct RefManager<O: Resource> {
    client: Client,
    owner: Arc<O>,
    selector: Selector,
    /// The uncached re-check that the owner may adopt, done at most once
    /// per claim (`RecheckDeletionTimestamp`).
    can_adopt: OnceCell<Result<(), String>>,
}

impl<O: Resource + ApiObject> RefManager<O> {
    /// A manager claiming for `owner` the objects `selector` matches.
    pub fn new(client: Client, owner: Arc<O>, selector: Selector) -> Self {
        RefManager {
            client,
            owner,
            selector,
            can_adopt: OnceCell::new(),
        }
    }

    /// The objects of `candidates` that belong to the owner after
    /// adopting and releasing as needed. The first failed adoption or
    /// release (other than the object being gone) is the error.
    pub async fn claim<K: Resource + ApiObject>(
        &self,
        candidates: Vec<Arc<K>>,
    ) -> anyhow::Result<Vec<Arc<K>>> {
        let owner = self.owner.meta();
        let mut claimed = Vec::with_capacity(candidates.len());
        let mut first_error = None;
        for obj in candidates {
            let outcome = match decide(owner, &self.selector, obj.meta()) {
                Claim::Keep => Ok(true),
                Claim::Ignore => Ok(false),
                Claim::Adopt => self.adopt(obj.as_ref()).await,
                Claim::Release => self.release(obj.as_ref()).await.map(|()| false),
            };
            match outcome {
                Ok(true) => claimed.push(obj),
                Ok(false) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(claimed),
        }
    }

    /// Re-read the owner from the API server, not the cache: adopting for
    /// an owner that is being deleted (or was replaced by a namesake)
    /// would hand the object to a dying controller.
    async fn check_can_adopt(&self) -> Result<(), String> {
        self.can_adopt
            .get_or_init(|| async {
                let meta = self.owner.meta();
                let api: Api<O> = Api::namespaced(self.client.clone(), &meta.namespace);
                let fresh = api.get(&meta.name).await.map_err(|e| e.to_string())?;
                let fm = fresh.meta();
                if fm.uid != meta.uid {
                    return Err(format!(
                        "original {} {}/{} is gone: got uid {}, wanted {}",
                        O::KIND,
                        meta.namespace,
                        meta.name,
                        fm.uid,
                        meta.uid
                    ));
                }
                if let Some(at) = &fm.deletion_timestamp {
                    return Err(format!(
                        "{}/{} has just been deleted at {at}",
                        meta.namespace, meta.name
                    ));
                }
                Ok(())
            })
            .await
            .clone()
    }

    /// Add the owner as controller; `Ok(false)` when the object is gone.
    async fn adopt<K: Resource + ApiObject>(&self, obj: &K) -> anyhow::Result<bool> {
        self.check_can_adopt()
            .await
            .map_err(|e| anyhow::anyhow!("can't adopt {} {}: {e}", K::KIND, obj.meta().name))?;
        let reference = OwnerReference::controller_of(self.owner.as_ref());
        let patch = json!({"metadata": {
            "ownerReferences": [reference],
            "uid": obj.meta().uid,
        }});
        match self
            .api_for(obj)
            .patch(
                &obj.meta().name,
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(anyhow::anyhow!(
                "adopting {} {}: {e}",
                K::KIND,
                obj.meta().name
            )),
        }
    }

    /// Remove the owner's reference. An object that is gone, or has been
    /// replaced (the uid check fails as Invalid), needs no release.
    async fn release<K: Resource + ApiObject>(&self, obj: &K) -> anyhow::Result<()> {
        let patch = json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": self.owner.meta().uid}],
            "uid": obj.meta().uid,
        }});
        match self
            .api_for(obj)
            .patch(
                &obj.meta().name,
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_invalid() => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "releasing {} {}: {e}",
                K::KIND,
                obj.meta().name
            )),
        }
    }

    fn api_for<K: Resource + ApiObject>(&self, obj: &K) -> Api<K> {
        Api::namespaced(self.client.clone(), &obj.meta().namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::apps::ReplicaSet;
    use tug_api::meta::Time;

    fn meta(ns: &str, uid: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: format!("obj-{uid}"),
            namespace: ns.into(),
            uid: uid.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn owned_by(mut m: ObjectMeta, uid: &str) -> ObjectMeta {
        m.owner_references.push(OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "rs".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        });
        m
    }

    #[test]
    fn claim_decisions() {
        let owner = meta("ns", "rs-1", &[]);
        let sel = Selector::parse("app=web").unwrap();
        let web = meta("ns", "p", &[("app", "web")]);
        let db = meta("ns", "p", &[("app", "db")]);

        assert_eq!(decide(&owner, &sel, &web), Claim::Adopt);
        assert_eq!(decide(&owner, &sel, &db), Claim::Ignore);
        assert_eq!(
            decide(&owner, &sel, &owned_by(web.clone(), "rs-1")),
            Claim::Keep
        );
        assert_eq!(
            decide(&owner, &sel, &owned_by(db.clone(), "rs-1")),
            Claim::Release
        );
        // Another controller's pods are never touched.
        assert_eq!(
            decide(&owner, &sel, &owned_by(web.clone(), "rs-2")),
            Claim::Ignore
        );
        assert_eq!(
            decide(&owner, &sel, &owned_by(db.clone(), "rs-2")),
            Claim::Ignore
        );
        // Orphans being deleted or in another namespace are not adopted.
        let mut dying = web.clone();
        dying.deletion_timestamp = Some(Time::now());
        assert_eq!(decide(&owner, &sel, &dying), Claim::Ignore);
        assert_eq!(
            decide(&owner, &sel, &meta("other", "p", &[("app", "web")])),
            Claim::Ignore
        );

        // An owner being deleted neither adopts nor releases.
        let mut deleting = owner.clone();
        deleting.deletion_timestamp = Some(Time::now());
        assert_eq!(decide(&deleting, &sel, &web), Claim::Ignore);
        assert_eq!(
            decide(&deleting, &sel, &owned_by(db, "rs-1")),
            Claim::Ignore
        );
        assert_eq!(decide(&deleting, &sel, &owned_by(web, "rs-1")), Claim::Keep);
    }

    #[test]
    fn references_by_kind_and_group() {
        let m = owned_by(meta("ns", "p", &[]), "x");
        let r = m.controller_ref().unwrap();
        assert!(refers_to::<ReplicaSet>(r));
        assert!(!refers_to::<tug_api::apps::Deployment>(r));
        let mut core = r.clone();
        core.api_version = "v1".into();
        assert!(!refers_to::<ReplicaSet>(&core));
        assert_eq!(
            controller_uid(&ReplicaSet {
                metadata: m,
                ..Default::default()
            }),
            vec!["x"]
        );
    }
}
