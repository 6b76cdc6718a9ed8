//! NodeAffinity: `spec.nodeSelector` and the required node affinity
//! filter nodes; the preferred node affinity terms score them by the sum
//! of the weights of the terms a node matches.
//!
//! A node selector's terms are ORed; a term's requirements are ANDed; a
//! term with no requirements matches no node. `matchExpressions` test
//! labels (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`);
//! `matchFields` test `metadata.name` (`In`, `NotIn`).

use tug_api::core::{Node, NodeSelectorRequirement, NodeSelectorTerm};

use super::reasons;
use crate::framework::{default_normalize, FilterPlugin, ScorePlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeAffinity filter and score.
pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let Some(n) = node.node() else {
            return Err(Unfit::because(reasons::NODE_AFFINITY));
        };
        let spec = &pod.pod.spec;
        let selector_ok = spec
            .node_selector
            .iter()
            .all(|(k, v)| n.metadata.labels.get(k) == Some(v));
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        let affinity_ok = match required {
            None => true,
            Some(sel) => sel
                .node_selector_terms
                .iter()
                .any(|t| node_matches_term(t, n)),
        };
        if selector_ok && affinity_ok {
            Ok(())
        } else {
            Err(Unfit::because(reasons::NODE_AFFINITY))
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let (Some(n), Some(na)) = (
            node.node(),
            pod.pod
                .spec
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref()),
        ) else {
            return 0;
        };
        na.preferred_during_scheduling_ignored_during_execution
            .iter()
            .filter(|p| p.weight != 0 && node_matches_term(&p.preference, n))
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, _pod: &PodInfo, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

/// Whether `node` satisfies every requirement of `term` (and the term has
/// at least one).
pub fn node_matches_term(term: &NodeSelectorTerm, node: &Node) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(r, node.metadata.labels.get(&r.key).map(String::as_str)))
        && term.match_fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(&node.metadata.name))
        })
}

/// One requirement against the node's value for its key (`None`: the node
/// has no such label).
fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let listed = |v: &str| r.values.iter().any(|x| x == v);
    match r.operator.as_str() {
        "In" => value.is_some_and(listed),
        "NotIn" => !value.is_some_and(listed),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [want]) = (value, r.values.as_slice()) else {
                return false;
            };
            let (Ok(have), Ok(want)) = (have.parse::<i64>(), want.parse::<i64>()) else {
                return false;
            };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod};
    use tug_api::core::{
        Affinity, NodeAffinity as NodeAffinitySpec, NodeSelector, Pod, PreferredSchedulingTerm,
    };

    fn labelled(name: &str, labels: &[(&str, &str)]) -> NodeInfo {
        let mut n = node(name, "1", "1Gi", 10);
        for (k, v) in labels {
            n.metadata.labels.insert(k.to_string(), v.to_string());
        }
        NodeInfo::new(Arc::new(n))
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn exprs(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: reqs,
            ..Default::default()
        }
    }

    fn with_affinity(
        terms: Vec<NodeSelectorTerm>,
        preferred: Vec<(i32, NodeSelectorTerm)>,
    ) -> PodInfo {
        let mut p: Pod = pod("a");
        p.spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinitySpec {
                required_during_scheduling_ignored_during_execution: (!terms.is_empty()).then_some(
                    NodeSelector {
                        node_selector_terms: terms,
                    },
                ),
                preferred_during_scheduling_ignored_during_execution: preferred
                    .into_iter()
                    .map(|(weight, preference)| PreferredSchedulingTerm { weight, preference })
                    .collect(),
            }),
            ..Default::default()
        });
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn node_selector_needs_every_label() {
        let mut p = pod("a");
        p.spec.node_selector.insert("disk".into(), "ssd".into());
        p.spec.node_selector.insert("zone".into(), "a".into());
        let p = PodInfo::new(Arc::new(p));
        assert!(NodeAffinity
            .filter(&p, &labelled("n", &[("disk", "ssd"), ("zone", "a")]))
            .is_ok());
        assert_eq!(
            NodeAffinity.filter(&p, &labelled("n", &[("disk", "ssd")])),
            Err(Unfit::because(reasons::NODE_AFFINITY))
        );
        assert!(NodeAffinity
            .filter(&p, &labelled("n", &[("disk", "hdd"), ("zone", "a")]))
            .is_err());
    }

    #[test]
    fn every_operator() {
        let n = labelled("n1", &[("zone", "a"), ("cores", "8")]);
        let n = n.node().unwrap();
        let m = |r| node_matches_term(&exprs(vec![r]), n);
        assert!(m(req("zone", "In", &["a", "b"])));
        assert!(!m(req("zone", "In", &["b"])));
        assert!(!m(req("missing", "In", &["a"])));
        assert!(m(req("zone", "NotIn", &["b"])));
        assert!(m(req("missing", "NotIn", &["b"])));
        assert!(!m(req("zone", "NotIn", &["a"])));
        assert!(m(req("zone", "Exists", &[])));
        assert!(!m(req("missing", "Exists", &[])));
        assert!(m(req("missing", "DoesNotExist", &[])));
        assert!(!m(req("zone", "DoesNotExist", &[])));
        assert!(m(req("cores", "Gt", &["4"])));
        assert!(!m(req("cores", "Gt", &["8"])));
        assert!(m(req("cores", "Lt", &["16"])));
        assert!(!m(req("zone", "Lt", &["16"])));
        assert!(!m(req("missing", "Gt", &["1"])));
        assert!(!m(req("zone", "Bogus", &["a"])));

        let fields = |op: &str, names: &[&str]| NodeSelectorTerm {
            match_fields: vec![req("metadata.name", op, names)],
            ..Default::default()
        };
        assert!(node_matches_term(&fields("In", &["n1"]), n));
        assert!(!node_matches_term(&fields("In", &["n2"]), n));
        assert!(node_matches_term(&fields("NotIn", &["n2"]), n));
        assert!(!node_matches_term(&NodeSelectorTerm::default(), n));
    }

    #[test]
    fn required_terms_are_ored_and_requirements_anded() {
        let p = with_affinity(
            vec![
                exprs(vec![req("zone", "In", &["a"]), req("disk", "In", &["ssd"])]),
                exprs(vec![req("zone", "In", &["b"])]),
            ],
            vec![],
        );
        assert!(NodeAffinity
            .filter(&p, &labelled("n", &[("zone", "a"), ("disk", "ssd")]))
            .is_ok());
        assert!(NodeAffinity
            .filter(&p, &labelled("n", &[("zone", "a")]))
            .is_err());
        assert!(NodeAffinity
            .filter(&p, &labelled("n", &[("zone", "b")]))
            .is_ok());
    }

    #[test]
    fn preferred_terms_score_by_weight() {
        let p = with_affinity(
            vec![],
            vec![
                (10, exprs(vec![req("zone", "In", &["a"])])),
                (30, exprs(vec![req("disk", "In", &["ssd"])])),
            ],
        );
        let nodes = [
            labelled("n1", &[]),
            labelled("n2", &[("zone", "a")]),
            labelled("n3", &[("zone", "a"), ("disk", "ssd")]),
        ];
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| ScorePlugin::score(&NodeAffinity, &p, n))
            .collect();
        assert_eq!(scores, vec![0, 10, 40]);
        NodeAffinity.normalize(&p, &mut scores);
        assert_eq!(scores, vec![0, 25, 100]);
    }
}
