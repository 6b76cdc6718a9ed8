//! When a pod on a `NoExecute`-tainted node must go (upstream's
//! `NoExecuteTaintManager.processPodOnNode`), as a pure function.
//!
//! - A taint the pod does not tolerate: evict now.
//! - Every taint tolerated: for each taint, the first toleration matching
//!   it decides; with `tolerationSeconds` the pod may stay that long after
//!   the taint's `timeAdded`, without it for ever. The earliest of these
//!   deadlines wins.
//!
//! Upstream counts from when its taint manager first saw the taint; here
//! the taint's own `timeAdded` is used, which the controller survives a
//! restart with and which is what `tugctl describe` shows.

use chrono::{DateTime, Utc};
use tug_api::core::{Taint, Toleration, TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};

use super::taints::NO_EXECUTE;

/// What to do about a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// It tolerates every taint for ever (or there is none).
    Never,
    /// It does not tolerate a taint.
    Now,
    /// It tolerates the taints until then.
    At(DateTime<Utc>),
}

/// The pod's tolerations as the `DefaultTolerationSeconds` admission
/// plugin would have left them: a pod without a toleration for
/// `not-ready:NoExecute` (resp. `unreachable:NoExecute`) gets one
/// (`Exists`, `tolerationSeconds: default_seconds`). Tugboat's apiserver
/// does not run that admission plugin, so the controller applies it when
/// it judges a pod, with `--default-toleration-seconds`.
pub fn with_default_tolerations(
    tolerations: &[Toleration],
    default_seconds: i64,
) -> Vec<Toleration> {
    // Upstream's test: an empty key or effect counts as matching.
    let covers = |key: &str| {
        tolerations.iter().any(|t| {
            (t.key == key || t.key.is_empty()) && (t.effect == NO_EXECUTE || t.effect.is_empty())
        })
    };
    let mut out = tolerations.to_vec();
    for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
        if !covers(key) {
            out.push(Toleration {
                key: key.into(),
                operator: "Exists".into(),
                effect: NO_EXECUTE.into(),
                toleration_seconds: Some(default_seconds),
                ..Default::default()
            });
        }
    }
    out
}

/// When a pod with `tolerations` must leave a node with `taints` (only
/// the NoExecute ones count). `since` gives when each taint was added.
pub fn eviction_time(
    tolerations: &[Toleration],
    taints: &[Taint],
    since: impl Fn(&Taint) -> DateTime<Utc>,
) -> Eviction {
    let mut earliest: Option<DateTime<Utc>> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let Some(toleration) = tolerations.iter().find(|t| t.tolerates(taint)) else {
            return Eviction::Now;
        };
        if let Some(seconds) = toleration.toleration_seconds {
            let deadline = since(taint) + chrono::Duration::seconds(seconds.max(0));
            earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
        }
    }
    earliest.map_or(Eviction::Never, Eviction::At)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::Time;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn taint(key: &str, effect: &str, added: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            time_added: Some(Time(at(added))),
            ..Default::default()
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: key.into(),
            operator: "Exists".into(),
            effect: NO_EXECUTE.into(),
            toleration_seconds: seconds,
            ..Default::default()
        }
    }

    fn time_added(t: &Taint) -> DateTime<Utc> {
        t.time_added.map(|t| t.0).unwrap()
    }

    #[test]
    fn untolerated_taints_evict_at_once() {
        let taints = [taint("dedicated", NO_EXECUTE, 0)];
        assert_eq!(eviction_time(&[], &taints, time_added), Eviction::Now);
        let defaults = with_default_tolerations(&[], 300);
        assert_eq!(eviction_time(&defaults, &taints, time_added), Eviction::Now);
    }

    #[test]
    fn only_no_execute_taints_count() {
        let taints = [taint("dedicated", "NoSchedule", 0)];
        assert_eq!(eviction_time(&[], &taints, time_added), Eviction::Never);
        assert_eq!(eviction_time(&[], &[], time_added), Eviction::Never);
    }

    #[test]
    fn toleration_seconds_count_from_the_taints_time() {
        let taints = [taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE, 100)];
        let t = [toleration(TAINT_NODE_UNREACHABLE, Some(30))];
        assert_eq!(
            eviction_time(&t, &taints, time_added),
            Eviction::At(at(130))
        );
        let forever = [toleration(TAINT_NODE_UNREACHABLE, None)];
        assert_eq!(
            eviction_time(&forever, &taints, time_added),
            Eviction::Never
        );
        let negative = [toleration(TAINT_NODE_UNREACHABLE, Some(-5))];
        assert_eq!(
            eviction_time(&negative, &taints, time_added),
            Eviction::At(at(100))
        );
    }

    #[test]
    fn the_earliest_deadline_of_several_taints_wins() {
        let taints = [
            taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE, 100),
            taint("maintenance", NO_EXECUTE, 50),
        ];
        let t = [
            toleration(TAINT_NODE_UNREACHABLE, Some(300)),
            toleration("maintenance", Some(60)),
        ];
        assert_eq!(
            eviction_time(&t, &taints, time_added),
            Eviction::At(at(110))
        );
    }

    #[test]
    fn default_tolerations_are_added_only_where_missing() {
        let defaults = with_default_tolerations(&[], 300);
        assert_eq!(defaults.len(), 2);
        let taints = [taint(TAINT_NODE_NOT_READY, NO_EXECUTE, 10)];
        assert_eq!(
            eviction_time(&defaults, &taints, time_added),
            Eviction::At(at(310))
        );

        // The pod's own toleration for unreachable wins; not-ready gets the default.
        let own = [toleration(TAINT_NODE_UNREACHABLE, Some(5))];
        let merged = with_default_tolerations(&own, 300);
        assert_eq!(merged.len(), 2);
        let unreachable = [taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE, 10)];
        assert_eq!(
            eviction_time(&merged, &unreachable, time_added),
            Eviction::At(at(15))
        );

        // A toleration of everything (empty key, Exists) covers both.
        let all = [Toleration {
            operator: "Exists".into(),
            ..Default::default()
        }];
        assert_eq!(with_default_tolerations(&all, 300).len(), 1);
        assert_eq!(
            eviction_time(&all, &unreachable, time_added),
            Eviction::Never
        );
    }
}
