//! A Deployment's status and conditions (`progress.go` and
//! `calculateStatus` upstream).
//!
//! - `Available` is True while at least `replicas − maxUnavailable` pods
//!   are available (`MinimumReplicasAvailable`), else False
//!   (`MinimumReplicasUnavailable`).
//! - `Progressing` is True with `NewReplicaSetCreated` /
//!   `FoundNewReplicaSet` / `ReplicaSetUpdated` while a rollout moves —
//!   each sign of progress refreshes its `lastUpdateTime` —, True with
//!   `NewReplicaSetAvailable` once it completed, and False with
//!   `ProgressDeadlineExceeded` when nothing moved for
//!   `progressDeadlineSeconds`. Pausing sets it Unknown
//!   (`DeploymentPaused`) so paused time never counts against the
//!   deadline; resuming sets Unknown `DeploymentResumed`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tug_api::apps::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use tug_api::meta::Time;

use super::replicas::{
    desired, max_unavailable, total_actual, total_available, total_ready, total_size,
};

/// Condition types.
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Condition reasons.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

/// A condition set now.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: DateTime<Utc>,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
        reason: reason.into(),
        message,
    }
}

/// The condition of `type_`, if present.
pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Set a condition (`SetDeploymentCondition`): nothing happens when one
/// with the same status and reason is there; the transition time is kept
/// while the status stays the same.
pub fn set_condition(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    if let Some(cur) = condition(status, &cond.type_) {
        if cur.status == cond.status && cur.reason == cond.reason {
            return;
        }
        if cur.status == cond.status {
            cond.last_transition_time = cur.last_transition_time;
        }
    }
    remove_condition(status, &cond.type_.clone());
    status.conditions.push(cond);
}

/// Remove the condition of `type_`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// Whether the Deployment has a progress deadline.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .progress_deadline_seconds
        .is_some_and(|s| s != i32::MAX)
}

/// The status the ReplicaSets give (`calculateStatus`): counts over all of
/// them, `updatedReplicas` from the new one, and `Available`.
pub fn calculate_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: DateTime<Utc>,
) -> DeploymentStatus {
    let available = total_available(all.iter().copied());
    let total = total_size(all.iter().copied());
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: total_actual(all.iter().copied()),
        updated_replicas: total_actual(new),
        ready_replicas: total_ready(all.iter().copied()),
        available_replicas: available,
        // More available than wanted (while scaling down) is not negative
        // unavailability.
        unavailable_replicas: (total - available).max(0),
        terminating_replicas: d.status.terminating_replicas,
        conditions: d.status.conditions.clone(),
        collision_count: d.status.collision_count,
    };
    if available >= desired(d) - max_unavailable(d) {
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    status
}

/// Every replica updated, existing and available, and the latest spec
/// observed (`DeploymentComplete`).
pub fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    status.updated_replicas == desired(d)
        && status.replicas == desired(d)
        && status.available_replicas == desired(d)
        && status.observed_generation >= d.metadata.generation
}

/// Whether `new` shows progress over the stored status: more updated,
/// fewer old, more ready or more available pods (`DeploymentProgressing`).
pub fn is_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = &d.status;
    let old_old = old.replicas - old.updated_replicas;
    let new_old = new.replicas - new.updated_replicas;
    new.updated_replicas > old.updated_replicas
        || new_old < old_old
        || new.ready_replicas > old.ready_replicas
        || new.available_replicas > old.available_replicas
}

/// Whether the rollout has made no progress for `progressDeadlineSeconds`
/// (`DeploymentTimedOut`).
pub fn is_timed_out(d: &Deployment, status: &DeploymentStatus, now: DateTime<Utc>) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(cond) = condition(status, PROGRESSING) else {
        return false;
    };
    match cond.reason.as_str() {
        NEW_RS_AVAILABLE => false,
        TIMED_OUT => true,
        _ => {
            let Some(from) = cond.last_update_time else {
                return false;
            };
            let deadline =
                chrono::Duration::seconds(i64::from(d.spec.progress_deadline_seconds.unwrap_or(0)));
            from.0 + deadline < now
        }
    }
}

