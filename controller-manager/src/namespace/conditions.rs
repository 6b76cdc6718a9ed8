//! The status conditions of a terminating namespace (upstream
//! `status_condition_utils.go`): what blocks its deletion, in words
//! `tugctl describe ns` shows.

use std::collections::BTreeMap;

use tug_api::core::NamespaceCondition;
use tug_api::Time;

/// The condition types, in upstream's order, with the reason and message
/// each has when nothing is wrong.
const CONDITIONS: [(&str, &str, &str); 5] = [
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// What one deletion pass found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassResult {
    /// Discovery failed with this message.
    pub discovery_error: Option<String>,
    /// Per resource kind that failed to delete, the error.
    pub delete_errors: Vec<String>,
    /// `pods.` (resource.group) → objects left.
    pub remaining: BTreeMap<String, usize>,
    /// Finalizer → objects still carrying it.
    pub finalizers: BTreeMap<String, usize>,
}

/// The failing conditions a pass implies (the others are "ok").
fn failing(pass: &PassResult) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(e) = &pass.discovery_error {
        out.push((
            "NamespaceDeletionDiscoveryFailure",
            "DiscoveryFailed",
            format!("Discovery failed for some groups, 1 failing: {e}"),
        ));
    }
    if !pass.delete_errors.is_empty() {
        let mut msgs = pass.delete_errors.clone();
        msgs.sort();
        out.push((
            "NamespaceDeletionContentFailure",
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                msgs.len(),
                msgs.join(", ")
            ),
        ));
    }
    let remaining: Vec<String> = pass
        .remaining
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{r} has {n} resource instances"))
        .collect();
    if !remaining.is_empty() {
        out.push((
            "NamespaceContentRemaining",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", remaining.join(", ")),
        ));
    }
    let finalizers: Vec<String> = pass
        .finalizers
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect();
    if !finalizers.is_empty() {
        out.push((
            "NamespaceFinalizersRemaining",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                finalizers.join(", ")
            ),
        ));
    }
    out
}

/// The namespace's conditions after a pass; `None` when nothing changed
/// (a transition time moves only when status, reason or message do).
pub fn updated_conditions(
    current: &[NamespaceCondition],
    pass: &PassResult,
    now: Time,
) -> Option<Vec<NamespaceCondition>> {
    let failing = failing(pass);
    let mut out = current.to_vec();
    let mut changed = false;
    for (type_, ok_reason, ok_message) in CONDITIONS {
        let (status, reason, message) = match failing.iter().find(|(t, _, _)| *t == type_) {
            Some((_, reason, message)) => ("True", *reason, message.clone()),
            None => ("False", ok_reason, ok_message.to_string()),
        };
        match out.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == status && c.reason == reason && c.message == message => {}
            Some(c) => {
                c.status = status.into();
                c.reason = reason.into();
                c.message = message;
                c.last_transition_time = Some(now);
                changed = true;
            }
            None => {
                out.push(NamespaceCondition {
                    type_: type_.into(),
                    status: status.into(),
                    last_transition_time: Some(now),
                    reason: reason.into(),
                    message,
                });
                changed = true;
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_say_what_is_left_and_settle() {
        let now = Time::now();
        let pass = PassResult {
            remaining: BTreeMap::from([("pods.".to_string(), 2), ("configmaps.".to_string(), 0)]),
            finalizers: BTreeMap::from([("example.com/keep".to_string(), 1)]),
            ..Default::default()
        };
        let first = updated_conditions(&[], &pass, now).expect("all five are new");
        assert_eq!(first.len(), 5);
        let by = |t: &str| first.iter().find(|c| c.type_ == t).unwrap().clone();
        let remaining = by("NamespaceContentRemaining");
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message,
            "Some resources are remaining: pods. has 2 resource instances"
        );
        assert_eq!(
            by("NamespaceFinalizersRemaining").message,
            "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"
        );
        assert_eq!(
            by("NamespaceDeletionContentFailure").reason,
            "ContentDeleted"
        );
        assert_eq!(
            updated_conditions(&first, &pass, now),
            None,
            "same pass, no write"
        );

        let done = updated_conditions(&first, &PassResult::default(), now).unwrap();
        assert!(done.iter().all(|c| c.status == "False"));
        assert_eq!(
            done.iter()
                .find(|c| c.type_ == "NamespaceContentRemaining")
                .unwrap()
                .reason,
            "ContentRemoved"
        );
    }

    #[test]
    fn failures_are_reported() {
        let pass = PassResult {
            discovery_error: Some("boom".into()),
            delete_errors: vec!["b failed".into(), "a failed".into()],
            ..Default::default()
        };
        let c = updated_conditions(&[], &pass, Time::now()).unwrap();
        let content = c
            .iter()
            .find(|c| c.type_ == "NamespaceDeletionContentFailure")
            .unwrap();
        assert_eq!(
            content.message,
            "Failed to delete all resource types, 2 remaining: a failed, b failed"
        );
        assert_eq!(
            c.iter()
                .find(|c| c.type_ == "NamespaceDeletionDiscoveryFailure")
                .unwrap()
                .reason,
            "DiscoveryFailed"
        );
    }
}
