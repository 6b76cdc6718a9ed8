//! The pod workers of one node: an informer on the pods bound to it
//! (`fieldSelector=spec.nodeName=<node>`), a work queue of pod keys and a
//! few workers that sync one pod at a time each (the queue never hands
//! one key to two workers). A sync is level-triggered: it reads the pod
//! from the informer's cache and the runtime's view of it, acts, writes
//! the status if it changed, and asks to be run again when something is
//! due (a container exits, a back-off ends, a probe is due). A runtime
//! whose containers change by themselves (runc: a process exits) tells
//! the workers through its change notifier, which queues the pod at once.
//!
//! The decisions are pure functions in the submodules — [`plan`] (what to
//! start), [`status`] (what to report), [`backoff`] (CrashLoopBackOff),
//! [`start_errors`] (image pull back-off, start errors), [`prober`]
//! (startup, liveness and readiness probes), [`admission`] — shared by
//! every runtime.

pub mod admission;
pub mod backoff;
pub mod plan;
pub mod prober;
pub mod start_errors;
pub mod status;
pub mod status_writer;
mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tug_api::core::{is_pod_terminal, Pod};
use tug_client::{run_workers, Api, Informer, ListParams, Store, WorkQueue};

use self::admission::{Admission, Allocatable};
use self::backoff::{CrashBackoff, DEFAULT_MAX};
use self::plan::ProbeFacts;
use self::prober::ContainerProbes;
use self::start_errors::StartErrors;
use self::status_writer::StatusWriter;
use crate::node::NodeCtx;
use crate::runtime::SandboxNetwork;

/// What the kubelet remembers about one pod between syncs.
#[derive(Debug)]
struct PodRecord {
    backoff: CrashBackoff,
    /// Containers that failed to start (image pulls and the rest).
    start_errors: StartErrors,
    /// The probes of each running container's current instance.
    probes: HashMap<String, ContainerProbes>,
    /// What the probes decided that the plan needs (kills, sidecars not
    /// started yet).
    probe_facts: ProbeFacts,
    writer: StatusWriter,
    /// The containers were asked to stop (the pod is being deleted).
    stop_requested: bool,
    /// The deletion was confirmed; waiting for the informer to drop it.
    deleted: bool,
    /// The instance (attempt) of each container a BackOff event was
    /// recorded for, so a wait is reported once.
    backoff_reported: HashMap<String, u32>,
}

/// One pod (by uid) under a key; a new uid under the same key is a new
/// pod, and the old one is torn down.
struct PodSlot {
    uid: String,
    record: tokio::sync::Mutex<PodRecord>,
}

/// The pods of one node.
pub struct PodWorkers {
    ctx: Arc<NodeCtx>,
    store: Store<Pod>,
    queue: WorkQueue<String>,
    slots: Mutex<HashMap<String, Arc<PodSlot>>>,
    /// The key of each pod uid held in `slots`, for the runtime's change
    /// notifier (which knows uids only).
    uid_keys: Mutex<HashMap<String, String>>,
    admission: Mutex<Admission>,
    /// Pods waiting for the node's podCIDR.
    cidr_waiters: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The runtime's change notifier: a pod whose containers changed by
/// themselves is synced at once (pods the workers do not hold are
/// ignored; housekeeping deals with those).
fn change_notifier(workers: Weak<PodWorkers>) -> crate::runtime::ChangeNotifier {
    Arc::new(move |uid: &str| {
        let Some(w) = workers.upgrade() else {
            return;
        };
        let key = lock(&w.uid_keys).get(uid).cloned();
        if let Some(key) = key {
            w.queue.add(key);
        }
    })
}

impl PodWorkers {
    /// Watch the node's pods and sync them, for ever.
    pub async fn run(ctx: Arc<NodeCtx>) {
        let queue = WorkQueue::new();
        let q = queue.clone();
        let params = ListParams::default().fields(&format!("spec.nodeName={}", ctx.config.name));
        let informer = Informer::new(Api::<Pod>::all(ctx.client.clone()), params)
            .on_event(move |ev| q.add(ev.key()));
        let cap = &ctx.config.capacity;
        let allocatable = Allocatable {
            milli_cpu: cap.cpu.milli_value(),
            memory: cap.memory.value(),
            pods: i64::from(cap.pods),
        };
        let workers = Arc::new(PodWorkers {
            store: informer.store(),
            queue: queue.clone(),
            slots: Mutex::new(HashMap::new()),
            uid_keys: Mutex::new(HashMap::new()),
            admission: Mutex::new(Admission::new(allocatable)),
            cidr_waiters: Mutex::new(HashSet::new()),
            ctx: ctx.clone(),
        });
        ctx.runtime
            .set_change_notifier(change_notifier(Arc::downgrade(&workers)));
        let tasks = [
            tokio::spawn(informer.run()),
            tokio::spawn(workers.clone().release_cidr_waiters()),
            tokio::spawn(workers.clone().housekeeping()),
        ];
        workers.recover().await;
        let w = workers.clone();
        run_workers("pod-worker", queue, ctx.config.pod_workers, move |key| {
            let w = w.clone();
            async move { w.sync(key).await }
        })
        .await;
        for t in tasks {
            t.abort();
        }
    }

