//! Scaling a Deployment whose `spec.replicas` changed, possibly in the
//! middle of a rollout (`scale` in `sync.go` upstream).
//!
//! - With one active ReplicaSet (or none), that one (or the newest) simply
//!   takes the new size.
//! - When the new ReplicaSet is saturated (all replicas, all available),
//!   the old ones go to 0.
//! - Otherwise, during a rolling update, the pods the Deployment may now
//!   have (`replicas + maxSurge`) are shared out in proportion to each
//!   active ReplicaSet's size when it was last sized (its `max-replicas`
//!   annotation), largest first; whatever rounding leaves over goes to the
//!   largest.

use std::cmp::Ordering;

use tug_api::apps::{Deployment, ReplicaSet};

use super::annotations::{desired_replicas_annotation, max_replicas_annotation};
use super::replicas::{
    by_creation, by_size_newer, by_size_older, desired, is_rolling_update, max_surge, size,
};

/// One write of a scaling plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleStep {
    /// The ReplicaSet.
    pub name: String,
    /// Its new `spec.replicas`.
    pub replicas: i32,
    /// Also refresh its replica annotations when the size stays the same
    /// (proportional scaling re-marks every active ReplicaSet).
    pub sync_annotations: bool,
}

fn step(rs: &ReplicaSet, replicas: i32, sync_annotations: bool) -> ScaleStep {
    ScaleStep {
        name: rs.metadata.name.clone(),
        replicas,
        sync_annotations,
    }
}

