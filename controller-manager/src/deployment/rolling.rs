//! The arithmetic of one rolling-update step (`rolling.go` upstream).
//!
//! Each sync makes one step: scale the new ReplicaSet up as far as the
//! surge budget allows, or, if it cannot grow, scale old ReplicaSets down
//! as far as the unavailability budget allows. Old replicas that are not
//! available go first (they cost no availability), oldest ReplicaSet
//! first; then available ones while more than `replicas − maxUnavailable`
//! stay available. Readiness (and `minReadySeconds`, through the
//! ReplicaSets' `availableReplicas`) gates every step.
//!
//! With 10 replicas and 25 %/25 % (surge 3, unavailable 2), new pods not
//! yet ready when old ones are cut: new 0→3, old 10→8, new 3→5, old 8→5,
//! new 5→8, old 5→3, new 8→10, old 3→0.

use tug_api::apps::{Deployment, ReplicaSet};

use super::replicas::{
    by_creation, countable_available, desired, max_unavailable, new_rs_replicas, size, total_size,
};

/// The size the new ReplicaSet should be scaled to now, if it should
/// change (`reconcileNewReplicaSet`).
pub fn new_replica_set_target(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: &ReplicaSet,
) -> Option<i32> {
    let want = desired(d);
    if size(new) == want {
        return None;
    }
    let target = if size(new) > want {
        want
    } else {
        new_rs_replicas(d, all, new)
    };
    (target != size(new)).then_some(target)
}

/// The old ReplicaSets to scale down now and their new sizes, in the order
/// to write them (`reconcileOldReplicaSets`). `all` is every ReplicaSet
/// (the new one included), `old_active` the old ones with replicas.
pub fn old_replica_sets_scale_down(
    d: &Deployment,
    all: &[&ReplicaSet],
    old_active: &[&ReplicaSet],
    new: &ReplicaSet,
) -> Vec<(String, i32)> {
    if total_size(old_active.iter().copied()) == 0 {
        return Vec::new();
    }
    let min_available = desired(d) - max_unavailable(d);
    let new_unavailable = size(new) - countable_available(new);
    let max_scaled_down = total_size(all.iter().copied()) - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut old: Vec<&ReplicaSet> = old_active.to_vec();
    old.sort_by(|a, b| by_creation(a, b));
    let mut sizes: Vec<i32> = old.iter().map(|rs| size(rs)).collect();
    let mut plan: Vec<(String, i32)> = Vec::new();

    // Unhealthy replicas first: removing them costs no availability.
    let mut cleaned = 0;
    for (i, rs) in old.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = sizes[i] - countable_available(rs);
        if sizes[i] == 0 || unhealthy <= 0 {
            continue;
        }
        let cut = (max_scaled_down - cleaned).min(unhealthy);
        sizes[i] -= cut;
        cleaned += cut;
        record(&mut plan, rs, sizes[i]);
    }

    // Then available ones, while more than the minimum stay available.
    let available: i32 =
        old.iter().map(|rs| countable_available(rs)).sum::<i32>() + countable_available(new);
    if available > min_available {
        let budget = available - min_available;
        let mut cut_total = 0;
        for (i, rs) in old.iter().enumerate() {
            if cut_total >= budget {
                break;
            }
            if sizes[i] == 0 {
                continue;
            }
            let cut = sizes[i].min(budget - cut_total);
            sizes[i] -= cut;
            cut_total += cut;
            record(&mut plan, rs, sizes[i]);
        }
    }
    plan
}

