//! `manageReplicas`: create or delete pods until a ReplicaSet has as many
//! active pods as it wants, at most [`BURST_REPLICAS`] per sync.
//!
//! Creates go in slow-start batches of 1, 2, 4, … run concurrently within
//! a batch; a batch with a failure stops the rest, so a ReplicaSet whose
//! pods are all refused (quota, admission) costs one request, not 500.
//! Deletes run all at once. Expectations are raised before acting and
//! lowered at once for whatever fails or is skipped.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use tug_api::apps::ReplicaSet;
use tug_api::core::Pod;
use tug_api::meta::{ObjectMeta, OwnerReference};
use tug_client::{key_of, Api, DeleteParams, PostParams};

use super::ranking::pods_to_delete;
use super::ReplicaSetController;

/// The most pods one sync creates or deletes (upstream's `burstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// The first slow-start batch.
const SLOW_START_INITIAL_BATCH: usize = 1;

/// Call `f` `count` times in batches of `initial`, then twice the previous
/// size, each batch concurrently, stopping after the first batch that has
/// a failure. Returns how many calls succeeded and the first error.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial.max(1));
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        let first_error = errors.next();
        let failed = usize::from(first_error.is_some()) + errors.count();
        successes += batch - failed;
        if first_error.is_some() {
            return (successes, first_error);
        }
        remaining -= batch;
        batch = remaining.min(2 * batch);
    }
    (successes, None)
}