    /// Before any pod is synced: offer the runtime every pod this node
    /// ran before (by its reported IP), so that pods that survived a
    /// restart of the kubelet keep their IPs and containers, and no new
    /// pod is given an IP one of them holds.
    async fn recover(&self) {
        self.store.wait_synced().await;
        let mut recovered = 0;
        for pod in self.store.list() {
            if pod.status.pod_ip.is_empty() || is_pod_terminal(&pod) {
                continue;
            }
            if let Some(network) = self.network_for(&pod) {
                self.ctx.runtime.recover_pod(&pod, network).await;
                recovered += 1;
            }
        }
        if recovered > 0 {
            tracing::info!(node = %self.ctx.config.name, pods = recovered, "offered the runtime the pods found running here");
        }
    }

    /// Where the pod's sandbox gets its IP: the node's own for a
    /// host-network pod, else the podCIDR (`None` until it has one).
    fn network_for(&self, pod: &Pod) -> Option<SandboxNetwork> {
        if pod.spec.host_network {
            Some(SandboxNetwork::Host(self.ctx.config.ip))
        } else {
            self.ctx.pod_cidr().map(SandboxNetwork::PodCidr)
        }
    }

    fn new_record(&self) -> PodRecord {
        PodRecord {
            backoff: CrashBackoff::new(self.ctx.config.crash_backoff, DEFAULT_MAX),
            // Upstream uses one base (10 s) for both back-offs.
            start_errors: StartErrors::new(self.ctx.config.crash_backoff, DEFAULT_MAX),
            probes: HashMap::new(),
            probe_facts: ProbeFacts::default(),
            writer: StatusWriter::default(),
            stop_requested: false,
            deleted: false,
            backoff_reported: HashMap::new(),
        }
    }

    /// The slot of `pod`; a different pod held under the same key before
    /// is torn down first.
    async fn slot_for(&self, key: &str, pod: &Pod) -> Arc<PodSlot> {
        let (slot, replaced) = {
            let mut slots = lock(&self.slots);
            match slots.get(key) {
                Some(s) if s.uid == pod.metadata.uid => (s.clone(), None),
                existing => {
                    let old = existing.map(|s| s.uid.clone());
                    let slot = Arc::new(PodSlot {
                        uid: pod.metadata.uid.clone(),
                        record: tokio::sync::Mutex::new(self.new_record()),
                    });
                    slots.insert(key.to_string(), slot.clone());
                    let mut uid_keys = lock(&self.uid_keys);
                    if let Some(old) = &old {
                        uid_keys.remove(old);
                    }
                    uid_keys.insert(pod.metadata.uid.clone(), key.to_string());
                    (slot, old)
                }
            }
        };
        if let Some(old_uid) = replaced {
            self.teardown(&old_uid).await;
        }
        slot
    }

    /// The pod under `key` is gone from the API: forget it.
    async fn forget(&self, key: &str) {
        let slot = lock(&self.slots).remove(key);
        lock(&self.cidr_waiters).remove(key);
        if let Some(slot) = slot {
            lock(&self.uid_keys).remove(&slot.uid);
            self.teardown(&slot.uid).await;
        }
    }

    /// Stop and remove whatever the runtime holds of pod `uid`, and free
    /// what it reserved.
    async fn teardown(&self, uid: &str) {
        let rt = &self.ctx.runtime;
        rt.stop_pod(uid, std::time::Duration::ZERO).await;
        rt.remove_pod(uid).await;
        lock(&self.admission).release(uid);
    }

    /// Sync `key` again once the node has a podCIDR.
    fn wait_for_cidr(&self, key: &str) {
        lock(&self.cidr_waiters).insert(key.to_string());
        if self.ctx.pod_cidr().is_some() {
            // It arrived meanwhile: do not wait for a change that came.
            lock(&self.cidr_waiters).remove(key);
            self.queue.add(key.to_string());
        } else {
            self.ctx.want_pod_cidr();
        }
    }

    /// Requeue the pods waiting for a podCIDR when one arrives.
    async fn release_cidr_waiters(self: Arc<Self>) {
        let mut facts = self.ctx.subscribe();
        loop {
            if facts.borrow_and_update().pod_cidr.is_some() {
                let keys: Vec<String> = lock(&self.cidr_waiters).drain().collect();
                for key in keys {
                    self.queue.add(key);
                }
            }
            if facts.changed().await.is_err() {
                return;
            }
        }
    }

    /// Now and then, remove what the runtime holds of pods the kubelet no
    /// longer knows, and forget pods the API no longer has (in case a
    /// delete event was missed).
    async fn housekeeping(self: Arc<Self>) {
        let period = self.ctx.config.status_update_frequency;
        loop {
            tokio::time::sleep(period).await;
            if !self.store.has_synced() {
                continue;
            }
            // List the runtime first: a sandbox created after this list
            // belongs to a slot that exists by then.
            let held = self.ctx.runtime.list_pods().await;
            let (uids, keys): (HashSet<String>, Vec<String>) = {
                let slots = lock(&self.slots);
                (
                    slots.values().map(|s| s.uid.clone()).collect(),
                    slots.keys().cloned().collect(),
                )
            };
            for uid in held.iter().filter(|u| !uids.contains(*u)) {
                tracing::info!(node = %self.ctx.config.name, pod_uid = %uid, "removing a pod the API no longer has");
                self.teardown(uid).await;
            }
            for key in keys.into_iter().filter(|k| self.store.get(k).is_none()) {
                self.queue.add(key);
            }
        }
    }
}
