//! The garbage collector (upstream `pkg/controller/garbagecollector`):
//! deletes objects whose owners are all gone, and carries out the
//! `orphan` and `foregroundDeletion` finalizers the apiserver puts on an
//! owner deleted with `propagationPolicy: Orphan` or `Foreground`.
//! (Background deletion needs nothing more: the owner goes at once and
//! its dependents become garbage.)
//!
//! Every kind the cluster serves with owner references is monitored
//! through the shared informers (Events excepted, as upstream) and fed
//! into the ownership [`graph`]. Two queues of UIDs drive the work:
//!
//! - *attempt to delete*: re-read the object without the cache, look each
//!   owner up by name and UID (an owner the cache has not seen may well
//!   exist), then [`decide`](decision::decide);
//! - *attempt to orphan*: remove the owner's reference from each of its
//!   dependents, then the owner's `orphan` finalizer.

mod decision;
mod graph;
mod resources;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::coordination::Lease;
use tug_api::core::{ConfigMap, Endpoints, Namespace, Node, Pod, Secret, Service};
use tug_api::{ObjectMeta, OwnerReference, Resource};
use tug_client::{
    Action, ApiObject, ApiResource, Client, DeleteParams, DynamicApi, Event, InformerFactory,
    Patch, PatchParams, Preconditions, PropagationPolicy, WorkQueue,
};

use crate::context::ControllerContext;
use decision::{decide, Decision, OwnerState};
use graph::{Change, Graph, Identity, ObjectInfo, Work, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use resources::Resources;

/// Attempts at a read-modify-write when the object keeps changing.
const WRITE_ATTEMPTS: usize = 5;
/// Dependents orphaned concurrently.
const ORPHAN_CONCURRENCY: usize = 16;
/// UIDs remembered (absent, orphaned) before the memory is reset.
const ABSENT_MEMORY: usize = 10_000;
/// The longest wait between checks of an owner known only from references.
const MAX_VIRTUAL_POLL: Duration = Duration::from_secs(300);

/// Register the monitors and return the collector's run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let gc = Arc::new(GarbageCollector {
        client: ctx.client.clone(),
        graph: Mutex::new(Graph::default()),
        absent: Mutex::new(HashSet::new()),
        orphaned: Mutex::new(HashSet::new()),
        resources: Resources::new(ctx.client.clone()),
        attempt_to_delete: WorkQueue::new(),
        attempt_to_orphan: WorkQueue::new(),
        virtual_polls: Mutex::new(HashMap::new()),
    });
    let mut monitors = Monitors::default();
    monitors.add::<Pod>(&gc, &mut ctx.informers);
    monitors.add::<ReplicaSet>(&gc, &mut ctx.informers);
    monitors.add::<Deployment>(&gc, &mut ctx.informers);
    monitors.add::<ConfigMap>(&gc, &mut ctx.informers);
    monitors.add::<Secret>(&gc, &mut ctx.informers);
    monitors.add::<Service>(&gc, &mut ctx.informers);
    monitors.add::<Endpoints>(&gc, &mut ctx.informers);
    monitors.add::<Lease>(&gc, &mut ctx.informers);
    monitors.add::<Node>(&gc, &mut ctx.informers);
    monitors.add::<Namespace>(&gc, &mut ctx.informers);
    let workers = ctx.options.concurrent_gc_syncs;
    async move {
        futures::future::join_all(monitors.synced).await;
        // The informers mark a store synced before handing its first
        // list to handlers: load every store into the graph, so that no
        // decision is taken on a half-built graph.
        for prime in &monitors.primes {
            prime(&gc);
        }
        tracing::info!(objects = gc.graph().len(), "garbage collector graph built");
        let (d, o) = (gc.clone(), gc.clone());
        futures::join!(
            tug_client::run_workers(
                "garbagecollector",
                gc.attempt_to_delete.clone(),
                workers,
                move |uid| {
                    let gc = d.clone();
                    async move { gc.attempt_to_delete_item(&uid).await }
                }
            ),
            tug_client::run_workers(
                "garbagecollector-orphan",
                gc.attempt_to_orphan.clone(),
                workers,
                move |uid| {
                    let gc = o.clone();
                    async move { gc.attempt_to_orphan(&uid).await }
                }
            ),
        );
    }
    .boxed()
}

