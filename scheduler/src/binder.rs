//! Binding placed pods to their nodes through `POST pods/{name}/binding`,
//! off the scheduling loop: each binding runs on its own task, at most
//! `bind_concurrency` at once, so the loop decides the next pod while
//! earlier bindings are in flight (the assume cache keeps the decisions
//! honest meanwhile).
//!
//! Outcomes: success → a `Scheduled` event (the informer confirms the
//! assumption when it sees the pod bound); 409 Conflict (bound already,
//! being deleted, a different UID) or 404 → the assumption is dropped
//! quietly, the informer tells the truth; any other error → the assumption
//! is forgotten and the pod is queued again with backoff.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::Semaphore;
use tug_api::core::Pod;
use tug_api::Status;
use tug_client::{Api, Client, EventRecorder, PostParams};

use crate::cache::Cache;
use crate::pod_info::PodInfo;
use crate::queue::SchedulingQueue;

/// Sends bindings, bounded.
#[derive(Clone)]
pub struct Binder {
    client: Client,
    slots: Arc<Semaphore>,
    cache: Arc<Mutex<Cache>>,
    queue: Arc<SchedulingQueue>,
    events: EventRecorder,
}

impl Binder {
    /// A binder allowing `concurrency` bindings in flight.
    pub fn new(
        client: Client,
        concurrency: usize,
        cache: Arc<Mutex<Cache>>,
        queue: Arc<SchedulingQueue>,
        events: EventRecorder,
    ) -> Binder {
        Binder {
            client,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            cache,
            queue,
            events,
        }
    }

    /// Bind `pod` (already assumed on `node`) in the background. Waits only
    /// for a free slot when `concurrency` bindings are in flight.
    pub async fn bind(&self, pod: Arc<PodInfo>, node: String, attempts: u32) {
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            this.bind_now(&pod, &node, attempts).await;
            drop(permit);
        });
    }

    async fn bind_now(&self, info: &PodInfo, node: &str, attempts: u32) {
        let pod: &Pod = &info.pod;
        let (ns, name) = (&pod.metadata.namespace, &pod.metadata.name);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        let result: tug_client::Result<Status> = api
            .create_subresource(name, "binding", &PostParams::default(), &binding)
            .await;
        match result {
            Ok(_) => {
                tracing::debug!(pod = %info.key, node, "bound");
                self.events.normal(
                    pod,
                    "Scheduled",
                    format!("Successfully assigned {ns}/{name} to {node}"),
                );
            }
            Err(e) if e.is_conflict() || e.is_not_found() => {
                tracing::debug!(pod = %info.key, node, error = %e, "binding refused; dropping the assumption");
                self.forget(info);
            }
            Err(e) => {
                tracing::warn!(pod = %info.key, node, error = %e, "binding failed; retrying with backoff");
                self.forget(info);
                self.events
                    .warning(pod, "FailedScheduling", format!("Binding rejected: {e}"));
                self.queue
                    .requeue_after_bind_error(info.pod.clone(), attempts);
            }
        }
    }

    fn forget(&self, info: &PodInfo) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(&info.uid);
    }
}
