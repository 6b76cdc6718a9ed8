//! The Endpoints controller: for every Service with a selector, an
//! Endpoints object of the same name listing the IPs and ports of the
//! pods behind it — ready pods in `addresses`, the others in
//! `notReadyAddresses` (upstream `pkg/controller/endpoint`).
//!
//! Keys are Services (`namespace/name`). A Service event enqueues itself;
//! a pod event enqueues every Service in the pod's namespace whose
//! selector matches the pod's old or new labels; the deletion of an
//! Endpoints object enqueues its Service so that it comes back. Services
//! without a selector are left to their users; when a Service goes, its
//! Endpoints are deleted directly (upstream does not use an ownerRef).

mod subsets;

use std::sync::Arc;

use anyhow::Context as _;
use futures::future::BoxFuture;
use futures::FutureExt;
use tug_api::core::{is_pod_ready, Endpoints, Pod, Service};
use tug_api::selector::Selector;
use tug_api::Resource;
use tug_client::{
    split_key, Action, Api, Client, DeleteParams, Event, EventRecorder, PostParams, Store,
    WorkQueue,
};

use crate::context::ControllerContext;
use subsets::{desired_subsets, truncate, HEADLESS_LABEL, OVER_CAPACITY_ANNOTATION};

/// Endpoints with this annotation belong to leader election, not to a
/// Service; the start-up sweep for leftovers leaves them alone.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// Register the handlers and return the controller's run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let services = ctx.informers.store::<Service>();
    let pods = ctx.informers.store::<Pod>();
    let endpoints = ctx.informers.store::<Endpoints>();

    let q = queue.clone();
    ctx.informers
        .informer::<Service>()
        .add_handler(move |ev| q.add(ev.key()));

    let q = queue.clone();
    let svc_store = services.clone();
    ctx.informers
        .informer::<Pod>()
        .add_handler(move |ev| on_pod_event(&svc_store, &q, ev));

    let q = queue.clone();
    ctx.informers
        .informer::<Endpoints>()
        .add_handler(move |ev| {
            if let Event::Deleted(_) = ev {
                q.add(ev.key());
            }
        });

    let controller = Arc::new(EndpointsController {
        client: ctx.client.clone(),
        services,
        pods,
        endpoints,
        recorder: ctx.recorder("endpoint-controller"),
    });
    let workers = ctx.options.concurrent_endpoint_syncs;
    async move {
        controller.services.wait_synced().await;
        controller.pods.wait_synced().await;
        controller.endpoints.wait_synced().await;
        controller.enqueue_leftovers(&queue);
        tug_client::run_workers("endpoints", queue, workers, move |key| {
            let c = controller.clone();
            async move { c.sync_service(&key).await }
        })
        .await;
    }
    .boxed()
}

/// The Services a pod event concerns: those matching the new labels, and
/// the old ones' too when the labels changed. Updates that change nothing
/// an Endpoints object shows are ignored.
fn on_pod_event(services: &Store<Service>, queue: &WorkQueue<String>, ev: &Event<Pod>) {
    match ev {
        Event::Added(pod) | Event::Deleted(pod) => {
            for key in services_for_pod(services, pod) {
                queue.add(key);
            }
        }
        Event::Updated { old, new } => {
            if ev.is_resync() || old.metadata.resource_version == new.metadata.resource_version {
                return;
            }
            let labels_changed = old.metadata.labels != new.metadata.labels;
            if !labels_changed && !endpoint_fields_changed(old, new) {
                return;
            }
            let mut keys = services_for_pod(services, new);
            if labels_changed {
                keys.extend(services_for_pod(services, old));
            }
            for key in keys {
                queue.add(key);
            }
        }
    }
}

