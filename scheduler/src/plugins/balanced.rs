//! NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory
//! would be used in the same proportion after placing the pod, so neither
//! runs out while the other sits idle. Score = (1 − standard deviation of
//! the used fractions) × 100, over actual requests. Pods that request
//! nothing score 0 everywhere (upstream skips them).

use crate::framework::{ScorePlugin, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeResourcesBalancedAllocation score.
pub struct BalancedAllocation;

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
            return 0;
        }
        let alloc = node.allocatable();
        let requested = node.requested().plus(pod.requests);
        let fractions: Vec<f64> = [
            (requested.milli_cpu, alloc.milli_cpu),
            (requested.memory, alloc.memory),
        ]
        .into_iter()
        .filter(|(_, cap)| *cap > 0)
        .map(|(req, cap)| (req as f64 / cap as f64).min(1.0))
        .collect();
        if fractions.is_empty() {
            return 0;
        }
        let n = fractions.len() as f64;
        let mean = fractions.iter().sum::<f64>() / n;
        let variance = fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n;
        ((1.0 - variance.sqrt()) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod_info};

    #[test]
    fn even_use_of_cpu_and_memory_scores_higher() {
        let n = NodeInfo::new(Arc::new(node("n1", "4", "4Gi", 10)));
        // 50% cpu, 50% memory: perfectly balanced.
        assert_eq!(
            BalancedAllocation.score(&pod_info("a", "2", "2Gi"), &n),
            100
        );
        // 100% cpu, 0% memory: std 0.5.
        assert_eq!(BalancedAllocation.score(&pod_info("b", "4", ""), &n), 50);
        // 75% / 25%: std 0.25.
        assert_eq!(BalancedAllocation.score(&pod_info("c", "3", "1Gi"), &n), 75);
        assert_eq!(BalancedAllocation.score(&pod_info("d", "", ""), &n), 0);
    }

    #[test]
    fn the_pods_already_there_count() {
        let mut n = NodeInfo::new(Arc::new(node("n1", "4", "4Gi", 10)));
        n.add_pod(&pod_info("mem-hog", "", "2Gi"));
        // The cpu-heavy pod evens the node out: 50% / 50%.
        assert_eq!(BalancedAllocation.score(&pod_info("cpu", "2", ""), &n), 100);
    }
}