/// Add a write to the plan; a second cut of the same ReplicaSet merges
/// into its first write.
fn record(plan: &mut Vec<(String, i32)>, rs: &ReplicaSet, n: i32) {
    match plan.iter_mut().find(|(name, _)| *name == rs.metadata.name) {
        Some(entry) => entry.1 = n,
        None => plan.push((rs.metadata.name.clone(), n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::replicas::tests::{deployment, replica_set};

    /// old and new as (spec, available).
    fn step(d: &Deployment, old: (i32, i32), new: (i32, i32)) -> (Option<i32>, Vec<(String, i32)>) {
        let o = replica_set("old", 100, old.0, old.1);
        let n = replica_set("new", 10, new.0, new.1);
        let all = [&o, &n];
        match new_replica_set_target(d, &all, &n) {
            Some(t) => (Some(t), Vec::new()),
            None => (None, old_replica_sets_scale_down(d, &all, &[&o], &n)),
        }
    }

    fn old_to(n: i32) -> Vec<(String, i32)> {
        vec![("old".to_string(), n)]
    }

    #[test]
    fn the_ten_replica_example() {
        let d = deployment(10, "25%", "25%");
        // Each line: the state before the sync, and the step it takes.
        assert_eq!(step(&d, (10, 10), (0, 0)), (Some(3), vec![]));
        assert_eq!(step(&d, (10, 10), (3, 0)), (None, old_to(8)));
        assert_eq!(step(&d, (8, 8), (3, 3)), (Some(5), vec![]));
        assert_eq!(step(&d, (8, 8), (5, 3)), (None, old_to(5)));
        assert_eq!(step(&d, (5, 5), (5, 5)), (Some(8), vec![]));
        assert_eq!(step(&d, (5, 5), (8, 5)), (None, old_to(3)));
        assert_eq!(step(&d, (3, 3), (8, 8)), (Some(10), vec![]));
        assert_eq!(step(&d, (3, 3), (10, 8)), (None, old_to(0)));
        // Done: nothing more.
        assert_eq!(step(&d, (0, 0), (10, 10)), (None, vec![]));
    }

    #[test]
    fn nothing_moves_while_new_pods_are_not_ready() {
        // maxUnavailable 0: old pods go only as new ones become available.
        let d = deployment(3, "1", "0");
        assert_eq!(step(&d, (3, 3), (0, 0)), (Some(1), vec![]));
        assert_eq!(step(&d, (3, 3), (1, 0)), (None, vec![]));
        assert_eq!(step(&d, (3, 3), (1, 1)), (None, old_to(2)));
        assert_eq!(step(&d, (2, 2), (1, 1)), (Some(2), vec![]));
    }

    #[test]
    fn unhealthy_old_replicas_go_first() {
        let d = deployment(10, "25%", "25%");
        // 3 of the old pods are not available: cut 2 of them (the budget),
        // and no available one, as only 7 are available.
        assert_eq!(step(&d, (10, 7), (3, 0)), (None, old_to(8)));

        // Two old ReplicaSets, the newer with unhealthy pods: those first,
        // then available pods of the oldest.
        let a = replica_set("a", 300, 4, 4);
        let b = replica_set("b", 200, 6, 3);
        let n = replica_set("new", 10, 3, 3);
        let plan = old_replica_sets_scale_down(&d, &[&a, &b, &n], &[&b, &a], &n);
        assert_eq!(plan, vec![("b".to_string(), 3), ("a".to_string(), 2)]);
    }

    #[test]
    fn a_status_older_than_the_spec_is_not_trusted_beyond_the_size() {
        // 8 replicas, 25 %: at least 6 available. The old ReplicaSet was
        // just cut from 8 to 6 and its controller has not caught up: its
        // status still says 8 available. With the new one at 4 (2 ready),
        // trusting it would cut 4 more (2 old + 2 new ready left);
        // counting at most 6 cuts 2 (4 + 2 ready left).
        let d = deployment(8, "25%", "25%");
        let mut old = replica_set("old", 100, 6, 8);
        old.metadata.generation = 3;
        old.status.observed_generation = 2;
        let new = replica_set("new", 10, 4, 2);
        let plan = old_replica_sets_scale_down(&d, &[&old, &new], &[&old], &new);
        assert_eq!(plan, old_to(4));
        // Once observed, the status counts as it is.
        old.status.observed_generation = 3;
        let plan = old_replica_sets_scale_down(&d, &[&old, &new], &[&old], &new);
        assert_eq!(plan, old_to(2));
    }

    #[test]
    fn a_new_replica_set_bigger_than_wanted_shrinks() {
        let d = deployment(4, "25%", "25%");
        let n = replica_set("new", 10, 6, 6);
        assert_eq!(new_replica_set_target(&d, &[&n], &n), Some(4));
    }

    /// A whole rollout where every pod the ReplicaSets keep becomes
    /// available between syncs: the bounds hold at every step.
    #[test]
    fn bounds_hold_over_a_whole_rollout() {
        for (replicas, surge, unavailable) in [
            (10, "25%", "25%"),
            (7, "0", "1"),
            (5, "2", "0"),
            (20, "50%", "10%"),
        ] {
            let d = deployment(replicas, surge, unavailable);
            let max_total = replicas + super::super::replicas::max_surge(&d);
            let min_available = replicas - max_unavailable(&d);
            let (mut old, mut new) = ((replicas, replicas), (0, 0));
            for _ in 0..100 {
                let (grow, cuts) = step(&d, old, new);
                if let Some(t) = grow {
                    new.0 = t;
                } else if let Some((_, n)) = cuts.first() {
                    old = (*n, old.1.min(*n));
                } else {
                    break;
                }
                assert!(old.0 + new.0 <= max_total, "{old:?} {new:?}");
                assert!(old.1 + new.1 >= min_available, "{old:?} {new:?}");
                // Pods become available.
                old.1 = old.0;
                new.1 = new.0;
            }
            assert_eq!(
                (old, new),
                ((0, 0), (replicas, replicas)),
                "{surge}/{unavailable}"
            );
        }
    }
}