/// Whether a pod update changes anything that goes into an Endpoints
/// object (upstream `podEndpointsChanged`).
fn endpoint_fields_changed(old: &Pod, new: &Pod) -> bool {
    old.status.pod_ip != new.status.pod_ip
        || old.status.pod_ips != new.status.pod_ips
        || old.status.phase != new.status.phase
        || is_pod_ready(old) != is_pod_ready(new)
        || old.metadata.deletion_timestamp.is_some() != new.metadata.deletion_timestamp.is_some()
        || old.spec.node_name != new.spec.node_name
        || old.spec.hostname != new.spec.hostname
        || old.spec.subdomain != new.spec.subdomain
        || old.spec.containers != new.spec.containers
}

/// Keys of the Services in the pod's namespace whose selector matches it.
fn services_for_pod(services: &Store<Service>, pod: &Pod) -> Vec<String> {
    services
        .by_namespace(&pod.metadata.namespace)
        .into_iter()
        .filter(|svc| {
            let selector = &svc.spec.selector;
            !selector.is_empty()
                && selector
                    .iter()
                    .all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
        })
        .map(|svc| tug_client::key_of(&svc.metadata))
        .collect()
}

struct EndpointsController {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    recorder: EventRecorder,
}

impl EndpointsController {
    /// Endpoints whose Service went while no controller watched: their
    /// keys are synced once at start, which deletes them.
    fn enqueue_leftovers(&self, queue: &WorkQueue<String>) {
        for ep in self.endpoints.list() {
            let key = tug_client::key_of(&ep.metadata);
            if !ep.metadata.annotations.contains_key(LEADER_ANNOTATION)
                && self.services.get(&key).is_none()
            {
                queue.add(key);
            }
        }
    }

    async fn sync_service(&self, key: &str) -> anyhow::Result<Action> {
        let (namespace, name) = split_key(key);
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), namespace);
        let Some(svc) = self.services.get(key) else {
            // The Service is gone: so are its Endpoints.
            return match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(Action::Done),
                Err(e) if e.is_not_found() => Ok(Action::Done),
                Err(e) => Err(e).context("deleting the Endpoints of a deleted Service"),
            };
        };
        if svc.spec.type_ == "ExternalName" || svc.spec.selector.is_empty() {
            return Ok(Action::Done);
        }
        let selector = Selector::from_map(&svc.spec.selector)
            .map_err(|e| anyhow::anyhow!("service {key} has an invalid selector: {e}"))?;
        let pods = self.pods.select(Some(namespace), &selector);
        let mut subsets = desired_subsets(&svc, &pods);
        let truncated = truncate(&mut subsets);

        let want = Desired {
            namespace,
            name,
            subsets,
            labels: {
                let mut labels = svc.metadata.labels.clone();
                if svc.spec.cluster_ip == "None" {
                    labels.insert(HEADLESS_LABEL.into(), String::new());
                }
                labels
            },
            truncated,
        };
        let mut current = self.endpoints.get(key).map(|ep| (*ep).clone());
        // One retry from a fresh read when the cache has not caught up
        // with our own last write (AlreadyExists, Conflict).
        for attempt in 0..2 {
            let mut desired = want.applied_to(current.as_ref());
            if current.as_ref() == Some(&desired) {
                return Ok(Action::Done);
            }
            desired.set_type_meta();
            let ready: usize = desired.subsets.iter().map(|s| s.addresses.len()).sum();
            let not_ready: usize = desired
                .subsets
                .iter()
                .map(|s| s.not_ready_addresses.len())
                .sum();
            tracing::debug!(service = key, ready, not_ready, "writing endpoints");
            let pp = PostParams::default();
            let result = match &current {
                None => api.create(&pp, &desired).await,
                Some(_) => api.replace(name, &pp, &desired).await,
            };
            let e = match result {
                Ok(_) => return Ok(Action::Done),
                Err(e) => e,
            };
            if attempt == 0 && (e.is_already_exists() || e.is_conflict()) {
                current = api.get_opt(name).await?;
                continue;
            }
            if current.is_none() {
                if namespace_terminating(&e) {
                    return Ok(Action::Done);
                }
                self.recorder.warning(
                    &desired,
                    "FailedToCreateEndpoint",
                    format!("Failed to create endpoint for service {key}: {e}"),
                );
                return Err(e).context("creating endpoints");
            }
            if !e.is_conflict() {
                self.recorder.warning(
                    &desired,
                    "FailedToUpdateEndpoint",
                    format!("Failed to update endpoint {key}: {e}"),
                );
            }
            return Err(e).context("updating endpoints");
        }
        Ok(Action::Done)
    }
}

