//! Spreading pods of the same owner over nodes (upstream's default
//! topology spreading by hostname, in the SelectorSpread form): the fewer
//! pods of the pod's group a node already has (bound or assumed), the
//! higher its score — `100 × (max − count) / max` over the scored nodes.
//! A pod's group is its controller (the ReplicaSet), else its exact labels
//! (see [`spread_key`](crate::pod_info::spread_key)).
//!
//! Weighted 2 against the resource scores' 1, it is what makes a
//! 9-replica Deployment land 3/3/3 on three equal nodes.

use crate::framework::{ScorePlugin, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The spreading score.
pub struct SpreadByOwner;

impl ScorePlugin for SpreadByOwner {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    /// How many pods of the group the node has.
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        pod.spread_key
            .as_deref()
            .map_or(0, |key| i64::from(node.spread_count(key)))
    }

    fn normalize(&self, _pod: &PodInfo, scores: &mut [i64]) {
        let max = scores.iter().copied().max().unwrap_or(0);
        for s in scores.iter_mut() {
            *s = if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max - *s) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod};
    use tug_api::OwnerReference;

    fn owned(name: &str, owner: &str) -> PodInfo {
        let mut p = pod(name);
        p.metadata.owner_references.push(OwnerReference {
            uid: owner.into(),
            controller: Some(true),
            ..Default::default()
        });
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn nodes_with_fewer_siblings_score_higher() {
        let mut nodes: Vec<NodeInfo> = (0..3)
            .map(|i| NodeInfo::new(Arc::new(node(&format!("n{i}"), "1", "1Gi", 10))))
            .collect();
        nodes[0].add_pod(&owned("a", "rs1"));
        nodes[0].add_pod(&owned("b", "rs1"));
        nodes[1].add_pod(&owned("c", "rs1"));
        // Pods of another owner do not count.
        nodes[2].add_pod(&owned("x", "rs2"));
        nodes[2].add_pod(&owned("y", "rs2"));
        let p = owned("p", "rs1");
        let mut scores: Vec<i64> = nodes.iter().map(|n| SpreadByOwner.score(&p, n)).collect();
        assert_eq!(scores, vec![2, 1, 0]);
        SpreadByOwner.normalize(&p, &mut scores);
        assert_eq!(scores, vec![0, 50, 100]);

        // A pod with no group scores every node alike.
        let loner = PodInfo::new(Arc::new(pod("loner")));
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| SpreadByOwner.score(&loner, n))
            .collect();
        SpreadByOwner.normalize(&loner, &mut scores);
        assert_eq!(scores, vec![100, 100, 100]);
    }
}
