//! What the scheduler does with informer events: bound pods and nodes go
//! into the [`Cache`]; unbound pods this scheduler is responsible for go
//! into the [`SchedulingQueue`]; changes that may let waiting pods fit
//! (a node added or changed in a way that matters, a bound pod deleted or
//! finished) move the unschedulable pods back for another try.
//!
//! Handlers run on the informer's task after its store is updated; they
//! only take short locks.

use std::sync::{Arc, Mutex, MutexGuard};

use tug_api::core::{is_pod_terminal, Node, Pod, DEFAULT_SCHEDULER_NAME};
use tug_client::Event;

use crate::cache::{counts_on_node, Cache};
use crate::queue::SchedulingQueue;

/// The informer handlers of one scheduler.
#[derive(Clone)]
pub struct Handlers {
    cache: Arc<Mutex<Cache>>,
    queue: Arc<SchedulingQueue>,
    scheduler_name: Arc<str>,
}

/// Whether the scheduler named `scheduler_name` should place `pod`: it is
/// unbound, names this scheduler (an empty name means the default one),
/// is not finished or being deleted, and has no scheduling gates.
pub fn is_responsible(scheduler_name: &str, pod: &Pod) -> bool {
    let wanted = if pod.spec.scheduler_name.is_empty() {
        DEFAULT_SCHEDULER_NAME
    } else {
        pod.spec.scheduler_name.as_str()
    };
    pod.spec.node_name.is_empty()
        && wanted == scheduler_name
        && !is_pod_terminal(pod)
        && pod.metadata.deletion_timestamp.is_none()
        && pod.spec.scheduling_gates.is_empty()
}

/// Whether a node update may let a waiting pod fit (or stop fitting):
/// heartbeats alone do not.
fn node_changed_for_scheduling(old: &Node, new: &Node) -> bool {
    let ready = |n: &Node| n.condition("Ready").map(|c| c.status.clone());
    old.status.allocatable != new.status.allocatable
        || old.status.capacity != new.status.capacity
        || old.metadata.labels != new.metadata.labels
        || old.spec.taints != new.spec.taints
        || old.spec.unschedulable != new.spec.unschedulable
        || ready(old) != ready(new)
}

fn key_of(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace, pod.metadata.name)
}

impl Handlers {
    /// Handlers filling `cache` and `queue` for `scheduler_name`.
    pub fn new(
        cache: Arc<Mutex<Cache>>,
        queue: Arc<SchedulingQueue>,
        scheduler_name: &str,
    ) -> Handlers {
        Handlers {
            cache,
            queue,
            scheduler_name: scheduler_name.into(),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn responsible(&self, pod: &Pod) -> bool {
        is_responsible(&self.scheduler_name, pod)
    }

    /// A pod event.
    pub fn on_pod(&self, event: &Event<Pod>) {
        if event.is_resync() {
            return;
        }
        match event {
            Event::Added(pod) => {
                if counts_on_node(pod) {
                    self.cache().update_pod(pod.clone());
                } else if self.responsible(pod) {
                    self.queue.add(pod.clone());
                }
            }
            Event::Updated { old, new } => {
                let was_counted = counts_on_node(old);
                if was_counted || counts_on_node(new) {
                    self.cache().update_pod(new.clone());
                }
                if self.responsible(new) {
                    self.queue.update(new.clone());
                } else {
                    self.queue.delete(&key_of(new));
                }
                if was_counted && !counts_on_node(new) {
                    // Finished: its resources are free.
                    self.queue.move_all_to_active_or_backoff();
                }
            }
            Event::Deleted(pod) => {
                self.cache().remove_pod(pod);
                self.queue.delete(&key_of(pod));
                if counts_on_node(pod) {
                    self.queue.move_all_to_active_or_backoff();
                }
            }
        }
    }

    /// A node event.
    pub fn on_node(&self, event: &Event<Node>) {
        if event.is_resync() {
            return;
        }
        match event {
            Event::Added(node) => {
                self.cache().set_node(node.clone());
                self.queue.move_all_to_active_or_backoff();
            }
            Event::Updated { old, new } => {
                self.cache().set_node(new.clone());
                if node_changed_for_scheduling(old, new) {
                    self.queue.move_all_to_active_or_backoff();
                }
            }
            Event::Deleted(node) => self.cache().remove_node(&node.metadata.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueConfig;
    use crate::testing::{node, pod_with};
    use tug_api::Time;

    fn handlers() -> Handlers {
        Handlers::new(
            Arc::new(Mutex::new(Cache::new())),
            Arc::new(SchedulingQueue::new(QueueConfig::default())),
            "default-scheduler",
        )
    }

    #[test]
    fn only_unbound_live_ungated_pods_of_ours_are_queued() {
        let p = pod_with("a", "", "");
        assert!(is_responsible("default-scheduler", &p));
        let mut unnamed = p.clone();
        unnamed.spec.scheduler_name.clear();
        assert!(is_responsible("default-scheduler", &unnamed));
        assert!(!is_responsible("other", &p));
        let mut bound = p.clone();
        bound.spec.node_name = "n1".into();
        assert!(!is_responsible("default-scheduler", &bound));
        let mut done = p.clone();
        done.status.phase = "Failed".into();
        assert!(!is_responsible("default-scheduler", &done));
        let mut deleting = p.clone();
        deleting.metadata.deletion_timestamp = Some(Time::now());
        assert!(!is_responsible("default-scheduler", &deleting));
        let mut gated = p;
        gated
            .spec
            .scheduling_gates
            .push(tug_api::core::PodSchedulingGate {
                name: "wait".into(),
            });
        assert!(!is_responsible("default-scheduler", &gated));
    }

    #[test]
    fn binding_moves_a_pod_from_the_queue_to_the_cache() {
        let h = handlers();
        h.on_node(&Event::Added(Arc::new(node("n1", "2", "2Gi", 10))));
        let unbound = Arc::new(pod_with("a", "1", ""));
        h.on_pod(&Event::Added(unbound.clone()));
        assert!(h.queue.contains("default/a"));
        let mut b = (*unbound).clone();
        b.spec.node_name = "n1".into();
        h.on_pod(&Event::Updated {
            old: unbound,
            new: Arc::new(b.clone()),
        });
        assert!(!h.queue.contains("default/a"));
        assert_eq!(h.cache().node("n1").unwrap().requested().milli_cpu, 1000);
        h.on_pod(&Event::Deleted(Arc::new(b)));
        assert_eq!(h.cache().node("n1").unwrap().requested().milli_cpu, 0);
    }

    #[test]
    fn heartbeats_do_not_count_as_node_changes() {
        let old = node("n1", "2", "2Gi", 10);
        let mut beat = old.clone();
        beat.status.conditions[0].last_heartbeat_time = Some(Time::now());
        assert!(!node_changed_for_scheduling(&old, &beat));
        let mut tainted = old.clone();
        tainted.spec.taints.push(Default::default());
        assert!(node_changed_for_scheduling(&old, &tainted));
        let mut down = old.clone();
        down.status.conditions[0].status = "Unknown".into();
        assert!(node_changed_for_scheduling(&old, &down));
    }
}
