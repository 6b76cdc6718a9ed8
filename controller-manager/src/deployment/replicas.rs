//! Replica arithmetic of a Deployment and its ReplicaSets
//! (`deployment_util.go` upstream): surge and unavailability budgets,
//! sums over ReplicaSets, the orders ReplicaSets are visited in, and which
//! ReplicaSet is the "new" one.

use std::cmp::Ordering;

use tug_api::apps::{templates_equal_ignoring_hash, Deployment, ReplicaSet};
use tug_api::intstr::IntOrString;

/// `spec.strategy.type` of a rolling update.
pub const ROLLING_UPDATE: &str = "RollingUpdate";
/// `spec.strategy.type` of a recreate.
pub const RECREATE: &str = "Recreate";

/// `spec.replicas` of a Deployment (the apiserver defaults it to 1).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

/// `spec.replicas` of a ReplicaSet.
pub fn size(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

/// Whether the Deployment rolls (rather than recreates).
pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec.strategy.type_.is_empty() || d.spec.strategy.type_ == ROLLING_UPDATE
}

/// `ResolveFenceposts`: maxSurge (a percentage of `desired` rounded up)
/// and maxUnavailable (rounded down); if both come to 0, unavailable is 1
/// so that a rollout can make progress.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let zero = IntOrString::Int(0);
    let surge = max_surge.unwrap_or(&zero).scaled_value(desired, true)?;
    let unavailable = max_unavailable
        .unwrap_or(&zero)
        .scaled_value(desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.strategy.rolling_update.as_ref();
    // Validation rejects values that do not resolve.
    resolve_fenceposts(
        ru.and_then(|r| r.max_surge.as_ref()),
        ru.and_then(|r| r.max_unavailable.as_ref()),
        desired(d),
    )
    .unwrap_or((0, 1))
}

/// How many pods above `spec.replicas` a rolling update may run (0 for
/// Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// How many of `spec.replicas` may be unavailable during a rolling update
/// (0 for Recreate or 0 replicas), never more than `spec.replicas`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || desired(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(desired(d))
}

/// Σ `spec.replicas`.
pub fn total_size<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    sets.into_iter().map(size).sum()
}

/// Σ `status.replicas` (pods that exist).
pub fn total_actual<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    sets.into_iter().map(|rs| rs.status.replicas).sum()
}

/// Σ `status.readyReplicas`.
pub fn total_ready<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    sets.into_iter().map(|rs| rs.status.ready_replicas).sum()
}

/// Σ `status.availableReplicas`.
pub fn total_available<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    sets.into_iter()
        .map(|rs| rs.status.available_replicas)
        .sum()
}

/// The available replicas of `rs` a rolling update may count on: its
/// status's, but no more than its size while the ReplicaSet controller
/// has not yet observed its latest spec — after a scale-down the status
/// still counts the pods about to be deleted, and trusting it would let
/// the next step cut below `replicas − maxUnavailable`.
pub fn countable_available(rs: &ReplicaSet) -> i32 {
    if rs.status.observed_generation < rs.metadata.generation {
        rs.status.available_replicas.min(size(rs))
    } else {
        rs.status.available_replicas
    }
}

/// Oldest first; ties by name (`ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Largest first; ties oldest first (`ReplicaSetsBySizeOlder`).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    size(b).cmp(&size(a)).then_with(|| by_creation(a, b))
}

/// Largest first; ties newest first (`ReplicaSetsBySizeNewer`).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    size(b).cmp(&size(a)).then_with(|| by_creation(b, a))
}

/// The ReplicaSet of the Deployment's current template: the oldest whose
/// template equals it apart from the hash label (`FindNewReplicaSet`).
pub fn find_new<'a>(d: &Deployment, sets: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let mut sorted: Vec<&ReplicaSet> = sets.iter().collect();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted
        .into_iter()
        .find(|rs| templates_equal_ignoring_hash(&rs.spec.template, &d.spec.template))
}