/// Add `uid` to a bounded memory of UIDs (forgetting everything when
/// full only costs a GET later).
fn remember(set: &mut HashSet<String>, uid: &str) {
    if set.len() >= ABSENT_MEMORY {
        set.clear();
    }
    set.insert(uid.to_string());
}

/// What the graph needs to know of an object.
fn info_of<K: Resource>(obj: &K) -> ObjectInfo {
    let meta = obj.meta();
    ObjectInfo {
        identity: Identity {
            api_version: K::api_version(),
            kind: K::KIND.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            uid: meta.uid.clone(),
        },
        owners: meta.owner_references.clone(),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone(),
    }
}

type Prime = Box<dyn Fn(&GarbageCollector) + Send + Sync>;

/// The monitored kinds: their sync waits and graph loaders.
#[derive(Default)]
struct Monitors {
    synced: Vec<BoxFuture<'static, ()>>,
    primes: Vec<Prime>,
}

impl Monitors {
    fn add<K: Resource + ApiObject>(
        &mut self,
        gc: &Arc<GarbageCollector>,
        informers: &mut InformerFactory,
    ) {
        gc.resources.register(ApiResource::of::<K>());
        let g = gc.clone();
        informers.informer::<K>().add_handler(move |ev| {
            if ev.is_resync() {
                return;
            }
            let change = match ev {
                Event::Added(o) => Change::Upsert {
                    old: None,
                    new: info_of(&**o),
                },
                Event::Updated { old, new } => Change::Upsert {
                    old: Some(info_of(&**old)),
                    new: info_of(&**new),
                },
                Event::Deleted(o) => Change::Delete(info_of(&**o)),
            };
            g.apply(change);
        });
        let store = informers.store::<K>();
        let waiting = store.clone();
        self.synced
            .push(async move { waiting.wait_synced().await }.boxed());
        self.primes.push(Box::new(move |gc: &GarbageCollector| {
            for obj in store.list() {
                gc.apply(Change::Upsert {
                    old: None,
                    new: info_of(&*obj),
                });
            }
        }));
    }
}

struct GarbageCollector {
    client: Client,
    graph: Mutex<Graph>,
    /// UIDs known not to exist (a UID never comes back).
    absent: Mutex<HashSet<String>>,
    /// UIDs of owners this collector orphaned the dependents of.
    orphaned: Mutex<HashSet<String>>,
    resources: Resources,
    attempt_to_delete: WorkQueue<String>,
    attempt_to_orphan: WorkQueue<String>,
    /// How often each still-virtual node has been checked.
    virtual_polls: Mutex<HashMap<String, u32>>,
}

/// An object's metadata as the API has it now.
struct Latest {
    meta: ObjectMeta,
}

impl GarbageCollector {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn absent(&self) -> MutexGuard<'_, HashSet<String>> {
        self.absent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember_absent(&self, uid: &str) {
        remember(&mut self.absent(), uid);
    }

    fn orphaned(&self) -> MutexGuard<'_, HashSet<String>> {
        self.orphaned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply a change to the graph and queue the work it causes.
    fn apply(&self, change: Change) {
        let work = self.graph().apply(change);
        self.dispatch(work);
    }

    fn dispatch(&self, work: Work) {
        for uid in &work.absent {
            self.remember_absent(uid);
        }
        for uid in work.attempt_to_delete {
            self.attempt_to_delete.add(uid);
        }
        for uid in work.attempt_to_orphan {
            self.attempt_to_orphan.add(uid);
        }
    }

    /// The API of an object's kind, in its namespace.
    async fn api_for(&self, identity: &Identity) -> anyhow::Result<(DynamicApi, ApiResource)> {
        let resource = self
            .resources
            .resolve(&identity.api_version, &identity.kind)
            .await?;
        let api = DynamicApi::namespaced_with(self.client.clone(), &identity.namespace, &resource);
        Ok((api, resource))
    }

    /// The object as stored now; `None` if it does not exist.
    async fn get_latest(&self, api: &DynamicApi, name: &str) -> anyhow::Result<Option<Latest>> {
        let Some(obj) = api.get_opt(name).await? else {
            return Ok(None);
        };
        let meta: ObjectMeta =
            serde_json::from_value(obj.get("metadata").cloned().unwrap_or(Value::Null))
                .context("decoding an object's metadata")?;
        Ok(Some(Latest { meta }))
    }

