//! Which old ReplicaSets a Deployment deletes to keep
//! `revisionHistoryLimit` of them (`cleanupDeployment` upstream).

use tug_api::apps::ReplicaSet;

use super::annotations::revision;
use super::replicas::{by_creation, size};

/// The old ReplicaSets beyond `limit` to delete: the lowest revisions
/// first (oldest on a tie), counting every old ReplicaSet not already
/// being deleted, but deleting only those that are scaled to 0, have no
/// pods left, and whose latest spec their controller has seen.
pub fn history_to_delete<'a>(old: &[&'a ReplicaSet], limit: i32) -> Vec<&'a ReplicaSet> {
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = alive.len() as i64 - i64::from(limit.max(0));
    if excess <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| {
        revision(a)
            .cmp(&revision(b))
            .then_with(|| by_creation(a, b))
    });
    alive
        .into_iter()
        .take(excess as usize)
        .filter(|rs| {
            rs.status.replicas == 0
                && size(rs) == 0
                && rs.metadata.generation <= rs.status.observed_generation
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::annotations::REVISION;
    use crate::deployment::replicas::tests::replica_set;
    use tug_api::meta::Time;

    fn old(name: &str, rev: i64, spec: i32) -> ReplicaSet {
        let mut rs = replica_set(name, 100 - rev, spec, spec);
        rs.metadata
            .annotations
            .insert(REVISION.into(), rev.to_string());
        rs
    }

    fn names(v: Vec<&ReplicaSet>) -> Vec<&str> {
        v.iter().map(|rs| rs.metadata.name.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_revisions() {
        let sets = [
            old("r3", 3, 0),
            old("r1", 1, 0),
            old("r2", 2, 0),
            old("r4", 4, 0),
        ];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        assert_eq!(names(history_to_delete(&refs, 2)), vec!["r1", "r2"]);
        assert_eq!(
            names(history_to_delete(&refs, 0)),
            vec!["r1", "r2", "r3", "r4"]
        );
        assert!(history_to_delete(&refs, 10).is_empty());
    }

    #[test]
    fn never_deletes_replica_sets_with_pods_or_unobserved_specs() {
        let mut busy = old("r1", 1, 0);
        busy.status.replicas = 1; // a pod still terminating
        let scaled = old("r2", 2, 2);
        let mut unobserved = old("r3", 3, 0);
        unobserved.metadata.generation = 4;
        unobserved.status.observed_generation = 3;
        let fine = old("r4", 4, 0);
        let keep = old("r5", 5, 0);
        let sets = [busy, scaled, unobserved, fine, keep];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        assert_eq!(names(history_to_delete(&refs, 1)), vec!["r4"]);
    }

    #[test]
    fn replica_sets_being_deleted_do_not_count() {
        let mut going = old("r1", 1, 0);
        going.metadata.deletion_timestamp = Some(Time::now());
        let sets = [going, old("r2", 2, 0), old("r3", 3, 0)];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        assert_eq!(names(history_to_delete(&refs, 1)), vec!["r2"]);
    }
}
