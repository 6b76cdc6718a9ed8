//! The NoExecute taint manager (upstream `pkg/controller/tainteviction`):
//! deletes pods from nodes with `NoExecute` taints they do not tolerate,
//! at once or when their `tolerationSeconds` run out.
//!
//! Keys are pods. A pod is looked at when it is bound, moves, or changes
//! its tolerations, and every pod of a node is looked at when the node's
//! NoExecute taints change. A pod that may stay a while is requeued for
//! exactly the moment its time is up; if the taint goes first, that look
//! finds nothing to do (and the eviction counts as cancelled).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tug_api::core::{Node, Pod, PodCondition, Taint};
use tug_api::Time;
use tug_client::{
    Action, Api, Client, DeleteParams, Event, EventRecorder, PostParams, Preconditions, Store,
    WorkQueue,
};

use super::eviction::{eviction_time, with_default_tolerations, Eviction};
use super::pods::POD_NODE_INDEX;
use super::taints::NO_EXECUTE;

/// The taint manager.
pub struct TaintManager {
    pub client: Client,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    pub recorder: EventRecorder,
    /// `--default-toleration-seconds`, for pods without their own
    /// not-ready/unreachable tolerations.
    pub default_toleration_seconds: i64,
    /// Pods with an eviction pending, and when.
    scheduled: Mutex<HashMap<String, DateTime<Utc>>>,
    /// When NoExecute taints without a `timeAdded` were first seen, by
    /// (node, key, effect).
    first_seen: Mutex<HashMap<(String, String), DateTime<Utc>>>,
}

fn no_execute(taints: &[Taint]) -> Vec<&Taint> {
    taints.iter().filter(|t| t.effect == NO_EXECUTE).collect()
}

impl TaintManager {
    /// A taint manager over the given caches.
    pub fn new(
        client: Client,
        pods: Store<Pod>,
        nodes: Store<Node>,
        recorder: EventRecorder,
        default_toleration_seconds: i64,
    ) -> TaintManager {
        TaintManager {
            client,
            pods,
            nodes,
            recorder,
            default_toleration_seconds,
            scheduled: Mutex::new(HashMap::new()),
            first_seen: Mutex::new(HashMap::new()),
        }
    }

    fn scheduled(&self) -> MutexGuard<'_, HashMap<String, DateTime<Utc>>> {
        self.scheduled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pod events: a pod newly bound, moved, or with new tolerations.
    pub fn on_pod(&self, queue: &WorkQueue<String>, ev: &Event<Pod>) {
        match ev {
            Event::Added(pod) if !pod.spec.node_name.is_empty() => queue.add(ev.key()),
            Event::Updated { old, new } => {
                if new.spec.node_name.is_empty() {
                    return;
                }
                if old.spec.node_name != new.spec.node_name
                    || old.spec.tolerations != new.spec.tolerations
                {
                    queue.add(ev.key());
                }
            }
            Event::Deleted(_) => {
                self.scheduled().remove(&ev.key());
            }
            _ => {}
        }
    }

    /// Node events: every pod of a node whose NoExecute taints changed.
    pub fn on_node(&self, queue: &WorkQueue<String>, ev: &Event<Node>) {
        let node = ev.object();
        let changed = match ev {
            Event::Added(n) => !no_execute(&n.spec.taints).is_empty(),
            Event::Updated { old, new } => {
                no_execute(&old.spec.taints) != no_execute(&new.spec.taints)
            }
            Event::Deleted(_) => true,
        };
        if !changed {
            return;
        }
        self.forget_gone_taints(node, matches!(ev, Event::Deleted(_)));
        for key in self.pods.index_keys(POD_NODE_INDEX, &node.metadata.name) {
            queue.add(key);
        }
    }

