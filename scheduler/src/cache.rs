//! The scheduler cache: every node with the pods that take its resources,
//! built incrementally from the informers, plus the pods the scheduler has
//! *assumed* onto nodes while their bindings are in flight.
//!
//! Assume-cache rules (upstream `internal/cache`):
//!
//! - A pod is assumed on its node, under the same lock as the decision,
//!   *before* the binding request is sent, so the next decision already
//!   sees its resources taken: two pods never double-book a node however
//!   many bindings are in flight.
//! - The assumption is **confirmed** when the informer shows the pod bound
//!   (to that node or, if someone else bound it, to another one: the pod
//!   moves there).
//! - It is **forgotten** only when the binding failed. A successful binding
//!   whose informer event has not arrived yet stays assumed, so nothing is
//!   freed early.
//!
//! Pods are keyed by UID, so a pod deleted and recreated under the same
//! name is never mistaken for the one whose binding is in flight.

use std::collections::HashMap;
use std::sync::Arc;

use tug_api::core::{is_pod_terminal, Node, Pod};

use crate::node_info::NodeInfo;
use crate::pod_info::{uid_of, PodInfo};

/// A pod the cache counts on a node.
#[derive(Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    /// Placed by this scheduler; the informer has not shown it bound yet.
    assumed: bool,
}

/// Why a pod cannot be assumed.
#[derive(Debug, PartialEq, Eq)]
pub enum AssumeError {
    /// The pod is already counted on a node.
    AlreadyPresent,
    /// The node is not in the cache.
    UnknownNode,
}

/// Nodes and the pods counted on them.
#[derive(Debug, Default)]
pub struct Cache {
    /// Every node that has a Node object or pods counted on it.
    nodes: HashMap<String, NodeInfo>,
    /// Names of the nodes with a Node object, in the order decisions scan
    /// them (round-robin from a moving start).
    order: Vec<String>,
    /// Counted pods by UID.
    pods: HashMap<String, PodState>,
}