/// What a Service's Endpoints object must say.
struct Desired<'a> {
    namespace: &'a str,
    name: &'a str,
    subsets: Vec<tug_api::core::EndpointSubset>,
    labels: std::collections::BTreeMap<String, String>,
    truncated: bool,
}

impl Desired<'_> {
    /// `current` (or a new object) with the computed subsets, the
    /// Service's labels and the over-capacity annotation; everything else
    /// (other annotations, resourceVersion) kept.
    fn applied_to(&self, current: Option<&Endpoints>) -> Endpoints {
        let mut ep = current.cloned().unwrap_or_else(|| Endpoints {
            metadata: tug_api::ObjectMeta {
                name: self.name.to_string(),
                namespace: self.namespace.to_string(),
                ..Default::default()
            },
            ..Default::default()
        });
        ep.subsets = self.subsets.clone();
        ep.metadata.labels = self.labels.clone();
        if self.truncated {
            ep.metadata
                .annotations
                .insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
        } else {
            ep.metadata.annotations.remove(OVER_CAPACITY_ANNOTATION);
        }
        ep
    }
}

/// A create refused because the namespace is being deleted: dropping the
/// key is right, the namespace controller removes everything anyway.
fn namespace_terminating(e: &tug_client::Error) -> bool {
    e.code() == Some(403)
        && e.status().is_some_and(|s| {
            s.message.contains("being terminated")
                || s.details
                    .as_ref()
                    .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(ns: &str, name: &str, selector: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector}
        }))
        .unwrap()
    }

    fn pod(labels: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "a", "labels": labels, "resourceVersion": "1"},
        }))
        .unwrap()
    }

    #[test]
    fn pod_events_enqueue_the_services_selecting_old_and_new_labels() {
        let store: Store<Service> = Store::new();
        store.insert(svc("a", "web", json!({"app": "web"})));
        store.insert(svc("a", "api", json!({"app": "api"})));
        store.insert(svc("a", "manual", json!({})));
        store.insert(svc("b", "web", json!({"app": "web"})));
        let queue: WorkQueue<String> = WorkQueue::new();
        let old = Arc::new(pod(json!({"app": "web"})));
        let mut moved = pod(json!({"app": "api"}));
        moved.metadata.resource_version = "2".into();
        on_pod_event(
            &store,
            &queue,
            &Event::Updated {
                old,
                new: Arc::new(moved),
            },
        );
        let mut keys = Vec::new();
        while !queue.is_empty() {
            let k = futures::executor::block_on(queue.get()).unwrap();
            queue.done(&k);
            keys.push(k);
        }
        keys.sort();
        assert_eq!(keys, vec!["a/api", "a/web"]);
    }

    #[test]
    fn status_noise_does_not_enqueue() {
        let store: Store<Service> = Store::new();
        store.insert(svc("a", "web", json!({"app": "web"})));
        let queue: WorkQueue<String> = WorkQueue::new();
        let old = pod(json!({"app": "web"}));
        let mut new = old.clone();
        new.metadata.resource_version = "2".into();
        new.metadata.annotations.insert("note".into(), "x".into());
        on_pod_event(
            &store,
            &queue,
            &Event::Updated {
                old: Arc::new(old.clone()),
                new: Arc::new(new.clone()),
            },
        );
        assert_eq!(queue.len(), 0);
        new.status.pod_ip = "10.244.0.5".into();
        on_pod_event(
            &store,
            &queue,
            &Event::Updated {
                old: Arc::new(old),
                new: Arc::new(new),
            },
        );
        assert_eq!(queue.len(), 1);
    }
}
