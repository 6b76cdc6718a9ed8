//! The node monitor (upstream `monitorNodeHealth`): every
//! `--node-monitor-period`, for every node in the cache:
//!
//! 1. decide its health ([`health::observe`]) and write `Unknown`
//!    conditions to a node that went silent;
//! 2. taint it: a node that is not ready is queued for its NoExecute
//!    taint (paced per zone, see [`Tainter`]); a not-ready/unreachable
//!    switch swaps the taint at once; a ready node loses both;
//! 3. when it just stopped being ready, record `NodeNotReady` and mark
//!    its pods not ready;
//!
//! then work out the zones' disruption states and the tainting rates.
//! A separate task ([`NodeMonitor::run_tainter`]) takes queued nodes as
//! their zone's rate allows and taints them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;
use tug_api::coordination::Lease;
use tug_api::core::{Node, Pod, NODE_LEASE_NAMESPACE};
use tug_client::{Api, Client, EventRecorder, PostParams, Store};

use super::health::{observe, Grace, HealthRecord, Observation};
use super::pods::mark_pods_not_ready;
use super::tainter::Tainter;
use super::taints::{has, no_execute_for, no_execute_taints, swap_taints};
use super::zones::{excluded_from_disruption, zone_key, Disruption, DisruptionChange, Rates};

/// Attempts at a status write when the kubelet writes at the same time.
const STATUS_ATTEMPTS: usize = 3;
/// How long the tainter waits after a failed taint before trying again.
const TAINT_RETRY: Duration = Duration::from_secs(1);

/// What the monitor remembers between passes.
#[derive(Default)]
struct MonitorState {
    health: HashMap<String, HealthRecord>,
    /// Nodes seen, for the Registered/Removing events.
    known: HashMap<String, Arc<Node>>,
    disruption: Disruption,
    /// Nodes whose pods could not all be marked not ready yet.
    retry_pods: HashSet<String>,
}

/// The node monitor and its tainter.
pub struct NodeMonitor {
    pub client: Client,
    pub nodes: Store<Node>,
    pub leases: Store<Lease>,
    pub pods: Store<Pod>,
    pub recorder: EventRecorder,
    pub grace: Grace,
    pub rates: Rates,
    state: Mutex<MonitorState>,
    tainter: Mutex<Tainter>,
    tainter_wake: Notify,
}