/// The status after a rollout step (`syncRolloutStatus`): the computed
/// counts and `Available`, then `Progressing` judged against the stored
/// status, then the new (else any) ReplicaSet's `ReplicaFailure`.
pub fn rollout_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: DateTime<Utc>,
) -> DeploymentStatus {
    let mut status = calculate_status(d, all, new, now);
    if !has_progress_deadline(d) {
        remove_condition(&mut status, PROGRESSING);
    }
    let current = condition(&d.status, PROGRESSING);
    let already_complete = status.replicas == status.updated_replicas
        && current.is_some_and(|c| c.reason == NEW_RS_AVAILABLE);
    if has_progress_deadline(d) && !already_complete {
        let subject = match new {
            Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name),
            None => format!("Deployment {:?}", d.metadata.name),
        };
        if is_complete(d, &status) {
            set_condition(
                &mut status,
                new_condition(
                    PROGRESSING,
                    "True",
                    NEW_RS_AVAILABLE,
                    format!("{subject} has successfully progressed."),
                    now,
                ),
            );
        } else if is_progressing(d, &status) {
            // Progress refreshes lastUpdateTime even with the same reason;
            // the transition time stays while the status stays True.
            let mut cond = new_condition(
                PROGRESSING,
                "True",
                RS_UPDATED,
                format!("{subject} is progressing."),
                now,
            );
            if let Some(cur) = current {
                if cur.status == "True" {
                    cond.last_transition_time = cur.last_transition_time;
                }
                remove_condition(&mut status, PROGRESSING);
            }
            set_condition(&mut status, cond);
        } else if is_timed_out(d, &status, now) {
            set_condition(
                &mut status,
                new_condition(
                    PROGRESSING,
                    "False",
                    TIMED_OUT,
                    format!("{subject} has timed out progressing."),
                    now,
                ),
            );
        }
    }
    match replica_failure(all, new) {
        Some(cond) => set_condition(&mut status, cond),
        None => remove_condition(&mut status, REPLICA_FAILURE),
    }
    status
}

/// A `ReplicaFailure` of the new ReplicaSet, else of any, as a
/// Deployment condition.
fn replica_failure(all: &[&ReplicaSet], new: Option<&ReplicaSet>) -> Option<DeploymentCondition> {
    let failure = |rs: &ReplicaSet| {
        rs.status
            .conditions
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                last_update_time: c.last_transition_time,
                last_transition_time: c.last_transition_time,
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
    };
    new.and_then(failure)
        .or_else(|| all.iter().find_map(|rs| failure(rs)))
}

/// When to look again at a rollout that has not moved, to notice its
/// deadline passing (`requeueStuckDeployment`); `None` when there is no
/// deadline to watch.
pub fn recheck_deadline_in(
    d: &Deployment,
    new_status: &DeploymentStatus,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let cond = condition(&d.status, PROGRESSING)?;
    if !has_progress_deadline(d) || is_complete(d, new_status) || cond.reason == TIMED_OUT {
        return None;
    }
    let from = cond.last_update_time?.0;
    let deadline =
        from + chrono::Duration::seconds(i64::from(d.spec.progress_deadline_seconds.unwrap_or(0)));
    let after = (deadline - now).to_std().unwrap_or_default();
    // A second more, so that the deadline has certainly passed.
    Some(after + Duration::from_secs(1))
}

