//! What to do with an object given the state of its owners (upstream
//! `attemptToDeleteItem` after `classifyReferences`), as a pure function.

use tug_api::OwnerReference;
use tug_client::PropagationPolicy;

use super::graph::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

/// What the API says about one owner reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// The owner exists (and is not waiting for its dependents).
    Solid,
    /// No object with that name and UID exists.
    Dangling,
    /// The owner is being deleted in the foreground: it waits for this
    /// dependent to go.
    WaitingForDependents,
    /// The owner is gone and was deleted with `propagationPolicy: Orphan`:
    /// this dependent was created before that deletion but reached the
    /// collector only after the orphaning finished (the watches of two
    /// kinds are not ordered). It must lose the reference, not be deleted.
    Orphaned,
}

/// The collector's verdict on an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It has a live owner and nothing to clean: leave it.
    Keep,
    /// It has a live owner, but also references to owners that are gone
    /// or waiting for it: drop those references (by owner UID).
    RemoveOwnerRefs(Vec<String>),
    /// Every owner is gone: delete it with this propagation.
    Delete(PropagationPolicy),
    /// An owner waits for it and it has dependents of its own: delete it
    /// in the foreground too. `unblock` first clears the
    /// `blockOwnerDeletion` of its references, when one of its dependents
    /// is itself waiting (a cycle would otherwise wait for ever).
    DeleteForeground { unblock: bool },
}

/// Decide about an object whose owner references were classified.
/// `finalizers` are the object's own; `has_dependents` and
/// `dependent_waiting` describe its dependents in the graph.
pub fn decide(
    refs: &[(OwnerReference, OwnerState)],
    finalizers: &[String],
    has_dependents: bool,
    dependent_waiting: bool,
) -> Decision {
    let orphaned: Vec<String> = refs
        .iter()
        .filter(|(_, s)| *s == OwnerState::Orphaned)
        .map(|(r, _)| r.uid.clone())
        .collect();
    if !orphaned.is_empty() {
        let rest: Vec<(OwnerReference, OwnerState)> = refs
            .iter()
            .filter(|(_, s)| *s != OwnerState::Orphaned)
            .cloned()
            .collect();
        if rest.is_empty() {
            return Decision::RemoveOwnerRefs(orphaned);
        }
        return match decide(&rest, finalizers, has_dependents, dependent_waiting) {
            Decision::Keep => Decision::RemoveOwnerRefs(orphaned),
            Decision::RemoveOwnerRefs(more) => {
                Decision::RemoveOwnerRefs(orphaned.into_iter().chain(more).collect())
            }
            deletion => deletion,
        };
    }
    if refs.is_empty() {
        return Decision::Keep;
    }
    let of = |state: OwnerState| {
        refs.iter()
            .filter(move |(_, s)| *s == state)
            .map(|(r, _)| r.uid.clone())
    };
    let solid = of(OwnerState::Solid).count();
    let waiting: Vec<String> = of(OwnerState::WaitingForDependents).collect();
    if solid > 0 {
        let stale: Vec<String> = of(OwnerState::Dangling).chain(waiting).collect();
        return if stale.is_empty() {
            Decision::Keep
        } else {
            Decision::RemoveOwnerRefs(stale)
        };
    }
    if !waiting.is_empty() && has_dependents {
        return Decision::DeleteForeground {
            unblock: dependent_waiting,
        };
    }
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    let policy = if has(ORPHAN_FINALIZER) {
        PropagationPolicy::Orphan
    } else if has(FOREGROUND_FINALIZER) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    Decision::Delete(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(uid: &str) -> OwnerReference {
        OwnerReference {
            uid: uid.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_live_owner_keeps_the_object() {
        let refs = [(r("a"), OwnerState::Solid)];
        assert_eq!(decide(&refs, &[], false, false), Decision::Keep);
        assert_eq!(decide(&[], &[], false, false), Decision::Keep);
    }

    #[test]
    fn gone_owners_are_dropped_while_one_lives() {
        let refs = [
            (r("a"), OwnerState::Solid),
            (r("b"), OwnerState::Dangling),
            (r("c"), OwnerState::WaitingForDependents),
        ];
        assert_eq!(
            decide(&refs, &[], true, false),
            Decision::RemoveOwnerRefs(vec!["b".into(), "c".into()])
        );
    }

    #[test]
    fn no_live_owner_means_delete_in_the_background() {
        let refs = [
            (r("a"), OwnerState::Dangling),
            (r("b"), OwnerState::Dangling),
        ];
        assert_eq!(
            decide(&refs, &[], true, false),
            Decision::Delete(PropagationPolicy::Background)
        );
        // Its own finalizers choose the propagation.
        assert_eq!(
            decide(&refs, &["orphan".into()], true, false),
            Decision::Delete(PropagationPolicy::Orphan)
        );
        assert_eq!(
            decide(&refs, &["foregroundDeletion".into()], true, false),
            Decision::Delete(PropagationPolicy::Foreground)
        );
    }

    #[test]
    fn references_to_owners_deleted_with_orphan_are_only_dropped() {
        let only = [(r("a"), OwnerState::Orphaned)];
        assert_eq!(
            decide(&only, &[], false, false),
            Decision::RemoveOwnerRefs(vec!["a".into()])
        );
        let with_live = [(r("a"), OwnerState::Orphaned), (r("b"), OwnerState::Solid)];
        assert_eq!(
            decide(&with_live, &[], false, false),
            Decision::RemoveOwnerRefs(vec!["a".into()])
        );
        let with_stale = [
            (r("a"), OwnerState::Orphaned),
            (r("b"), OwnerState::Solid),
            (r("c"), OwnerState::Dangling),
        ];
        assert_eq!(
            decide(&with_stale, &[], false, false),
            Decision::RemoveOwnerRefs(vec!["a".into(), "c".into()])
        );
        // Another owner really gone (background): it still goes.
        let with_gone = [
            (r("a"), OwnerState::Orphaned),
            (r("c"), OwnerState::Dangling),
        ];
        assert_eq!(
            decide(&with_gone, &[], false, false),
            Decision::Delete(PropagationPolicy::Background)
        );
    }

    #[test]
    fn a_waiting_owner_cascades_the_foreground_deletion() {
        let refs = [(r("a"), OwnerState::WaitingForDependents)];
        assert_eq!(
            decide(&refs, &[], true, false),
            Decision::DeleteForeground { unblock: false }
        );
        assert_eq!(
            decide(&refs, &[], true, true),
            Decision::DeleteForeground { unblock: true }
        );
        // A leaf just goes.
        assert_eq!(
            decide(&refs, &[], false, false),
            Decision::Delete(PropagationPolicy::Background)
        );
    }
}