    fn forget_gone_taints(&self, node: &Node, deleted: bool) {
        let mut seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|(n, key), _| {
            n != &node.metadata.name
                || (!deleted
                    && node
                        .spec
                        .taints
                        .iter()
                        .any(|t| t.effect == NO_EXECUTE && &t.key == key))
        });
    }

    /// When the taint was added: its `timeAdded`, else when first seen.
    fn taint_since(&self, node: &str, taint: &Taint, now: DateTime<Utc>) -> DateTime<Utc> {
        if let Some(t) = taint.time_added {
            return t.0;
        }
        let mut seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        *seen
            .entry((node.to_string(), taint.key.clone()))
            .or_insert(now)
    }

    fn decide(&self, pod: &Pod, node: &Node, now: DateTime<Utc>) -> Eviction {
        let tolerations =
            with_default_tolerations(&pod.spec.tolerations, self.default_toleration_seconds);
        eviction_time(&tolerations, &node.spec.taints, |t| {
            self.taint_since(&node.metadata.name, t, now)
        })
    }

    /// Forget a pending eviction, saying so if there was one.
    fn cancel(&self, key: &str, pod: Option<&Pod>) {
        if self.scheduled().remove(key).is_some() {
            if let Some(pod) = pod {
                self.recorder.normal(
                    pod,
                    "TaintManagerEviction",
                    format!("Cancelling deletion of Pod {key}"),
                );
            }
        }
    }

    /// Look at one pod.
    pub async fn sync_pod(&self, key: &str) -> anyhow::Result<Action> {
        let Some(pod) = self.pods.get(key) else {
            self.scheduled().remove(key);
            return Ok(Action::Done);
        };
        if pod.metadata.deletion_timestamp.is_some() || pod.spec.node_name.is_empty() {
            self.cancel(key, Some(&pod));
            return Ok(Action::Done);
        }
        let Some(node) = self.nodes.get(&pod.spec.node_name) else {
            self.cancel(key, Some(&pod));
            return Ok(Action::Done);
        };
        let now = Utc::now();
        match self.decide(&pod, &node, now) {
            Eviction::Never => {
                self.cancel(key, Some(&pod));
                Ok(Action::Done)
            }
            Eviction::At(at) if at > now => {
                self.scheduled().insert(key.to_string(), at);
                let wait = (at - now).to_std().unwrap_or_default();
                Ok(Action::RequeueAfter(wait))
            }
            Eviction::At(_) | Eviction::Now => self.evict(key, &pod).await,
        }
    }

    /// Delete the pod, after checking the node's taints without the
    /// cache (it may not have seen the taint go yet).
    async fn evict(&self, key: &str, pod: &Pod) -> anyhow::Result<Action> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let Some(node) = nodes.get_opt(&pod.spec.node_name).await? else {
            self.cancel(key, Some(pod));
            return Ok(Action::Done);
        };
        let now = Utc::now();
        match self.decide(pod, &node, now) {
            Eviction::Never => {
                self.cancel(key, Some(pod));
                return Ok(Action::Done);
            }
            Eviction::At(at) if at > now => {
                self.scheduled().insert(key.to_string(), at);
                return Ok(Action::RequeueAfter(
                    (at - now).to_std().unwrap_or_default(),
                ));
            }
            Eviction::At(_) | Eviction::Now => {}
        }
        tracing::info!(pod = key, node = %pod.spec.node_name, "evicting pod from NoExecute-tainted node");
        self.recorder.normal(
            pod,
            "TaintManagerEviction",
            format!("Marking for deletion Pod {key}"),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.metadata.namespace);
        self.mark_disruption_target(&api, pod).await;
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(pod.metadata.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&pod.metadata.name, &dp).await {
            Ok(_) => {}
            // Gone, or a new pod of the same name: nothing to evict.
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => return Err(e).context("deleting the pod"),
        }
        self.scheduled().remove(key);
        Ok(Action::Done)
    }

    /// The `DisruptionTarget` condition upstream sets before evicting, so
    /// that the pod's owner can tell why it went. Best effort.
    async fn mark_disruption_target(&self, api: &Api<Pod>, pod: &Pod) {
        let mut updated = pod.clone();
        updated
            .status
            .conditions
            .retain(|c| c.type_ != "DisruptionTarget");
        updated.status.conditions.push(PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: "DeletionByTaintManager".into(),
            message: "Taint manager: deleting due to NoExecute taint".into(),
            last_transition_time: Some(Time::now()),
            ..Default::default()
        });
        if let Err(e) = api
            .replace_status(&pod.metadata.name, &PostParams::default(), &updated)
            .await
        {
            tracing::debug!(pod = %pod.metadata.name, error = %e, "could not set DisruptionTarget");
        }
    }
}

/// Register the taint manager's handlers; returns its queue.
pub fn register(
    manager: &Arc<TaintManager>,
    informers: &mut tug_client::InformerFactory,
) -> WorkQueue<String> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let (m, q) = (manager.clone(), queue.clone());
    informers
        .informer::<Pod>()
        .add_handler(move |ev| m.on_pod(&q, ev));
    let (m, q) = (manager.clone(), queue.clone());
    informers
        .informer::<Node>()
        .add_handler(move |ev| m.on_node(&q, ev));
    queue
}