    async fn attempt_to_delete_item(&self, uid: &str) -> anyhow::Result<Action> {
        let Some(item) = self.graph().get(uid).cloned() else {
            return Ok(Action::Done);
        };
        // Being deleted is a one-way trip: wait for it to finish, then
        // its dependents are looked at.
        if item.being_deleted && !item.deleting_dependents {
            return Ok(Action::Done);
        }
        let (api, _) = self.api_for(&item.identity).await?;
        let latest = match self.get_latest(&api, &item.identity.name).await? {
            Some(l) if l.meta.uid == uid => l,
            // Gone, or a namesake: the graph's node is not real.
            _ => {
                self.apply(Change::VirtualDelete(uid.to_string()));
                return Ok(Action::Done);
            }
        };
        if item.deleting_dependents {
            self.finish_foreground(&item, &api).await?;
            return Ok(self.poll_if_virtual(uid));
        }
        let refs = &latest.meta.owner_references;
        if refs.is_empty() {
            return Ok(self.poll_if_virtual(uid));
        }
        let mut classified = Vec::with_capacity(refs.len());
        for r in refs {
            let state = self.owner_state(r, &item.identity.namespace).await?;
            classified.push((r.clone(), state));
        }
        let dependents = self.graph().dependents(uid);
        let decision = decide(
            &classified,
            &latest.meta.finalizers,
            !dependents.is_empty(),
            dependents.iter().any(|d| d.deleting_dependents),
        );
        let name = &item.identity.name;
        match decision {
            Decision::Keep => {}
            Decision::RemoveOwnerRefs(gone) => {
                tracing::info!(object = %item.identity.describe(), owners = ?gone, "removing references to owners that are gone");
                self.update_owner_refs(&api, name, uid, |refs| {
                    refs.retain(|r| !gone.contains(&r.uid));
                })
                .await?;
            }
            Decision::DeleteForeground { unblock } => {
                if unblock {
                    self.update_owner_refs(&api, name, uid, |refs| {
                        for r in refs.iter_mut() {
                            if r.block_owner_deletion == Some(true) {
                                r.block_owner_deletion = Some(false);
                            }
                        }
                    })
                    .await?;
                }
                self.delete(&api, &item.identity, PropagationPolicy::Foreground)
                    .await?;
            }
            Decision::Delete(policy) => self.delete(&api, &item.identity, policy).await?,
        }
        Ok(self.poll_if_virtual(uid))
    }

    /// An owner known only from references is checked again (backing
    /// off) until its informer reports it.
    fn poll_if_virtual(&self, uid: &str) -> Action {
        let mut polls = self.virtual_polls.lock().unwrap_or_else(|p| p.into_inner());
        if !self.graph().get(uid).is_some_and(|n| n.virtual_) {
            polls.remove(uid);
            return Action::Done;
        }
        let n = polls.entry(uid.to_string()).or_insert(0);
        *n += 1;
        let delay = Duration::from_millis(100)
            .saturating_mul(1 << (*n).min(12))
            .min(MAX_VIRTUAL_POLL);
        Action::RequeueAfter(delay)
    }