/// The single ReplicaSet that should take all replicas: the only active
/// one, or the new (else the newest) when none is active; `None` when
/// several are active (`FindActiveOrLatest`).
pub fn find_active_or_latest<'a>(
    new: Option<&'a ReplicaSet>,
    old: &[&'a ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let mut old = old.to_vec();
    old.sort_by(|a, b| by_creation(b, a));
    let active: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| size(rs) > 0)
        .collect();
    match active.len() {
        0 => new.or_else(|| old.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

/// The new ReplicaSet has all the Deployment's replicas, sized for the
/// current `spec.replicas`, all available (`IsSaturated`).
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else {
        return false;
    };
    size(rs) == desired(d)
        && desired_replicas_annotation(rs) == Some(desired(d))
        && rs.status.available_replicas == desired(d)
}

/// The writes that bring the ReplicaSets to the Deployment's new size.
pub fn plan_scale(d: &Deployment, new: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> Vec<ScaleStep> {
    if let Some(rs) = find_active_or_latest(new, old) {
        if size(rs) == desired(d) {
            return Vec::new();
        }
        return vec![step(rs, desired(d), false)];
    }
    if is_saturated(d, new) {
        return old
            .iter()
            .filter(|rs| size(rs) > 0)
            .map(|rs| step(rs, 0, false))
            .collect();
    }
    if !is_rolling_update(d) {
        return Vec::new();
    }
    let mut active: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| size(rs) > 0)
        .collect();
    let current: i32 = active.iter().map(|rs| size(rs)).sum();
    let allowed = if desired(d) > 0 {
        desired(d) + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - current;
    match to_add.cmp(&0) {
        Ordering::Greater => active.sort_by(|a, b| by_size_newer(a, b)),
        Ordering::Less => active.sort_by(|a, b| by_size_older(a, b)),
        Ordering::Equal => {}
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
    for rs in &active {
        if to_add == 0 {
            sizes.push(size(rs));
            continue;
        }
        let p = proportion(rs, d, to_add, added);
        sizes.push(size(rs) + p);
        added += p;
    }
    if to_add != 0 {
        if let Some(first) = sizes.first_mut() {
            *first = (*first + to_add - added).max(0);
        }
    }
    active
        .iter()
        .zip(sizes)
        .map(|(rs, n)| step(rs, n, true))
        .collect()
}

/// The share of `to_add` (minus what was `added` already) for `rs`
/// (`GetReplicaSetProportion`).
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if size(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// How much `rs` would grow or shrink if the Deployment's new size were
/// shared in proportion to the size it was sized for
/// (`getReplicaSetFraction`).
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if desired(d) == 0 {
        return -size(rs);
    }
    let deployment_replicas = desired(d) + max_surge(d);
    let annotated = max_replicas_annotation(rs).unwrap_or(d.status.replicas);
    if annotated == 0 {
        // Nothing to be proportional to.
        return 0;
    }
    let new_size = f64::from(size(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    new_size.round() as i32 - size(rs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::annotations::{DESIRED_REPLICAS, MAX_REPLICAS};
    use crate::deployment::replicas::tests::{deployment, replica_set};

    fn sized(mut rs: ReplicaSet, desired: i32, max: i32) -> ReplicaSet {
        rs.metadata
            .annotations
            .insert(DESIRED_REPLICAS.into(), desired.to_string());
        rs.metadata
            .annotations
            .insert(MAX_REPLICAS.into(), max.to_string());
        rs
    }

    fn targets(steps: &[ScaleStep]) -> Vec<(&str, i32)> {
        steps
            .iter()
            .map(|s| (s.name.as_str(), s.replicas))
            .collect()
    }

    #[test]
    fn mid_rollout_scale_up_is_shared_in_proportion() {
        // The Kubernetes documentation's example: 10 replicas, maxSurge 3,
        // mid-rollout with 8 old and 5 new, scaled to 15: of the 5 extra
        // pods, 3 go to the old ReplicaSet and 2 to the new one.
        let mut d = deployment(15, "3", "2");
        d.status.replicas = 13;
        let old = sized(replica_set("old", 100, 8, 8), 10, 13);
        let new = sized(replica_set("new", 10, 5, 0), 10, 13);
        let steps = plan_scale(&d, Some(&new), &[&old]);
        assert_eq!(targets(&steps), vec![("old", 11), ("new", 7)]);
        assert!(steps.iter().all(|s| s.sync_annotations));
    }

    #[test]
    fn mid_rollout_scale_down_is_shared_and_leftovers_go_to_the_largest() {
        // 10 → 5 with surge 25% (13 → 7 pods allowed): 8 old, 5 new.
        let d = deployment(5, "25%", "25%");
        let old = sized(replica_set("old", 100, 8, 8), 10, 13);
        let new = sized(replica_set("new", 10, 5, 0), 10, 13);
        let steps = plan_scale(&d, Some(&new), &[&old]);
        // allowed = 5 + 2 = 7, to remove 6: old round(8*7/13)-8 = -4,
        // new round(5*7/13)-5 = -2 (sum -6, no leftover).
        assert_eq!(targets(&steps), vec![("old", 4), ("new", 3)]);

        // Equal sizes scaling up: newer first gets the leftover.
        let d = deployment(7, "0", "1");
        let a = sized(replica_set("a", 100, 2, 2), 4, 4);
        let b = sized(replica_set("b", 10, 2, 2), 4, 4);
        let steps = plan_scale(&d, Some(&b), &[&a]);
        // allowed 7, to add 3: b round(2*7/4)-2 = 2 (3.5 rounds up), a min(2, 1) = 1.
        assert_eq!(targets(&steps), vec![("b", 4), ("a", 3)]);
    }

    #[test]
    fn one_active_replica_set_takes_everything() {
        let d = deployment(6, "25%", "25%");
        let old = replica_set("old", 100, 0, 0);
        let new = replica_set("new", 10, 3, 3);
        assert_eq!(
            targets(&plan_scale(&d, Some(&new), &[&old])),
            vec![("new", 6)]
        );
        // None active: the new one (else the newest old one).
        let new0 = replica_set("new", 10, 0, 0);
        assert_eq!(
            targets(&plan_scale(&d, Some(&new0), &[&old])),
            vec![("new", 6)]
        );
        let older = replica_set("older", 200, 0, 0);
        assert_eq!(
            targets(&plan_scale(&d, None, &[&older, &old])),
            vec![("old", 6)]
        );
        // Already right: nothing.
        let d3 = deployment(3, "25%", "25%");
        assert!(plan_scale(&d3, Some(&new), &[&old]).is_empty());
    }

    #[test]
    fn a_saturated_new_replica_set_zeroes_the_old_ones() {
        let d = deployment(4, "25%", "25%");
        let old = replica_set("old", 100, 2, 2);
        let new = sized(replica_set("new", 10, 4, 4), 4, 5);
        assert!(is_saturated(&d, Some(&new)));
        assert_eq!(
            targets(&plan_scale(&d, Some(&new), &[&old])),
            vec![("old", 0)]
        );
        // Not yet all available: not saturated.
        let mut busy = new.clone();
        busy.status.available_replicas = 3;
        assert!(!is_saturated(&d, Some(&busy)));
    }

    #[test]
    fn scaling_to_zero() {
        let d = deployment(0, "25%", "25%");
        let old = sized(replica_set("old", 100, 3, 3), 4, 5);
        let new = sized(replica_set("new", 10, 2, 0), 4, 5);
        assert_eq!(
            targets(&plan_scale(&d, Some(&new), &[&old])),
            vec![("old", 0), ("new", 0)]
        );
    }
}