/// The pod a ReplicaSet creates: the template's labels, annotations,
/// finalizers and spec, a generated name `<rs>-xxxxx`, and the
/// ReplicaSet as its controller (`GetPodFromTemplate`).
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = &rs.spec.template;
    Pod {
        metadata: ObjectMeta {
            generate_name: format!("{}-", rs.metadata.name),
            namespace: rs.metadata.namespace.clone(),
            labels: template.metadata.labels.clone(),
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: vec![OwnerReference::controller_of(rs)],
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

impl ReplicaSetController {
    /// Create or delete pods so that `rs` has its replicas. `pods` are its
    /// active, claimed pods; the pods deleted here are taken out of it, so
    /// the status written next no longer counts them as available (the
    /// Deployment controller budgets unavailability on that status).
    pub(super) async fn manage_replicas(
        &self,
        rs: &Arc<ReplicaSet>,
        pods: &mut Vec<Arc<Pod>>,
    ) -> Result<(), String> {
        let key = key_of(&rs.metadata);
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        if pods.len() < want {
            let count = (want - pods.len()).min(BURST_REPLICAS);
            self.expectations.expect_creations(&key, count);
            tracing::debug!(replicaset = %key, need = want, creating = count, "too few replicas");
            let (created, err) =
                slow_start_batch(count, SLOW_START_INITIAL_BATCH, || self.create_pod(rs)).await;
            // No informer event will come for what failed or was skipped.
            self.expectations.lower_creations(&key, count - created);
            return err.map_or(Ok(()), Err);
        }
        if pods.len() > want {
            let count = (pods.len() - want).min(BURST_REPLICAS);
            let related = self.related_pods(rs, pods);
            let victims = pods_to_delete(pods, &related, count, Utc::now());
            self.expectations
                .expect_deletions(&key, victims.iter().map(|p| key_of(&p.metadata)));
            tracing::debug!(replicaset = %key, need = want, deleting = count, "too many replicas");
            let results = join_all(victims.iter().map(|pod| self.delete_pod(rs, pod))).await;
            let mut first_error = None;
            let mut gone = std::collections::HashSet::new();
            for (pod, result) in victims.iter().zip(results) {
                match result {
                    Ok(()) => {
                        gone.insert(pod.metadata.uid.clone());
                    }
                    Err(e) => {
                        self.expectations
                            .deletion_observed(&key, &key_of(&pod.metadata));
                        if e.is_not_found() {
                            gone.insert(pod.metadata.uid.clone());
                        } else {
                            first_error.get_or_insert(format!("unable to delete pods: {e}"));
                        }
                    }
                }
            }
            pods.retain(|p| !gone.contains(&p.metadata.uid));
            return first_error.map_or(Ok(()), Err);
        }
        Ok(())
    }

    async fn create_pod(&self, rs: &ReplicaSet) -> Result<(), String> {
        let pod = pod_from_template(rs);
        if pod.metadata.labels.is_empty() {
            return Err("unable to create pods, no labels".into());
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &rs.metadata.namespace);
        match api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                self.recorder.normal(
                    rs,
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.metadata.name),
                );
                Ok(())
            }
            Err(e) => {
                self.recorder
                    .warning(rs, "FailedCreate", format!("Error creating: {e}"));
                Err(format!("unable to create pods: {e}"))
            }
        }
    }

    async fn delete_pod(&self, rs: &ReplicaSet, pod: &Pod) -> tug_client::Result<()> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.metadata.namespace);
        match api
            .delete(&pod.metadata.name, &DeleteParams::default())
            .await
        {
            Ok(_) => {
                self.recorder.normal(
                    rs,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", pod.metadata.name),
                );
                Ok(())
            }
            Err(e) if e.is_not_found() => Err(e),
            Err(e) => {
                self.recorder
                    .warning(rs, "FailedDelete", format!("Error deleting: {e}"));
                Err(e)
            }
        }
    }

    /// The active pods of every ReplicaSet sharing `rs`'s controller (the
    /// Deployment's other revisions), so scale-down can prefer nodes that
    /// are doubled up across revisions. A ReplicaSet without a controller
    /// relates only to its own `pods`.
    fn related_pods(&self, rs: &ReplicaSet, pods: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
        let Some(owner) = rs.metadata.controller_ref() else {
            return pods.to_vec();
        };
        let mut seen = std::collections::HashSet::new();
        let mut related = Vec::new();
        for sibling in self
            .replicasets
            .by_index(crate::util::claim::CONTROLLER_UID_INDEX, &owner.uid)
        {
            for pod in self.pods.by_index(
                crate::util::claim::CONTROLLER_UID_INDEX,
                &sibling.metadata.uid,
            ) {
                if seen.insert(pod.metadata.uid.clone()) {
                    related.push(pod);
                }
            }
        }
        related
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[tokio::test]
    async fn batches_double_and_run_concurrently() {
        let in_flight = AtomicUsize::new(0);
        let batches = Mutex::new(Vec::new());
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(20, 1, || async {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            calls.fetch_add(1, Ordering::SeqCst);
            // Yield so that the whole batch is in flight together.
            tokio::task::yield_now().await;
            batches.lock().unwrap().push(now);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<(), String>(())
        })
        .await;
        assert_eq!((ok, err), (20, None));
        assert_eq!(calls.load(Ordering::SeqCst), 20);
        // 1 + 2 + 4 + 8 + 5: the biggest batch had 8 creates in flight.
        assert_eq!(*batches.lock().unwrap().iter().max().unwrap(), 8);
    }

    #[tokio::test]
    async fn a_failing_batch_stops_the_rest() {
        let calls = AtomicUsize::new(0);
        // The 5th call fails: batches 1, 2 succeed, batch of 4 has one failure.
        let (ok, err) = slow_start_batch(100, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 4 {
                    Err(format!("call {n} refused"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        assert_eq!(ok, 6);
        assert_eq!(err.as_deref(), Some("call 4 refused"));
        let (ok, err) = slow_start_batch(0, 1, || async { Ok::<(), ()>(()) }).await;
        assert_eq!((ok, err), (0, None));
    }

    #[test]
    fn pods_are_stamped_from_the_template() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = "web-abc".into();
        rs.metadata.namespace = "prod".into();
        rs.metadata.uid = "u1".into();
        let t = &mut rs.spec.template;
        t.metadata.labels.insert("app".into(), "web".into());
        t.metadata.annotations.insert("note".into(), "x".into());
        t.spec.node_name = String::new();
        let pod = pod_from_template(&rs);
        assert_eq!(pod.metadata.generate_name, "web-abc-");
        assert_eq!(pod.metadata.namespace, "prod");
        assert_eq!(pod.metadata.labels["app"], "web");
        assert_eq!(pod.metadata.annotations["note"], "x");
        let owner = pod.metadata.controller_ref().unwrap();
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("ReplicaSet", "u1")
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
    }
}
