//! The ReplicaSet controller (`pkg/controller/replicaset` upstream): keeps
//! `spec.replicas` active pods for every ReplicaSet.
//!
//! A sync of one ReplicaSet, all from the informer caches:
//!
//! 1. take its candidate pods — those it controls (by the controller-uid
//!    index) and orphans its selector matches — keeping only active ones;
//! 2. claim them: adopt matching orphans, release owned pods that no
//!    longer match, ignore pods another controller owns ([`crate::util::claim`]);
//! 3. if its [expectations](expectations) are met and it is not being
//!    deleted, [create or delete pods](manage) to match `spec.replicas`;
//! 4. write the [status](status) if it changed, and come back when a
//!    ready pod will have been ready for `minReadySeconds`.

mod expectations;
mod handlers;
mod manage;
mod ranking;
mod status;

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use futures::future::BoxFuture;
use tug_api::apps::{ReplicaSet, ReplicaSetStatus};
use tug_api::core::{is_pod_active, Pod};
use tug_api::selector::Selector;
use tug_client::{run_workers, Action, Api, Client, EventRecorder, PostParams, Store, WorkQueue};

use crate::context::ControllerContext;
use crate::util::claim::{controller_uid, RefManager, CONTROLLER_UID_INDEX};
use crate::util::conflict::settle_conflicts;
use expectations::Expectations;
use handlers::Router;

/// The name events are reported under.
const COMPONENT: &str = "replicaset-controller";

/// Register the ReplicaSet controller's handlers and return its run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue = WorkQueue::new();
    let expectations = Arc::new(Expectations::default());
    let rs_informer = ctx.informers.informer::<ReplicaSet>();
    rs_informer.add_index(CONTROLLER_UID_INDEX, controller_uid::<ReplicaSet>);
    let router = Router {
        replicasets: rs_informer.store(),
        expectations: expectations.clone(),
        queue: queue.clone(),
    };
    let r = router.clone();
    rs_informer.add_handler(move |ev| r.on_replicaset(ev));
    let pod_informer = ctx.informers.informer::<Pod>();
    pod_informer.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
    let r = router.clone();
    pod_informer.add_handler(move |ev| r.on_pod(ev));

    let controller = Arc::new(ReplicaSetController {
        client: ctx.client.clone(),
        replicasets: router.replicasets,
        pods: ctx.informers.store::<Pod>(),
        expectations,
        recorder: ctx.recorder(COMPONENT),
    });
    let workers = ctx.options.concurrent_replicaset_syncs;
    Box::pin(async move {
        controller.replicasets.wait_synced().await;
        controller.pods.wait_synced().await;
        tracing::info!(workers, "replicaset controller synced and running");
        run_workers("replicaset", queue, workers, move |key| {
            let c = controller.clone();
            async move { c.sync(&key).await }
        })
        .await;
    })
}

/// The controller's shared state; workers sync keys concurrently (never
/// the same key twice at once).
pub(crate) struct ReplicaSetController {
    client: Client,
    replicasets: Store<ReplicaSet>,
    pods: Store<Pod>,
    expectations: Arc<Expectations>,
    recorder: EventRecorder,
}

impl ReplicaSetController {
    /// Reconcile the ReplicaSet `key` (`namespace/name`).
    async fn sync(&self, key: &str) -> anyhow::Result<Action> {
        settle_conflicts("replicaset", key, self.sync_replica_set(key).await)
    }

    async fn sync_replica_set(&self, key: &str) -> anyhow::Result<Action> {
        let Some(rs) = self.replicasets.get(key) else {
            self.expectations.delete(key);
            return Ok(Action::Done);
        };
        let selector = match rs.spec.selector.as_ref().map(Selector::from_label_selector) {
            Some(Ok(s)) => s,
            // The apiserver validates selectors; one it let through that we
            // cannot read will not get better by retrying.
            other => {
                tracing::warn!(replicaset = key, error = ?other.and_then(Result::err), "invalid selector; not syncing");
                return Ok(Action::Done);
            }
        };
        // Read the expectations before the pods: an event that lands in
        // between can only make the pods newer than the expectations.
        let needs_sync = self.expectations.satisfied(key);
        if !needs_sync {
            tracing::trace!(replicaset = key, pending = ?self.expectations.pending(key), "waiting for the cache to catch up");
        }
        let candidates = self.candidate_pods(&rs, &selector);
        let manager = RefManager::new(self.client.clone(), rs.clone(), selector);
        let mut pods = manager.claim(candidates).await?;

        let manage_error = if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            self.manage_replicas(&rs, &mut pods).await.err()
        } else {
            None
        };
        let now = Utc::now();
        let new_status = status::calculate_status(&rs, &pods, manage_error.as_deref(), now);
        if status::status_needs_write(&rs, &new_status) {
            self.write_status(&rs, new_status).await?;
        }
        if let Some(e) = manage_error {
            anyhow::bail!(e);
        }
        Ok(match status::next_available_in(&rs, &pods, now) {
            Some(wait) => Action::RequeueAfter(wait),
            None => Action::Done,
        })
    }

    /// Active pods `rs` controls or might adopt: those indexed under its
    /// uid plus the orphans in its namespace that its selector matches.
    fn candidate_pods(&self, rs: &ReplicaSet, selector: &Selector) -> Vec<Arc<Pod>> {
        let mut pods = self.pods.by_index(CONTROLLER_UID_INDEX, &rs.metadata.uid);
        if !selector.is_empty() {
            pods.extend(
                self.pods
                    .select(Some(&rs.metadata.namespace), selector)
                    .into_iter()
                    .filter(|p| p.metadata.controller_ref().is_none()),
            );
        }
        pods.retain(|p| is_pod_active(p));
        pods
    }

    /// Write `status` with the generation this sync acted on; after a
    /// conflict, once more on a fresh copy (`updateReplicaSetStatus`).
    async fn write_status(
        &self,
        rs: &ReplicaSet,
        mut status: ReplicaSetStatus,
    ) -> anyhow::Result<()> {
        status.observed_generation = rs.metadata.generation;
        let (ns, name) = (rs.metadata.namespace.as_str(), rs.metadata.name.as_str());
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), ns);
        let mut target = rs.clone();
        target.status = status.clone();
        match api
            .replace_status(name, &PostParams::default(), &target)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_conflict() => {
                let mut fresh = api.get(name).await.context("re-reading the ReplicaSet")?;
                fresh.status = status;
                api.replace_status(name, &PostParams::default(), &fresh)
                    .await
                    .map(|_| ())
                    .context("updating the ReplicaSet status")
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e).context("updating the ReplicaSet status"),
        }
    }
}
