//! The annotations a Deployment and its ReplicaSets carry
//! (`deployment_util.go`): revisions, the replica counts a ReplicaSet was
//! sized for, and the Deployment's own annotations copied onto its new
//! ReplicaSet (`kubernetes.io/change-cause`, for instance).

use std::collections::BTreeMap;

use tug_api::apps::{Deployment, ReplicaSet};

use super::replicas::{desired, max_surge};

/// The revision of a ReplicaSet (and the Deployment's latest).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions of a ReplicaSet that was rolled back to.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `spec.replicas` of the Deployment when the ReplicaSet was last sized.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` then.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The pre-apps/v1 rollback request; never copied.
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// kubectl's last applied configuration; never copied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The longest `revision-history` kept, in characters.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Annotations that belong to one object and are not copied from the
/// Deployment to its ReplicaSet.
fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED
            | REVISION
            | REVISION_HISTORY
            | DESIRED_REPLICAS
            | MAX_REPLICAS
            | DEPRECATED_ROLLBACK_TO
    )
}

/// A ReplicaSet's revision; 0 when missing or not a number.
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .get(REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest revision among `sets` (0 for none).
pub fn max_revision<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    sets.into_iter().map(revision).max().unwrap_or(0)
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.get(key)?.parse().ok()
}

/// `desired-replicas`, if set and valid.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, DESIRED_REPLICAS)
}

/// `max-replicas`, if set and valid.
pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, MAX_REPLICAS)
}

/// The `desired-replicas` and `max-replicas` values for the Deployment now.
pub fn replicas_annotation_values(d: &Deployment) -> (i32, i32) {
    (desired(d), desired(d) + max_surge(d))
}

/// Whether the ReplicaSet's replica annotations differ from these values.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let a = &rs.metadata.annotations;
    a.get(DESIRED_REPLICAS) != Some(&desired.to_string())
        || a.get(MAX_REPLICAS) != Some(&max.to_string())
}

/// Set the replica annotations; whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let changed = replicas_annotations_need_update(rs, desired, max);
    let a = &mut rs.metadata.annotations;
    a.insert(DESIRED_REPLICAS.into(), desired.to_string());
    a.insert(MAX_REPLICAS.into(), max.to_string());
    changed
}

/// Copy the Deployment's annotations onto the ReplicaSet, except those
/// that belong to one object; whether anything changed.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    for (k, v) in &d.metadata.annotations {
        if skip_copy(k) || rs.metadata.annotations.get(k) == Some(v) {
            continue;
        }
        rs.metadata.annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Bring the new ReplicaSet's annotations up to date
/// (`SetNewReplicaSetAnnotations`): the Deployment's annotations, the
/// revision raised to `new_revision` when it is lower — a ReplicaSet
/// brought back by a rollback keeps its earlier numbers in
/// `revision-history` — and, for a ReplicaSet about to be created
/// (`exists` false), the replica annotations. Whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let old = rs.metadata.annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            // Someone wrote junk: leave the revision alone.
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        rs.metadata
            .annotations
            .insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            append_revision_history(&mut rs.metadata.annotations, &old);
        }
    }
    if !exists {
        let (desired, max) = replicas_annotation_values(d);
        if set_replicas_annotations(rs, desired, max) {
            changed = true;
        }
    }
    changed
}

/// Append `old` to `revision-history`, dropping the oldest entries to stay
/// within [`MAX_REVISION_HISTORY_CHARS`].
fn append_revision_history(annotations: &mut BTreeMap<String, String>, old: &str) {
    let history = annotations
        .get(REVISION_HISTORY)
        .cloned()
        .unwrap_or_default();
    if history.is_empty() {
        annotations.insert(REVISION_HISTORY.into(), old.to_string());
        return;
    }
    let mut entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > MAX_REVISION_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total <= MAX_REVISION_HISTORY_CHARS {
        entries.drain(..start);
        entries.push(old);
        annotations.insert(REVISION_HISTORY.into(), entries.join(","));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::replicas::tests::{deployment, replica_set};

    #[test]
    fn revisions() {
        let mut a = replica_set("a", 0, 0, 0);
        assert_eq!(revision(&a), 0);
        a.metadata.annotations.insert(REVISION.into(), "4".into());
        let mut b = replica_set("b", 0, 0, 0);
        b.metadata
            .annotations
            .insert(REVISION.into(), "junk".into());
        assert_eq!(max_revision([&a, &b]), 4);
        assert_eq!(max_revision(std::iter::empty()), 0);
    }

    #[test]
    fn a_new_replica_set_gets_revision_replicas_and_copied_annotations() {
        let mut d = deployment(10, "25%", "25%");
        let a = &mut d.metadata.annotations;
        a.insert("kubernetes.io/change-cause".into(), "image v2".into());
        a.insert(REVISION.into(), "1".into());
        a.insert(LAST_APPLIED.into(), "{}".into());
        let mut rs = replica_set("web-x", 0, 0, 0);
        assert!(set_new_replica_set_annotations(&d, &mut rs, 2, false));
        let got = &rs.metadata.annotations;
        assert_eq!(got["kubernetes.io/change-cause"], "image v2");
        assert_eq!(got[REVISION], "2");
        assert_eq!(got[DESIRED_REPLICAS], "10");
        assert_eq!(got[MAX_REPLICAS], "13");
        assert!(!got.contains_key(LAST_APPLIED));
        assert!(!got.contains_key(REVISION_HISTORY));
        // Nothing more to do the second time.
        assert!(!set_new_replica_set_annotations(&d, &mut rs, 2, true));
    }

    #[test]
    fn a_reused_replica_set_records_its_earlier_revisions() {
        let d = deployment(3, "1", "0");
        let mut rs = replica_set("web-x", 0, 0, 0);
        rs.metadata.annotations.insert(REVISION.into(), "1".into());
        // Rolled back to at revision 4: 1 goes to the history.
        assert!(set_new_replica_set_annotations(&d, &mut rs, 4, true));
        assert_eq!(rs.metadata.annotations[REVISION], "4");
        assert_eq!(rs.metadata.annotations[REVISION_HISTORY], "1");
        assert!(set_new_replica_set_annotations(&d, &mut rs, 6, true));
        assert_eq!(rs.metadata.annotations[REVISION_HISTORY], "1,4");
        // A lower revision never moves it back.
        assert!(!set_new_replica_set_annotations(&d, &mut rs, 5, true));
        assert_eq!(rs.metadata.annotations[REVISION], "6");
        // Existing ReplicaSets do not get replica annotations from here.
        assert!(!rs.metadata.annotations.contains_key(DESIRED_REPLICAS));
    }

    #[test]
    fn history_is_bounded() {
        let mut a = BTreeMap::new();
        a.insert(REVISION_HISTORY.to_string(), "9".repeat(1990));
        append_revision_history(&mut a, "123456789012");
        // The one long entry had to go to make room.
        assert_eq!(a[REVISION_HISTORY], "123456789012");
        let mut a = BTreeMap::new();
        a.insert(REVISION_HISTORY.to_string(), "1,2".to_string());
        append_revision_history(&mut a, "3");
        assert_eq!(a[REVISION_HISTORY], "1,2,3");
    }

    #[test]
    fn replica_annotations() {
        let mut rs = replica_set("r", 0, 1, 1);
        assert!(replicas_annotations_need_update(&rs, 3, 4));
        assert!(set_replicas_annotations(&mut rs, 3, 4));
        assert!(!replicas_annotations_need_update(&rs, 3, 4));
        assert_eq!(desired_replicas_annotation(&rs), Some(3));
        assert_eq!(max_replicas_annotation(&rs), Some(4));
    }
}
