//! The Deployment controller (`pkg/controller/deployment` upstream): rolls
//! a Deployment's pod template out through ReplicaSets, one per template
//! revision.
//!
//! A sync of one Deployment, from the informer caches:
//!
//! 1. claim its ReplicaSets (adopt matching orphans, release those that
//!    stopped matching — [`crate::util::claim`]);
//! 2. being deleted → status only;
//! 3. record pause/resume on the Progressing condition;
//! 4. paused → scale and history cleanup only; a scaling event (an active
//!    ReplicaSet sized for another `spec.replicas`) → [proportional
//!    scaling](proportional);
//! 5. else the strategy: one [rolling](rolling) step, or
//!    [Recreate](recreate);
//! 6. status and [conditions](progress), coming back at the progress
//!    deadline when a rollout stalls.
//!
//! The pure pieces ([`replicas`], [`annotations`], [`rolling`],
//! [`proportional`], [`progress`], [`cleanup`], [`recreate`]) hold the
//! arithmetic; [`sync`] does the writes.

mod annotations;
mod cleanup;
mod handlers;
mod progress;
mod proportional;
mod recreate;
mod replicas;
mod rolling;
mod sync;

use std::sync::Arc;

use futures::future::BoxFuture;
use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::core::Pod;
use tug_api::selector::Selector;
use tug_client::{run_workers, Action, Api, Client, EventRecorder, PostParams, Store, WorkQueue};

use crate::context::ControllerContext;
use crate::util::claim::{controller_uid, RefManager, CONTROLLER_UID_INDEX};
use crate::util::conflict::settle_conflicts;
use handlers::Router;
use replicas::RECREATE;
use sync::DeploymentSync;

/// The name events are reported under.
const COMPONENT: &str = "deployment-controller";

/// Register the Deployment controller's handlers and return its run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue = WorkQueue::new();
    let deployments = ctx.informers.store::<Deployment>();
    let rs_informer = ctx.informers.informer::<ReplicaSet>();
    rs_informer.add_index(CONTROLLER_UID_INDEX, controller_uid::<ReplicaSet>);
    let replicasets = rs_informer.store();
    let pod_informer = ctx.informers.informer::<Pod>();
    pod_informer.add_index(CONTROLLER_UID_INDEX, controller_uid::<Pod>);
    let pods = pod_informer.store();

    let router = Router {
        deployments: deployments.clone(),
        replicasets: replicasets.clone(),
        queue: queue.clone(),
    };
    let r = router.clone();
    ctx.informers
        .informer::<Deployment>()
        .add_handler(move |ev| r.on_deployment(ev));
    let r = router.clone();
    ctx.informers
        .informer::<ReplicaSet>()
        .add_handler(move |ev| r.on_replicaset(ev));
    let r = router;
    ctx.informers
        .informer::<Pod>()
        .add_handler(move |ev| r.on_pod(ev));

    let controller = Arc::new(DeploymentController {
        client: ctx.client.clone(),
        deployments,
        replicasets,
        pods,
        recorder: ctx.recorder(COMPONENT),
    });
    let workers = ctx.options.concurrent_deployment_syncs;
    Box::pin(async move {
        controller.deployments.wait_synced().await;
        controller.replicasets.wait_synced().await;
        controller.pods.wait_synced().await;
        tracing::info!(workers, "deployment controller synced and running");
        run_workers("deployment", queue, workers, move |key| {
            let c = controller.clone();
            async move { c.sync(&key).await }
        })
        .await;
    })
}

/// The controller's shared state.
pub(crate) struct DeploymentController {
    client: Client,
    deployments: Store<Deployment>,
    replicasets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: EventRecorder,
}

impl DeploymentController {
    /// Reconcile the Deployment `key` (`namespace/name`).
    async fn sync(&self, key: &str) -> anyhow::Result<Action> {
        settle_conflicts("deployment", key, self.sync_deployment(key).await)
    }

    async fn sync_deployment(&self, key: &str) -> anyhow::Result<Action> {
        let Some(d) = self.deployments.get(key) else {
            return Ok(Action::Done);
        };
        let selector = match d.spec.selector.as_ref().map(Selector::from_label_selector) {
            Some(Ok(s)) if !s.is_empty() => s,
            Some(Ok(_)) => return self.refuse_selecting_all(&d).await,
            other => {
                tracing::warn!(deployment = key, error = ?other.and_then(Result::err), "invalid selector; not syncing");
                return Ok(Action::Done);
            }
        };
        let sets = self.claim_replica_sets(&d, selector).await?;
        let mut s = DeploymentSync::new(self, (*d).clone(), sets);
        if d.metadata.deletion_timestamp.is_some() {
            return s.sync_status_only().await;
        }
        s.check_paused_conditions().await?;
        if s.deployment().spec.paused || s.is_scaling_event().await? {
            return s.sync_scale().await;
        }
        if s.deployment().spec.strategy.type_ == RECREATE {
            s.rollout_recreate().await
        } else {
            s.rollout_rolling().await
        }
    }

    /// The ReplicaSets `d` owns after adopting and releasing: those it
    /// controls (by uid) and orphans its selector matches.
    async fn claim_replica_sets(
        &self,
        d: &Arc<Deployment>,
        selector: Selector,
    ) -> anyhow::Result<Vec<ReplicaSet>> {
        let mut candidates = self
            .replicasets
            .by_index(CONTROLLER_UID_INDEX, &d.metadata.uid);
        candidates.extend(
            self.replicasets
                .select(Some(&d.metadata.namespace), &selector)
                .into_iter()
                .filter(|rs| rs.metadata.controller_ref().is_none()),
        );
        let manager = RefManager::new(self.client.clone(), d.clone(), selector);
        let claimed = manager.claim(candidates).await?;
        Ok(claimed.iter().map(|rs| (**rs).clone()).collect())
    }

    /// An empty selector would take every pod of the namespace: say so,
    /// and only acknowledge the generation.
    async fn refuse_selecting_all(&self, d: &Deployment) -> anyhow::Result<Action> {
        self.recorder.warning(
            d,
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.",
        );
        if d.status.observed_generation < d.metadata.generation {
            let mut target = d.clone();
            target.status.observed_generation = d.metadata.generation;
            let api: Api<Deployment> = Api::namespaced(self.client.clone(), &d.metadata.namespace);
            api.replace_status(&d.metadata.name, &PostParams::default(), &target)
                .await?;
        }
        Ok(Action::Done)
    }
}
