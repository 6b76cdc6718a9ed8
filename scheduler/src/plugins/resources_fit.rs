//! NodeResourcesFit: a pod fits a node when the node's allocatable CPU,
//! memory and pod count cover the pod's requests on top of everything the
//! pods already there (bound or assumed) request. Its score is
//! LeastAllocated: the more of the node stays free after placing the pod,
//! the better (requests of containers that set none count as
//! 100m / 200 MiB here, so best-effort pods spread too).

use super::reasons;
use crate::framework::{FilterPlugin, ScorePlugin, Unfit, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeResourcesFit filter.
pub struct NodeResourcesFit;

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let alloc = node.allocatable();
        let used = node.requested();
        let want = pod.requests;
        let mut unfit = Vec::new();
        if node.pod_count() as i64 + 1 > alloc.pods {
            unfit.push(reasons::TOO_MANY_PODS);
        }
        if want.milli_cpu > 0 && want.milli_cpu > alloc.milli_cpu - used.milli_cpu {
            unfit.push(reasons::INSUFFICIENT_CPU);
        }
        if want.memory > 0 && want.memory > alloc.memory - used.memory {
            unfit.push(reasons::INSUFFICIENT_MEMORY);
        }
        if unfit.is_empty() {
            Ok(())
        } else {
            Err(Unfit(unfit))
        }
    }
}

/// The NodeResourcesFit score with the LeastAllocated strategy (cpu and
/// memory weighted 1 each).
pub struct LeastAllocated;

impl ScorePlugin for LeastAllocated {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let alloc = node.allocatable();
        let requested = node.non_zero_requested().plus(pod.non_zero_requests);
        let mut sum = 0;
        let mut weights = 0;
        for (req, cap) in [
            (requested.milli_cpu, alloc.milli_cpu),
            (requested.memory, alloc.memory),
        ] {
            if cap == 0 {
                continue;
            }
            sum += least_requested(req, cap);
            weights += 1;
        }
        if weights == 0 {
            0
        } else {
            sum / weights
        }
    }
}

/// The share of `capacity` left free after `requested`, 0..=100.
fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    // i128: memory in bytes times 100 must not overflow.
    ((i128::from(capacity - requested) * i128::from(MAX_NODE_SCORE)) / i128::from(capacity)) as i64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod_info};

    fn node_with(cpu: &str, mem: &str, pods: i64, placed: &[PodInfo]) -> NodeInfo {
        let mut n = NodeInfo::new(Arc::new(node("n1", cpu, mem, pods)));
        for p in placed {
            n.add_pod(p);
        }
        n
    }

    #[test]
    fn requests_must_fit_what_is_left() {
        let n = node_with("2", "4Gi", 10, &[pod_info("a", "1500m", "1Gi")]);
        assert!(NodeResourcesFit
            .filter(&pod_info("b", "500m", "3Gi"), &n)
            .is_ok());
        assert_eq!(
            NodeResourcesFit.filter(&pod_info("c", "501m", "1Gi"), &n),
            Err(Unfit(vec![reasons::INSUFFICIENT_CPU]))
        );
        assert_eq!(
            NodeResourcesFit.filter(&pod_info("d", "1", "4Gi"), &n),
            Err(Unfit(vec![
                reasons::INSUFFICIENT_CPU,
                reasons::INSUFFICIENT_MEMORY
            ]))
        );
        // A pod without requests always fits the resources.
        assert!(NodeResourcesFit.filter(&pod_info("e", "", ""), &n).is_ok());
    }

    #[test]
    fn the_pod_count_is_capped_by_allocatable_pods() {
        let n = node_with(
            "2",
            "4Gi",
            2,
            &[pod_info("a", "", ""), pod_info("b", "", "")],
        );
        assert_eq!(
            NodeResourcesFit.filter(&pod_info("c", "", ""), &n),
            Err(Unfit(vec![reasons::TOO_MANY_PODS]))
        );
        assert_eq!(
            NodeResourcesFit.filter(&pod_info("d", "10", ""), &n),
            Err(Unfit(vec![
                reasons::TOO_MANY_PODS,
                reasons::INSUFFICIENT_CPU
            ]))
        );
    }

    #[test]
    fn least_allocated_prefers_the_emptier_node() {
        let empty = node_with("4", "8Gi", 10, &[]);
        let busy = node_with("4", "8Gi", 10, &[pod_info("a", "2", "4Gi")]);
        let p = pod_info("p", "1", "2Gi");
        // Empty: (3/4 cpu free, 6/8 memory free) → 75.
        assert_eq!(LeastAllocated.score(&p, &empty), 75);
        // Busy: 1/4 and 2/8 free → 25.
        assert_eq!(LeastAllocated.score(&p, &busy), 25);
        // Overcommitted resources score 0.
        // (cpu 0 + memory 87) / 2.
        assert_eq!(LeastAllocated.score(&pod_info("q", "8", "1Gi"), &empty), 43);
    }

    #[test]
    fn best_effort_pods_count_default_requests_when_scoring() {
        let a = node_with("1", "1Gi", 10, &[pod_info("x", "", "")]);
        let b = node_with("1", "1Gi", 10, &[]);
        let p = pod_info("p", "", "");
        assert!(LeastAllocated.score(&p, &b) > LeastAllocated.score(&p, &a));
    }
}
