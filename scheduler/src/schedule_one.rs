//! One pass of the scheduling loop (upstream `ScheduleOne`): take a pod
//! from the queue, re-read it from the informer cache, decide under the
//! cache lock and assume it there, then hand it to the binder — or, when
//! no node fits, say why (event + PodScheduled condition) and park it.

use std::sync::{Arc, Mutex};

use tug_api::core::Pod;
use tug_client::{Client, EventRecorder, Store};

use crate::algorithm::{Algorithm, Placement};
use crate::binder::Binder;
use crate::cache::Cache;
use crate::framework::FitError;
use crate::handlers::is_responsible;
use crate::pod_info::PodInfo;
use crate::queue::{QueuedPod, SchedulingQueue};
use crate::status::set_unschedulable;

/// Everything a scheduling pass needs.
pub struct ScheduleOne {
    /// For status writes.
    pub client: Client,
    /// Which pods are ours.
    pub scheduler_name: String,
    /// Nodes and counted pods.
    pub cache: Arc<Mutex<Cache>>,
    /// Waiting pods.
    pub queue: Arc<SchedulingQueue>,
    /// The pod informer's store (the latest state of each pod).
    pub pods: Store<Pod>,
    /// The decision procedure.
    pub algorithm: Algorithm,
    /// Sends bindings.
    pub binder: Binder,
    /// Records Scheduled / FailedScheduling.
    pub events: EventRecorder,
}

/// What one decision came to.
enum Decision {
    /// Placed and assumed.
    Placed(Placement),
    /// No node fits.
    Unfit(FitError),
    /// Nothing to do (assumed or bound already).
    Skip,
}

impl ScheduleOne {
    /// Schedule one popped pod.
    pub async fn run(&mut self, popped: QueuedPod) {
        // The queue's copy may be stale: decide on the informer's latest.
        let Some(pod) = self.pods.get(&popped.key) else {
            self.queue.delete(&popped.key);
            return;
        };
        if !is_responsible(&self.scheduler_name, &pod) {
            self.queue.delete(&popped.key);
            return;
        }
        let info = Arc::new(PodInfo::new(pod.clone()));
        match self.decide(&info) {
            Decision::Skip => self.queue.done(&popped.key),
            Decision::Placed(placement) => {
                tracing::debug!(
                    pod = %popped.key,
                    node = %placement.node,
                    evaluated = placement.evaluated,
                    feasible = placement.feasible,
                    "placed"
                );
                self.queue.done(&popped.key);
                self.binder
                    .bind(info, placement.node, popped.attempts)
                    .await;
            }
            Decision::Unfit(fit) => {
                let message = fit.to_string();
                tracing::info!(pod = %popped.key, attempts = popped.attempts, %message, "unschedulable");
                self.events
                    .warning(pod.as_ref(), "FailedScheduling", message.clone());
                let client = self.client.clone();
                tokio::spawn(async move { set_unschedulable(client, &pod, &message).await });
                self.queue.add_unschedulable(&popped);
            }
        }
    }

    /// Choose a node and assume the pod there, under one cache lock so no
    /// other change slips in between.
    fn decide(&mut self, info: &Arc<PodInfo>) -> Decision {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.contains_pod(&info.uid) {
            return Decision::Skip;
        }
        match self.algorithm.schedule(&cache, info) {
            Ok(placement) => match cache.assume(info.clone(), &placement.node) {
                Ok(()) => Decision::Placed(placement),
                // Cannot happen under the lock; skip rather than double-count.
                Err(e) => {
                    tracing::error!(pod = %info.key, error = ?e, "could not assume the pod");
                    Decision::Skip
                }
            },
            Err(fit) => Decision::Unfit(fit),
        }
    }
}