impl NodeMonitor {
    /// A monitor over the given caches.
    pub fn new(
        client: Client,
        nodes: Store<Node>,
        leases: Store<Lease>,
        pods: Store<Pod>,
        recorder: EventRecorder,
        grace: Grace,
        rates: Rates,
    ) -> NodeMonitor {
        NodeMonitor {
            client,
            nodes,
            leases,
            pods,
            recorder,
            grace,
            rates,
            state: Mutex::new(MonitorState::default()),
            tainter: Mutex::new(Tainter::new(rates.eviction_qps)),
            tainter_wake: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, MonitorState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tainter(&self) -> MutexGuard<'_, Tainter> {
        self.tainter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run a pass every `period`, for ever.
    pub async fn run(self: Arc<Self>, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.pass().await;
        }
    }

    /// One look at every node.
    pub async fn pass(&self) {
        let nodes = self.nodes.list();
        self.track_membership(&nodes);
        let mut zones: HashMap<String, Vec<Option<String>>> = HashMap::new();
        for node in &nodes {
            let name = &node.metadata.name;
            let previous = self.state().health.get(name).and_then(|r| r.ready.clone());
            let Some(obs) = self.update_health(node).await else {
                continue;
            };
            if !excluded_from_disruption(node) {
                zones
                    .entry(zone_key(node))
                    .or_default()
                    .push(obs.current.clone());
            }
            let Some(current) = obs.current.as_deref() else {
                continue;
            };
            self.taint_for_readiness(node, current).await;

            let became_not_ready = current != "True" && obs.observed == "True";
            if became_not_ready {
                tracing::info!(node = %name, ready = current, "node is not ready");
                self.recorder.normal(
                    &**node,
                    "NodeNotReady",
                    format!("Node {name} status is now: NodeNotReady"),
                );
            } else if current == "True" && previous.as_deref().is_some_and(|p| p != "True") {
                tracing::info!(node = %name, "node is ready again");
                self.recorder.normal(
                    &**node,
                    "NodeReady",
                    format!("Node {name} status is now: NodeReady"),
                );
            }
            let retry = self.state().retry_pods.contains(name);
            if became_not_ready || (retry && current != "True") {
                if let Err(e) =
                    mark_pods_not_ready(&self.client, &self.recorder, &self.pods, name).await
                {
                    tracing::warn!(node = %name, error = %e, "will retry marking pods not ready");
                    self.state().retry_pods.insert(name.clone());
                    continue;
                }
            }
            self.state().retry_pods.remove(name);
        }
        self.handle_disruption(&zones, &nodes).await;
        self.tainter_wake.notify_one();
    }

    /// Registered/Removing events, and forgetting deleted nodes.
    fn track_membership(&self, nodes: &[Arc<Node>]) {
        let names: HashSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        let mut state = self.state();
        let gone: Vec<Arc<Node>> = state
            .known
            .values()
            .filter(|n| !names.contains(n.metadata.name.as_str()))
            .cloned()
            .collect();
        for node in gone {
            let name = &node.metadata.name;
            self.recorder.normal(
                &*node,
                "RemovingNode",
                format!("Node {name} event: Removing Node {name} from Controller"),
            );
            state.known.remove(name);
            state.health.remove(name);
            state.retry_pods.remove(name);
            self.tainter().remove(name);
        }
        for node in nodes {
            let name = &node.metadata.name;
            if state.known.insert(name.clone(), node.clone()).is_none() {
                self.recorder.normal(
                    &**node,
                    "RegisteredNode",
                    format!("Node {name} event: Registered Node {name} in Controller"),
                );
            }
        }
    }

    /// Decide the node's health; write Unknown conditions if it went
    /// silent (re-reading it when the kubelet wrote meanwhile). `None`
    /// when the node could not be judged this pass.
    async fn update_health(&self, node: &Arc<Node>) -> Option<Observation> {
        let name = &node.metadata.name;
        let prev = self.state().health.get(name).cloned();
        let lease = self.leases.get_namespaced(NODE_LEASE_NAMESPACE, name);
        let api: Api<Node> = Api::all(self.client.clone());
        let mut node: Node = (**node).clone();
        for _ in 0..STATUS_ATTEMPTS {
            let obs = observe(
                prev.as_ref(),
                &node,
                lease.as_deref(),
                Utc::now(),
                self.grace,
            );
            let Some(conditions) = &obs.new_conditions else {
                self.state().health.insert(name.clone(), obs.record.clone());
                return Some(obs);
            };
            let mut updated = node.clone();
            updated.status.conditions = conditions.clone();
            match api
                .replace_status(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {
                    tracing::info!(node = %name, "node stopped posting status; conditions set to Unknown");
                    self.state().health.insert(name.clone(), obs.record.clone());
                    return Some(obs);
                }
                Err(e) if e.is_conflict() => match api.get_opt(name).await {
                    Ok(Some(fresh)) => node = fresh,
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(node = %name, error = %e, "could not re-read node");
                        return None;
                    }
                },
                Err(e) if e.is_not_found() => return None,
                Err(e) => {
                    tracing::warn!(node = %name, error = %e, "could not update node status");
                    return None;
                }
            }
        }
        None
    }

