//! The plugin framework, as kube-scheduler's reduced to what Tugboat
//! uses: **filter** plugins say whether a pod may run on a node (and why
//! not), **score** plugins rank the nodes that may run it. Every plugin is
//! a pure function of a [`PodInfo`] and a [`NodeInfo`], so it is tested on
//! its own and costs nothing but arithmetic per node.

mod fit_error;
mod profile;

pub use fit_error::{Diagnosis, FitError};
pub use profile::Profile;

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The highest score a plugin gives a node (upstream `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Why a node cannot run a pod: one or more reasons, each counted in the
/// `FailedScheduling` message (`Insufficient cpu`, `node(s) were
/// unschedulable`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfit(pub Vec<&'static str>);

impl Unfit {
    /// A single reason.
    pub fn because(reason: &'static str) -> Unfit {
        Unfit(vec![reason])
    }
}

/// Decides whether a node may run a pod.
pub trait FilterPlugin: Send + Sync {
    /// The plugin's upstream name.
    fn name(&self) -> &'static str;
    /// `Ok` when `node` may run `pod`, else the reasons it may not.
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit>;
}

/// Ranks the nodes that passed the filters.
pub trait ScorePlugin: Send + Sync {
    /// The plugin's upstream name.
    fn name(&self) -> &'static str;
    /// The node's raw score for `pod`.
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64;
    /// Bring the raw scores of all scored nodes to 0..=100 (the default
    /// keeps them: plugins that already score in that range).
    fn normalize(&self, _pod: &PodInfo, _scores: &mut [i64]) {}
}

/// Scale `scores` to 0..=`MAX_NODE_SCORE` by the highest one, reversed
/// when fewer is better (upstream `helper.DefaultNormalizeScore`). When all
/// are 0 they stay 0, or all become the maximum when reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_scales_by_the_highest_score() {
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, vec![100, 100]);
        let mut s = vec![0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, vec![0, 0]);
    }
}
