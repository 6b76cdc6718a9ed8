//! Why a pod fits no node, in the words `kubectl describe` shows:
//! `0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.`

use std::collections::HashMap;
use std::fmt;

use super::Unfit;

/// How many nodes failed for each reason during one scheduling attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    reasons: HashMap<&'static str, usize>,
}

impl Diagnosis {
    /// Count one node's reasons.
    pub fn record(&mut self, unfit: &Unfit) {
        for reason in &unfit.0 {
            *self.reasons.entry(reason).or_default() += 1;
        }
    }

    /// How many nodes failed for `reason`.
    pub fn count(&self, reason: &str) -> usize {
        self.reasons.get(reason).copied().unwrap_or(0)
    }
}

/// No node can run the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// How many nodes the cluster has.
    pub num_all_nodes: usize,
    /// Why each failed.
    pub diagnosis: Diagnosis,
}

/// The message when the cluster has no nodes at all (upstream
/// `ErrNoNodesAvailable`).
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

impl fmt::Display for FitError {
    /// Upstream `FitError.Error()`: `0/N nodes are available:` then
    /// `<count> <reason>` per reason, those strings sorted (so by count
    /// first, as Go's `sort.Strings` orders them), joined with `, `, and a
    /// final `.`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            return f.write_str(NO_NODES_AVAILABLE);
        }
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        let mut parts: Vec<String> = self
            .diagnosis
            .reasons
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        parts.sort();
        if !parts.is_empty() {
            write!(f, " {}.", parts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_error(nodes: usize, unfit: &[&[&'static str]]) -> String {
        let mut diagnosis = Diagnosis::default();
        for reasons in unfit {
            diagnosis.record(&Unfit(reasons.to_vec()));
        }
        FitError {
            num_all_nodes: nodes,
            diagnosis,
        }
        .to_string()
    }

    #[test]
    fn reasons_are_counted_and_sorted_as_upstream() {
        assert_eq!(
            fit_error(
                3,
                &[
                    &["Insufficient cpu"],
                    &["node(s) were unschedulable"],
                    &["Insufficient cpu"],
                ]
            ),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
        );
        // A node short of both cpu and memory counts for each.
        assert_eq!(
            fit_error(
                2,
                &[
                    &["Insufficient cpu", "Insufficient memory"],
                    &["Insufficient cpu"]
                ]
            ),
            "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."
        );
        assert_eq!(
            fit_error(
                4,
                &[
                    &["node(s) had untolerated taint(s)"],
                    &["Too many pods"],
                    &["node(s) didn't match Pod's node affinity/selector"],
                    &["node(s) didn't have free ports for the requested pod ports"],
                ]
            ),
            "0/4 nodes are available: 1 Too many pods, \
             1 node(s) didn't have free ports for the requested pod ports, \
             1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint(s)."
        );
    }

    #[test]
    fn no_nodes_at_all() {
        assert_eq!(fit_error(0, &[]), "no nodes available to schedule pods");
    }
}