    /// Upstream `processTaintBaseEviction`.
    async fn taint_for_readiness(&self, node: &Arc<Node>, ready: &str) {
        let name = &node.metadata.name;
        let taints = &node.spec.taints;
        match no_execute_for(ready) {
            None => {
                // Ready: no reason to evict anything.
                self.tainter().remove(name);
                let present: Vec<_> = no_execute_taints()
                    .into_iter()
                    .filter(|t| has(taints, t))
                    .collect();
                if !present.is_empty() {
                    match swap_taints(&self.client, node, &[], &present).await {
                        Ok(_) => {
                            tracing::info!(node = %name, "node is healthy again; removed its NoExecute taints")
                        }
                        Err(e) => {
                            tracing::warn!(node = %name, error = %e, "could not remove taints; retrying next pass")
                        }
                    }
                }
            }
            Some((want, opposite)) => {
                if has(taints, &opposite) {
                    // Already evicting: switch the reason at once.
                    if let Err(e) = swap_taints(&self.client, node, &[want], &[opposite]).await {
                        tracing::warn!(node = %name, error = %e, "could not swap taints; retrying next pass");
                    }
                } else if !has(taints, &want) {
                    let zone = zone_key(node);
                    if self.tainter().add(&zone, name, Instant::now()) {
                        tracing::info!(node = %name, ready, "node queued for its NoExecute taint");
                    }
                }
            }
        }
    }

    /// Upstream `handleDisruption`.
    async fn handle_disruption(
        &self,
        zones: &HashMap<String, Vec<Option<String>>>,
        nodes: &[Arc<Node>],
    ) {
        let change = self.state().disruption.update(&self.rates, zones);
        let now = Instant::now();
        match change {
            DisruptionChange::Rates(rates) => {
                let mut tainter = self.tainter();
                for (zone, qps) in rates {
                    tracing::info!(zone = %zone.replace('\0', ""), qps, "zone tainting rate");
                    tainter.set_rate(&zone, qps, now);
                }
            }
            DisruptionChange::EnterFullDisruption(all) => {
                tracing::warn!("no node is ready: assuming a control-plane network problem, stopping evictions and removing NoExecute taints");
                {
                    let mut tainter = self.tainter();
                    for zone in &all {
                        tainter.set_rate(zone, 0.0, now);
                    }
                }
                for node in nodes {
                    if let Err(e) = swap_taints(&self.client, node, &[], &no_execute_taints()).await
                    {
                        tracing::warn!(node = %node.metadata.name, error = %e, "could not remove taints");
                    }
                }
            }
            DisruptionChange::ExitFullDisruption(rates) => {
                tracing::info!("some node is ready again: resuming evictions");
                let at = Utc::now();
                {
                    let mut state = self.state();
                    for record in state.health.values_mut() {
                        record.probe = at;
                        record.ready_transition = at;
                    }
                }
                let mut tainter = self.tainter();
                for (zone, qps) in rates {
                    tainter.set_rate(&zone, qps, now);
                }
            }
        }
    }

    /// Taint queued nodes as their zones' rates allow, sleeping exactly
    /// until the next one is due (or the monitor queues more).
    pub async fn run_tainter(self: Arc<Self>) {
        loop {
            let due = self.tainter().take_due(Instant::now());
            let mut failed = false;
            for (zone, name) in due {
                if !self.taint_now(&name).await {
                    self.tainter().retry(&zone, &name, Instant::now());
                    failed = true;
                }
            }
            let now = Instant::now();
            let next = self.tainter().next_due(now);
            let wake = match (next, failed) {
                (Some(t), true) => Some(t.max(now + TAINT_RETRY)),
                (next, _) => next,
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                        _ = self.tainter_wake.notified() => {}
                    }
                }
                None => self.tainter_wake.notified().await,
            }
        }
    }

    /// Put the NoExecute taint matching the node's current readiness on
    /// it. False when it should be retried.
    async fn taint_now(&self, name: &str) -> bool {
        let Some(node) = self.nodes.get(name) else {
            return true;
        };
        let ready = self.state().health.get(name).and_then(|r| r.ready.clone());
        let Some((want, opposite)) = ready.as_deref().and_then(no_execute_for) else {
            // Ready again (or never reported): nothing to do.
            return true;
        };
        match swap_taints(
            &self.client,
            &node,
            std::slice::from_ref(&want),
            &[opposite],
        )
        .await
        {
            Ok(_) => {
                tracing::info!(node = name, taint = %want.key, "tainted node NoExecute");
                true
            }
            Err(e) => {
                tracing::warn!(node = name, error = %e, "could not taint node");
                false
            }
        }
    }
}