/// Whether a pod takes resources on its node as far as scheduling is
/// concerned: bound and not finished. (Terminating pods still hold their
/// resources until they are gone.)
pub fn counts_on_node(pod: &Pod) -> bool {
    !pod.spec.node_name.is_empty() && !is_pod_terminal(pod)
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// How many nodes (with a Node object) there are.
    pub fn node_count(&self) -> usize {
        self.order.len()
    }

    /// The `i`th node in scan order (`i < node_count()`).
    pub fn node_at(&self, i: usize) -> &NodeInfo {
        &self.nodes[&self.order[i]]
    }

    /// The node `name`, if it has a Node object.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).filter(|n| n.node().is_some())
    }

    /// How many pods are counted (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Add or update a Node.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone();
        let info = self.nodes.entry(name.clone()).or_default();
        let is_new = info.node().is_none();
        info.set_node(Some(node));
        if is_new {
            self.order.push(name);
        }
    }

    /// Remove a Node. Pods still counted on it stay until they are
    /// removed themselves.
    pub fn remove_node(&mut self, name: &str) {
        let Some(info) = self.nodes.get_mut(name) else {
            return;
        };
        info.set_node(None);
        if info.pod_count() == 0 {
            self.nodes.remove(name);
        }
        self.order.retain(|n| n != name);
    }

    /// Record `pod` as the informer shows it: count it on its node when it
    /// is bound and not finished (confirming an assumption), stop counting
    /// it otherwise. Unbound pods that are not assumed are ignored.
    pub fn update_pod(&mut self, pod: Arc<Pod>) {
        if !counts_on_node(&pod) {
            let uid = uid_of(&pod);
            // An unbound pod keeps its assumption (binding in flight); a
            // finished one is gone for good.
            if self.pods.get(&uid).is_some_and(|s| !s.assumed) {
                self.remove_pod_by_uid(&uid);
            }
            return;
        }
        let info = Arc::new(PodInfo::new(pod));
        let node = info.pod.spec.node_name.clone();
        self.remove_pod_by_uid(&info.uid);
        self.insert(info, node, false);
    }

    /// Stop counting the pod (it was deleted).
    pub fn remove_pod(&mut self, pod: &Pod) {
        self.remove_pod_by_uid(&uid_of(pod));
    }

    /// Count `pod` on `node` before its binding is sent.
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), AssumeError> {
        if self.pods.contains_key(&pod.uid) {
            return Err(AssumeError::AlreadyPresent);
        }
        if self.node(node).is_none() {
            return Err(AssumeError::UnknownNode);
        }
        self.insert(pod, node.to_string(), true);
        Ok(())
    }

    /// Whether the pod with `uid` is assumed (its binding is in flight or
    /// done but not yet seen).
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|s| s.assumed)
    }

    /// Whether the pod with `uid` is counted on some node (bound or assumed).
    pub fn contains_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// The binding failed: undo the assumption. A pod the informer has
    /// meanwhile shown bound is left alone.
    pub fn forget(&mut self, uid: &str) {
        if self.is_assumed(uid) {
            self.remove_pod_by_uid(uid);
        }
    }

    fn insert(&mut self, info: Arc<PodInfo>, node: String, assumed: bool) {
        self.nodes.entry(node.clone()).or_default().add_pod(&info);
        self.pods.insert(
            info.uid.clone(),
            PodState {
                info,
                node,
                assumed,
            },
        );
    }

    fn remove_pod_by_uid(&mut self, uid: &str) {
        let Some(state) = self.pods.remove(uid) else {
            return;
        };
        if let Some(info) = self.nodes.get_mut(&state.node) {
            info.remove_pod(&state.info);
            if info.node().is_none() && info.pod_count() == 0 {
                self.nodes.remove(&state.node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod_with};

    fn bound(name: &str, cpu: &str, node: &str) -> Arc<Pod> {
        let mut p = pod_with(name, cpu, "");
        p.spec.node_name = node.into();
        Arc::new(p)
    }

    fn cpu_on(cache: &Cache, node: &str) -> i64 {
        cache.nodes[node].requested().milli_cpu
    }

    #[test]
    fn assumed_pods_hold_resources_until_confirmed_or_forgotten() {
        let mut cache = Cache::new();
        cache.set_node(Arc::new(node("n1", "2", "4Gi", 10)));
        let a = Arc::new(PodInfo::new(Arc::new(pod_with("a", "1", ""))));
        cache.assume(a.clone(), "n1").unwrap();
        assert_eq!(cpu_on(&cache, "n1"), 1000);
        assert!(cache.is_assumed(&a.uid));
        assert_eq!(
            cache.assume(a.clone(), "n1"),
            Err(AssumeError::AlreadyPresent)
        );

        // The informer still shows it unbound: the assumption stays.
        cache.update_pod(a.pod.clone());
        assert_eq!(cpu_on(&cache, "n1"), 1000);

        // The informer shows it bound: confirmed, counted once.
        cache.update_pod(bound("a", "1", "n1"));
        assert!(!cache.is_assumed(&a.uid));
        assert_eq!(cpu_on(&cache, "n1"), 1000);
        // Forgetting a confirmed pod does nothing.
        cache.forget(&a.uid);
        assert_eq!(cpu_on(&cache, "n1"), 1000);

        let b = Arc::new(PodInfo::new(Arc::new(pod_with("b", "500m", ""))));
        cache.assume(b.clone(), "n1").unwrap();
        assert_eq!(cpu_on(&cache, "n1"), 1500);
        cache.forget(&b.uid);
        assert_eq!(cpu_on(&cache, "n1"), 1000);
        assert_eq!(cache.pod_count(), 1);
    }

    #[test]
    fn a_pod_bound_elsewhere_moves_there() {
        let mut cache = Cache::new();
        cache.set_node(Arc::new(node("n1", "2", "4Gi", 10)));
        cache.set_node(Arc::new(node("n2", "2", "4Gi", 10)));
        let a = Arc::new(PodInfo::new(Arc::new(pod_with("a", "1", ""))));
        cache.assume(a.clone(), "n1").unwrap();
        cache.update_pod(bound("a", "1", "n2"));
        assert_eq!(cpu_on(&cache, "n1"), 0);
        assert_eq!(cpu_on(&cache, "n2"), 1000);
    }

    #[test]
    fn finished_and_deleted_pods_free_their_node() {
        let mut cache = Cache::new();
        cache.set_node(Arc::new(node("n1", "2", "4Gi", 10)));
        cache.update_pod(bound("a", "1", "n1"));
        cache.update_pod(bound("b", "1", "n1"));
        assert_eq!(cpu_on(&cache, "n1"), 2000);
        let mut done = (*bound("a", "1", "n1")).clone();
        done.status.phase = "Succeeded".into();
        cache.update_pod(Arc::new(done));
        assert_eq!(cpu_on(&cache, "n1"), 1000);
        cache.remove_pod(&bound("b", "1", "n1"));
        assert_eq!(cpu_on(&cache, "n1"), 0);
        assert_eq!(cache.pod_count(), 0);
    }

    #[test]
    fn pods_on_unknown_nodes_wait_for_their_node() {
        let mut cache = Cache::new();
        cache.update_pod(bound("a", "1", "later"));
        assert_eq!(cache.node_count(), 0);
        cache.set_node(Arc::new(node("later", "2", "4Gi", 10)));
        assert_eq!(cache.node_count(), 1);
        assert_eq!(cache.node_at(0).requested().milli_cpu, 1000);
        assert_eq!(cache.node_at(0).pod_count(), 1);

        cache.remove_node("later");
        assert_eq!(cache.node_count(), 0);
        assert!(cache.node("later").is_none());
        // The pod's resources are still accounted until it goes.
        cache.remove_pod(&bound("a", "1", "later"));
        assert!(cache.nodes.is_empty());
    }

    #[test]
    fn a_recreated_pod_is_not_the_assumed_one() {
        let mut cache = Cache::new();
        cache.set_node(Arc::new(node("n1", "2", "4Gi", 10)));
        let old = Arc::new(PodInfo::new(Arc::new(pod_with("a", "1", ""))));
        cache.assume(old.clone(), "n1").unwrap();
        let mut again = pod_with("a", "1", "");
        again.metadata.uid = "uid-a-2".into();
        let again = Arc::new(PodInfo::new(Arc::new(again)));
        assert!(!cache.is_assumed(&again.uid));
        cache.assume(again, "n1").unwrap();
        assert_eq!(cpu_on(&cache, "n1"), 2000);
    }
}
