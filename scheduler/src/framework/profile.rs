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
