//! A scheduling profile: which filters run, in which order, and which
//! scores count with what weight.

use super::{FilterPlugin, ScorePlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::plugins;
use crate::pod_info::PodInfo;

/// The plugins one scheduler runs.
pub struct Profile {
    filters: Vec<Box<dyn FilterPlugin>>,
    scores: Vec<(Box<dyn ScorePlugin>, i64)>,
}

impl Default for Profile {
    /// The default plugins, in upstream's order, with upstream's weights:
    /// NodeUnschedulable, NodeName, TaintToleration, NodeReady,
    /// NodeAffinity, NodePorts, NodeResourcesFit; scores TaintToleration
    /// 3, NodeAffinity 2, NodeResourcesFit (least allocated) 1, spreading
    /// 2, BalancedAllocation 1.
    fn default() -> Self {
        Profile::new()
            .filter(plugins::NodeUnschedulable)
            .filter(plugins::NodeName)
            .filter(plugins::TaintToleration)
            .filter(plugins::NodeReady)
            .filter(plugins::NodeAffinity)
            .filter(plugins::NodePorts)
            .filter(plugins::NodeResourcesFit)
            .score(plugins::TaintToleration, 3)
            .score(plugins::NodeAffinity, 2)
            .score(plugins::LeastAllocated, 1)
            .score(plugins::SpreadByOwner, 2)
            .score(plugins::BalancedAllocation, 1)
    }
}

impl Profile {
    /// A profile with no plugins: every node fits and scores 0.
    pub fn new() -> Profile {
        Profile {
            filters: Vec::new(),
            scores: Vec::new(),
        }
    }

    /// Add a filter, run after those already added.
    pub fn filter(mut self, plugin: impl FilterPlugin + 'static) -> Profile {
        self.filters.push(Box::new(plugin));
        self
    }

    /// Add a score with its weight.
    pub fn score(mut self, plugin: impl ScorePlugin + 'static, weight: i64) -> Profile {
        self.scores.push((Box::new(plugin), weight));
        self
    }

    /// Run the filters in order; the first that rejects the node gives the
    /// reasons (as upstream, later filters do not run).
    pub fn run_filters(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        self.filters.iter().try_for_each(|f| f.filter(pod, node))
    }

    /// The weighted total score of each of `nodes` for `pod`: every score
    /// plugin's raw scores, normalized over these nodes, times its weight,
    /// summed.
    pub fn run_scores(&self, pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for (plugin, weight) in &self.scores {
            for (s, node) in scores.iter_mut().zip(nodes) {
                *s = plugin.score(pod, node);
            }
            plugin.normalize(pod, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * weight;
            }
        }
        totals
    }

    /// The names of the filters, in order.
    pub fn filter_names(&self) -> Vec<&'static str> {
        self.filters.iter().map(|f| f.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::plugins::reasons;
    use crate::testing::{node, pod_info};
    use tug_api::core::{Taint, TAINT_NODE_UNREACHABLE};

    #[test]
    fn the_first_failing_filter_gives_the_reason() {
        // A node that stopped reporting and that the node lifecycle
        // controller has tainted: the taint is what the pod is told.
        let mut n = node("n1", "1", "1Gi", 10);
        n.status.conditions[0].status = "Unknown".into();
        n.spec.taints.push(Taint {
            key: TAINT_NODE_UNREACHABLE.into(),
            effect: "NoExecute".into(),
            ..Default::default()
        });
        let info = NodeInfo::new(Arc::new(n.clone()));
        let profile = Profile::default();
        assert_eq!(
            profile.run_filters(&pod_info("a", "2", ""), &info),
            Err(Unfit::because(reasons::UNTOLERATED_TAINT))
        );
        // Before the taint, readiness itself rules the node out.
        n.spec.taints.clear();
        let info = NodeInfo::new(Arc::new(n));
        assert_eq!(
            profile.run_filters(&pod_info("a", "2", ""), &info),
            Err(Unfit::because(reasons::NOT_READY))
        );
        assert_eq!(
            profile.filter_names(),
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeReady",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit"
            ]
        );
    }

    #[test]
    fn scores_are_normalized_then_weighted() {
        let profile = Profile::new()
            .score(crate::plugins::LeastAllocated, 1)
            .score(crate::plugins::SpreadByOwner, 2);
        let a = NodeInfo::new(Arc::new(node("a", "4", "4Gi", 10)));
        let mut b = NodeInfo::new(Arc::new(node("b", "4", "4Gi", 10)));
        b.add_pod(&pod_info("other", "2", "2Gi"));
        // No spread group: spreading gives both 100 (× 2); least allocated
        // gives a (3/4 free) 75 and b (1/4 free) 25.
        let totals = profile.run_scores(&pod_info("p", "1", "1Gi"), &[&a, &b]);
        assert_eq!(totals, vec![75 + 200, 25 + 200]);
    }
}