/// The replicas a new ReplicaSet should have now (`NewRSNewReplicas`):
/// for a rolling update, as many more as the surge budget allows, never
/// beyond `spec.replicas`; for Recreate, all of them.
pub fn new_rs_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    if !is_rolling_update(d) {
        return desired(d);
    }
    // Upstream sums `spec.replicas` only, so for a moment after an old
    // ReplicaSet is scaled down (before its controller has deleted the
    // pods) the surge can be overshot. Counting the pods a ReplicaSet still
    // reports keeps `replicas + maxSurge` a bound on actual pods.
    let current: i32 = all.iter().map(|rs| size(rs).max(rs.status.replicas)).sum();
    let max_total = desired(d) + max_surge(d);
    if current >= max_total {
        return size(new);
    }
    let up = (max_total - current).min(desired(d) - size(new));
    size(new) + up
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tug_api::apps::RollingUpdateDeployment;
    use tug_api::meta::Time;

    pub fn deployment(replicas: i32, surge: &str, unavailable: &str) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.name = "web".into();
        d.metadata.namespace = "ns".into();
        d.metadata.uid = "d-uid".into();
        d.metadata.generation = 1;
        d.spec.replicas = Some(replicas);
        d.spec.strategy.type_ = ROLLING_UPDATE.into();
        let parse = |s: &str| match s.parse::<i32>() {
            Ok(i) => IntOrString::Int(i),
            Err(_) => IntOrString::String(s.into()),
        };
        d.spec.strategy.rolling_update = Some(RollingUpdateDeployment {
            max_surge: Some(parse(surge)),
            max_unavailable: Some(parse(unavailable)),
        });
        d.spec.revision_history_limit = Some(10);
        d.spec.progress_deadline_seconds = Some(600);
        d.spec
            .template
            .metadata
            .labels
            .insert("app".into(), "web".into());
        d
    }

    pub fn replica_set(name: &str, age_secs: i64, spec: i32, available: i32) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = name.into();
        rs.metadata.namespace = "ns".into();
        rs.metadata.uid = format!("{name}-uid");
        rs.metadata.creation_timestamp = Some(Time(
            chrono::DateTime::from_timestamp(1_700_000_000 - age_secs, 0).unwrap(),
        ));
        rs.spec.replicas = Some(spec);
        rs.status.replicas = spec;
        rs.status.ready_replicas = available;
        rs.status.available_replicas = available;
        rs
    }

    #[test]
    fn surge_rounds_up_unavailable_rounds_down() {
        let p = |s: &str| IntOrString::String(s.into());
        assert_eq!(
            resolve_fenceposts(Some(&p("25%")), Some(&p("25%")), 10),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&p("25%")), Some(&p("25%")), 1),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&p("10%")), Some(&p("10%")), 5),
            Ok((1, 0))
        );
        // Both zero: one may be unavailable, or nothing could ever move.
        assert_eq!(
            resolve_fenceposts(Some(&p("0%")), Some(&p("0%")), 10),
            Ok((0, 1))
        );
        assert_eq!(resolve_fenceposts(None, None, 10), Ok((0, 1)));
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(2)), Some(&IntOrString::Int(0)), 10),
            Ok((2, 0))
        );
        assert!(resolve_fenceposts(Some(&p("x")), None, 10).is_err());
    }

    #[test]
    fn budgets_of_a_deployment() {
        let d = deployment(10, "25%", "25%");
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        // Unavailability never exceeds the replicas.
        let d = deployment(2, "0", "5");
        assert_eq!(max_unavailable(&d), 2);
        let d = deployment(0, "25%", "25%");
        assert_eq!(max_unavailable(&d), 0);
        let mut d = deployment(10, "25%", "25%");
        d.spec.strategy = Default::default();
        d.spec.strategy.type_ = RECREATE.into();
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn new_replica_set_grows_within_the_surge() {
        // 10 replicas, surge 3: a fresh new RS next to 10 old goes to 3.
        let d = deployment(10, "25%", "25%");
        let old = replica_set("old", 100, 10, 10);
        let new = replica_set("new", 0, 0, 0);
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 3);
        // At the ceiling: stays.
        let old = replica_set("old", 100, 10, 10);
        let new = replica_set("new", 0, 3, 0);
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 3);
        // Old scaled down to 8: new may go to 5.
        let old = replica_set("old", 100, 8, 8);
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 5);
        // Never beyond the replicas.
        let old = replica_set("old", 100, 0, 0);
        let new = replica_set("new", 0, 9, 9);
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 10);
        // A first rollout creates everything at once.
        let new = replica_set("new", 0, 0, 0);
        assert_eq!(
            new_rs_replicas(&deployment(1000, "25%", "25%"), &[&new], &new),
            1000
        );
    }

    #[test]
    fn orders() {
        let a = replica_set("a", 300, 2, 0);
        let b = replica_set("b", 200, 5, 0);
        let c = replica_set("c", 100, 2, 0);
        let names = |mut v: Vec<&ReplicaSet>, f: fn(&ReplicaSet, &ReplicaSet) -> Ordering| {
            v.sort_by(|x, y| f(x, y));
            v.iter()
                .map(|r| r.metadata.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(vec![&c, &a, &b], by_creation), vec!["a", "b", "c"]);
        assert_eq!(names(vec![&c, &a, &b], by_size_older), vec!["b", "a", "c"]);
        assert_eq!(names(vec![&c, &a, &b], by_size_newer), vec!["b", "c", "a"]);
    }

    #[test]
    fn new_replica_set_is_the_oldest_with_the_template() {
        let d = deployment(3, "1", "0");
        let mut same_newer = replica_set("same-newer", 10, 0, 0);
        same_newer.spec.template = d.spec.template.clone();
        let mut same_older = replica_set("same-older", 50, 0, 0);
        same_older.spec.template = d.spec.template.clone();
        same_older
            .spec
            .template
            .metadata
            .labels
            .insert("pod-template-hash".into(), "abc".into());
        let other = replica_set("other", 100, 3, 3);
        let sets = vec![same_newer, other, same_older];
        assert_eq!(find_new(&d, &sets).unwrap().metadata.name, "same-older");
        assert!(find_new(&d, &sets[1..2]).is_none());
    }
}