    /// Classify one owner reference of an object in `namespace`.
    async fn owner_state(&self, r: &OwnerReference, namespace: &str) -> anyhow::Result<OwnerState> {
        if self.orphaned().contains(&r.uid) {
            return Ok(OwnerState::Orphaned);
        }
        if self.absent().contains(&r.uid) {
            return Ok(OwnerState::Dangling);
        }
        let resource = self.resources.resolve(&r.api_version, &r.kind).await?;
        if resource.namespaced && namespace.is_empty() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            return Ok(OwnerState::Dangling);
        }
        let api = DynamicApi::namespaced_with(self.client.clone(), namespace, &resource);
        let owner = match self.get_latest(&api, &r.name).await? {
            Some(o) if o.meta.uid == r.uid => o,
            _ => {
                self.remember_absent(&r.uid);
                return Ok(OwnerState::Dangling);
            }
        };
        let waiting = owner.meta.deletion_timestamp.is_some()
            && owner
                .meta
                .finalizers
                .iter()
                .any(|f| f == FOREGROUND_FINALIZER);
        Ok(if waiting {
            OwnerState::WaitingForDependents
        } else {
            OwnerState::Solid
        })
    }

    /// An owner deleted in the foreground: once no dependent blocks it,
    /// drop the finalizer (the apiserver then deletes it); until then,
    /// push its blocking dependents towards deletion.
    async fn finish_foreground(&self, item: &graph::Node, api: &DynamicApi) -> anyhow::Result<()> {
        let blocking = self.graph().blocking_dependents(&item.identity.uid);
        if blocking.is_empty() {
            tracing::info!(object = %item.identity.describe(), "dependents gone; finishing foreground deletion");
            return self
                .remove_finalizer(api, &item.identity, FOREGROUND_FINALIZER)
                .await;
        }
        for dep in blocking.iter().filter(|d| !d.deleting_dependents) {
            self.attempt_to_delete.add(dep.identity.uid.clone());
        }
        Ok(())
    }

    async fn delete(
        &self,
        api: &DynamicApi,
        identity: &Identity,
        policy: PropagationPolicy,
    ) -> anyhow::Result<()> {
        tracing::info!(object = %identity.describe(), propagation = policy.as_str(), "deleting object whose owners are gone");
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(identity.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&identity.name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {}", identity.describe())),
        }
    }

    /// Read-modify-write of an object's owner references, pinned to the
    /// resourceVersion read and to the object's UID.
    async fn update_owner_refs(
        &self,
        api: &DynamicApi,
        name: &str,
        uid: &str,
        change: impl Fn(&mut Vec<OwnerReference>),
    ) -> anyhow::Result<()> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(latest) = self.get_latest(api, name).await? else {
                return Ok(());
            };
            if latest.meta.uid != uid {
                return Ok(());
            }
            let mut refs = latest.meta.owner_references.clone();
            change(&mut refs);
            if refs == latest.meta.owner_references {
                return Ok(());
            }
            let patch = Patch::Merge(json!({"metadata": {
                "resourceVersion": latest.meta.resource_version,
                "ownerReferences": refs,
            }}));
            match api.patch(name, &PatchParams::default(), &patch).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e).context("updating owner references"),
            }
        }
        anyhow::bail!("{name} kept changing while its owner references were updated")
    }

    /// Remove `finalizer` from the object, pinned to what was read.
    async fn remove_finalizer(
        &self,
        api: &DynamicApi,
        identity: &Identity,
        finalizer: &str,
    ) -> anyhow::Result<()> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(latest) = self.get_latest(api, &identity.name).await? else {
                return Ok(());
            };
            if latest.meta.uid != identity.uid
                || !latest.meta.finalizers.iter().any(|f| f == finalizer)
            {
                return Ok(());
            }
            let rest: Vec<&String> = latest
                .meta
                .finalizers
                .iter()
                .filter(|f| *f != finalizer)
                .collect();
            let patch = Patch::Merge(json!({"metadata": {
                "resourceVersion": latest.meta.resource_version,
                "finalizers": rest,
            }}));
            match api
                .patch(&identity.name, &PatchParams::default(), &patch)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("removing the {finalizer} finalizer"))
                }
            }
        }
        anyhow::bail!(
            "{} kept changing while its finalizer was removed",
            identity.describe()
        )
    }

    /// Orphan the dependents of an owner deleted with the `orphan`
    /// finalizer, then remove the finalizer.
    async fn attempt_to_orphan(&self, owner_uid: &str) -> anyhow::Result<Action> {
        let (owner, dependents) = {
            let graph = self.graph();
            let Some(owner) = graph.get(owner_uid).cloned() else {
                return Ok(Action::Done);
            };
            (owner, graph.dependents(owner_uid))
        };
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(dependents)
            .map(|dep| async move {
                let (api, _) = self.api_for(&dep.identity).await?;
                self.update_owner_refs(&api, &dep.identity.name, &dep.identity.uid, |refs| {
                    refs.retain(|r| r.uid != owner_uid);
                })
                .await
            })
            .buffer_unordered(ORPHAN_CONCURRENCY)
            .collect()
            .await;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err().map(|e| format!("{e:#}")))
            .collect();
        if !failed.is_empty() {
            anyhow::bail!(
                "orphaning the dependents of {}: {}",
                owner.identity.describe(),
                failed.join("; ")
            );
        }
        // Dependents the graph has not seen yet (their kind's watch lags)
        // will find this owner gone; remembering it makes them lose the
        // reference instead of being collected.
        remember(&mut self.orphaned(), owner_uid);
        let (api, _) = self.api_for(&owner.identity).await?;
        self.remove_finalizer(&api, &owner.identity, ORPHAN_FINALIZER)
            .await?;
        tracing::info!(object = %owner.identity.describe(), "dependents orphaned");
        Ok(Action::Done)
    }
}
