//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep out
//! every pod that does not tolerate them; `PreferNoSchedule` taints only
//! lower the node's score, by how many of them the pod does not tolerate.

use tug_api::core::Toleration;

use super::reasons;
use crate::framework::{default_normalize, FilterPlugin, ScorePlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The TaintToleration filter and score.
pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let Some(n) = node.node() else {
            return Ok(());
        };
        let tolerations = &pod.pod.spec.tolerations;
        let untolerated = n.spec.taints.iter().any(|taint| {
            matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
                && !tolerations.iter().any(|t| t.tolerates(taint))
        });
        if untolerated {
            Err(Unfit::because(reasons::UNTOLERATED_TAINT))
        } else {
            Ok(())
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    /// How many `PreferNoSchedule` taints the pod does not tolerate (only
    /// tolerations for that effect, or for every effect, count).
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(n) = node.node() else {
            return 0;
        };
        let prefer: Vec<&Toleration> = pod
            .pod
            .spec
            .tolerations
            .iter()
            .filter(|t| t.effect.is_empty() || t.effect == "PreferNoSchedule")
            .collect();
        n.spec
            .taints
            .iter()
            .filter(|taint| taint.effect == "PreferNoSchedule")
            .filter(|taint| !prefer.iter().any(|t| t.tolerates(taint)))
            .count() as i64
    }

    fn normalize(&self, _pod: &PodInfo, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod};
    use tug_api::core::{Node, Taint};

    fn tainted(effects: &[(&str, &str)]) -> NodeInfo {
        let mut n: Node = node("n1", "1", "1Gi", 10);
        for (key, effect) in effects {
            n.spec.taints.push(Taint {
                key: key.to_string(),
                value: "v".into(),
                effect: effect.to_string(),
                time_added: None,
            });
        }
        NodeInfo::new(Arc::new(n))
    }

    fn tolerating(key: &str, effect: &str) -> PodInfo {
        let mut p = pod("a");
        p.spec.tolerations.push(Toleration {
            key: key.into(),
            operator: "Exists".into(),
            effect: effect.into(),
            ..Default::default()
        });
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn no_schedule_and_no_execute_taints_must_be_tolerated() {
        let plain = PodInfo::new(Arc::new(pod("a")));
        for effect in ["NoSchedule", "NoExecute"] {
            let n = tainted(&[("dedicated", effect)]);
            assert_eq!(
                TaintToleration.filter(&plain, &n),
                Err(Unfit::because(reasons::UNTOLERATED_TAINT))
            );
            assert!(TaintToleration
                .filter(&tolerating("dedicated", effect), &n)
                .is_ok());
            assert!(TaintToleration
                .filter(&tolerating("dedicated", ""), &n)
                .is_ok());
            assert!(TaintToleration
                .filter(&tolerating("other", ""), &n)
                .is_err());
        }
        // PreferNoSchedule never filters.
        assert!(TaintToleration
            .filter(&plain, &tainted(&[("soft", "PreferNoSchedule")]))
            .is_ok());
    }

    #[test]
    fn untolerated_prefer_no_schedule_taints_lower_the_score() {
        let plain = PodInfo::new(Arc::new(pod("a")));
        let nodes = [
            tainted(&[]),
            tainted(&[("soft", "PreferNoSchedule")]),
            tainted(&[("soft", "PreferNoSchedule"), ("b", "PreferNoSchedule")]),
        ];
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| ScorePlugin::score(&TaintToleration, &plain, n))
            .collect();
        assert_eq!(scores, vec![0, 1, 2]);
        TaintToleration.normalize(&plain, &mut scores);
        assert_eq!(scores, vec![100, 50, 0]);

        // A NoSchedule toleration does not excuse a PreferNoSchedule taint.
        let wrong = tolerating("soft", "NoSchedule");
        assert_eq!(ScorePlugin::score(&TaintToleration, &wrong, &nodes[1]), 1);
        let right = tolerating("soft", "PreferNoSchedule");
        assert_eq!(ScorePlugin::score(&TaintToleration, &right, &nodes[1]), 0);
    }
}