/// The Progressing condition a pause or resume needs, if any
/// (`checkPausedConditions`); never over a deadline already exceeded.
pub fn paused_condition(d: &Deployment, now: DateTime<Utc>) -> Option<DeploymentCondition> {
    if !has_progress_deadline(d) {
        return None;
    }
    let cur = condition(&d.status, PROGRESSING);
    if cur.is_some_and(|c| c.reason == TIMED_OUT) {
        return None;
    }
    let paused_recorded = cur.is_some_and(|c| c.reason == PAUSED);
    if d.spec.paused && !paused_recorded {
        return Some(new_condition(
            PROGRESSING,
            "Unknown",
            PAUSED,
            "Deployment is paused".into(),
            now,
        ));
    }
    if !d.spec.paused && paused_recorded {
        return Some(new_condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed".into(),
            now,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::replicas::tests::{deployment, replica_set};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn counts_and_availability() {
        let d = deployment(10, "25%", "25%");
        let old = replica_set("old", 100, 8, 8);
        let mut new = replica_set("new", 10, 5, 0);
        new.status.replicas = 5;
        let s = calculate_status(&d, &[&old, &new], Some(&new), at(0));
        assert_eq!(
            (
                s.replicas,
                s.updated_replicas,
                s.ready_replicas,
                s.available_replicas,
                s.unavailable_replicas
            ),
            (13, 5, 8, 8, 5)
        );
        assert_eq!(s.observed_generation, 1);
        // 8 available ≥ 10 − 2.
        let c = condition(&s, AVAILABLE).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", MINIMUM_REPLICAS_AVAILABLE)
        );

        let old = replica_set("old", 100, 7, 7);
        let s = calculate_status(&d, &[&old, &new], Some(&new), at(0));
        let c = condition(&s, AVAILABLE).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", MINIMUM_REPLICAS_UNAVAILABLE)
        );

        // Scaling down with more available than wanted: not negative.
        let big = replica_set("big", 100, 10, 12);
        assert_eq!(
            calculate_status(&d, &[&big], Some(&big), at(0)).unavailable_replicas,
            0
        );
    }

    #[test]
    fn set_condition_keeps_transition_times() {
        let mut s = DeploymentStatus::default();
        set_condition(
            &mut s,
            new_condition(PROGRESSING, "True", NEW_RS_CREATED, "a".into(), at(0)),
        );
        // Same status and reason: untouched.
        set_condition(
            &mut s,
            new_condition(PROGRESSING, "True", NEW_RS_CREATED, "b".into(), at(5)),
        );
        assert_eq!(s.conditions[0].message, "a");
        // Same status, new reason: the transition time stays.
        set_condition(
            &mut s,
            new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, "c".into(), at(9)),
        );
        assert_eq!(s.conditions[0].last_transition_time, Some(Time(at(0))));
        assert_eq!(s.conditions[0].last_update_time, Some(Time(at(9))));
        // A new status: a new transition.
        set_condition(
            &mut s,
            new_condition(PROGRESSING, "False", TIMED_OUT, "d".into(), at(20)),
        );
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].last_transition_time, Some(Time(at(20))));
    }

    /// A deployment mid-rollout whose stored status is `stored`.
    fn rolling(stored: DeploymentStatus) -> Deployment {
        let mut d = deployment(3, "1", "0");
        d.status = stored;
        d
    }

    #[test]
    fn progressing_transitions() {
        let created = new_condition(PROGRESSING, "True", NEW_RS_CREATED, "x".into(), at(0));
        let stored = DeploymentStatus {
            observed_generation: 1,
            replicas: 4,
            updated_replicas: 1,
            ready_replicas: 3,
            available_replicas: 3,
            conditions: vec![created.clone()],
            ..Default::default()
        };
        let old = replica_set("old", 100, 3, 3);
        let mut new = replica_set("new", 10, 1, 0);

        // Nothing moved, within the deadline: unchanged, recheck at the deadline.
        let d = rolling(stored.clone());
        let s = rollout_status(&d, &[&old, &new], Some(&new), at(100));
        assert_eq!(condition(&s, PROGRESSING).unwrap().reason, NEW_RS_CREATED);
        assert_eq!(
            recheck_deadline_in(&d, &s, at(100)),
            Some(Duration::from_secs(501))
        );

        // A new pod became available: ReplicaSetUpdated, lastUpdateTime now,
        // the transition time kept.
        new.status.ready_replicas = 1;
        new.status.available_replicas = 1;
        let s = rollout_status(&d, &[&old, &new], Some(&new), at(200));
        let c = condition(&s, PROGRESSING).unwrap();
        assert_eq!(c.reason, RS_UPDATED);
        assert_eq!(c.message, "ReplicaSet \"new\" is progressing.");
        assert_eq!(c.last_update_time, Some(Time(at(200))));
        assert_eq!(c.last_transition_time, Some(Time(at(0))));

        // No progress for longer than 600 s: ProgressDeadlineExceeded.
        new.status.ready_replicas = 0;
        new.status.available_replicas = 0;
        let s = rollout_status(&d, &[&old, &new], Some(&new), at(601));
        let c = condition(&s, PROGRESSING).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", TIMED_OUT));
        assert_eq!(c.message, "ReplicaSet \"new\" has timed out progressing.");
        let mut timed_out = d.clone();
        timed_out.status = s.clone();
        assert_eq!(recheck_deadline_in(&timed_out, &s, at(700)), None);

        // Complete: NewReplicaSetAvailable, and it stays so.
        let old = replica_set("old", 100, 0, 0);
        let done = replica_set("new", 10, 3, 3);
        let s = rollout_status(&d, &[&old, &done], Some(&done), at(300));
        let c = condition(&s, PROGRESSING).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", NEW_RS_AVAILABLE)
        );
        assert_eq!(c.message, "ReplicaSet \"new\" has successfully progressed.");
        assert!(is_complete(&d, &s));
        let mut complete = d.clone();
        complete.status = s;
        let again = rollout_status(&complete, &[&old, &done], Some(&done), at(9000));
        assert_eq!(
            condition(&again, PROGRESSING).unwrap().reason,
            NEW_RS_AVAILABLE
        );
    }

    #[test]
    fn no_deadline_no_progressing_condition() {
        let mut d = rolling(DeploymentStatus {
            conditions: vec![new_condition(
                PROGRESSING,
                "True",
                NEW_RS_CREATED,
                "x".into(),
                at(0),
            )],
            ..Default::default()
        });
        d.spec.progress_deadline_seconds = None;
        let rs = replica_set("new", 10, 3, 0);
        let s = rollout_status(&d, &[&rs], Some(&rs), at(10_000));
        assert!(condition(&s, PROGRESSING).is_none());
    }

    #[test]
    fn replica_failures_are_surfaced() {
        let d = rolling(DeploymentStatus::default());
        let mut old = replica_set("old", 100, 3, 3);
        old.status
            .conditions
            .push(tug_api::apps::ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: "FailedCreate".into(),
                message: "quota".into(),
                last_transition_time: Some(Time(at(1))),
            });
        let new = replica_set("new", 10, 0, 0);
        let s = rollout_status(&d, &[&old, &new], Some(&new), at(5));
        let c = condition(&s, REPLICA_FAILURE).unwrap();
        assert_eq!(
            (c.reason.as_str(), c.message.as_str()),
            ("FailedCreate", "quota")
        );
    }

    #[test]
    fn pause_and_resume_conditions() {
        let mut d = deployment(3, "1", "0");
        d.spec.paused = true;
        let c = paused_condition(&d, at(0)).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("Unknown", PAUSED));
        d.status.conditions.push(c);
        assert!(paused_condition(&d, at(1)).is_none());
        d.spec.paused = false;
        let c = paused_condition(&d, at(2)).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("Unknown", RESUMED));
        // A deadline already exceeded is never overwritten.
        d.status.conditions = vec![new_condition(
            PROGRESSING,
            "False",
            TIMED_OUT,
            "x".into(),
            at(0),
        )];
        d.spec.paused = true;
        assert!(paused_condition(&d, at(3)).is_none());
        // A resumed (Unknown) condition has its lastUpdateTime: the deadline
        // counts from the resume.
        let mut resumed = deployment(3, "1", "0");
        resumed.status.conditions = vec![new_condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "x".into(),
            at(1000),
        )];
        assert!(!is_timed_out(&resumed, &resumed.status, at(1500)));
        assert!(is_timed_out(&resumed, &resumed.status, at(1601)));
    }
}
