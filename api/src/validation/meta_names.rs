//! ObjectMeta validation for kinds whose names follow a stricter rule than
//! the default DNS-1123 subdomain (Service: DNS-1035 label; Namespace:
//! DNS-1123 label).

use crate::meta::ObjectMeta;
use crate::status::{FieldErrorType, FieldErrors};

use super::{object_meta, object_meta_update};

/// A name rule: `(field, value) -> errors`.
pub type NameRule = fn(&str, &str) -> FieldErrors;

/// [`object_meta`](super::object_meta), with `metadata.name` checked by
/// `name_rule` instead of the DNS-1123 subdomain rule.
pub fn object_meta_with_name_rule(
    meta: &ObjectMeta,
    namespaced: bool,
    name_rule: NameRule,
) -> FieldErrors {
    replace_name_errors(object_meta(meta, namespaced), meta, name_rule)
}

/// [`object_meta_update`](super::object_meta_update) with a custom name rule.
pub fn object_meta_update_with_name_rule(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
    name_rule: NameRule,
) -> FieldErrors {
    replace_name_errors(object_meta_update(new, old, namespaced), new, name_rule)
}

/// Every name rule passed here is stricter than a subdomain, so dropping
/// the subdomain findings and adding the rule's own loses nothing.
fn replace_name_errors(
    mut errs: FieldErrors,
    meta: &ObjectMeta,
    name_rule: NameRule,
) -> FieldErrors {
    if meta.name.is_empty() {
        return errs;
    }
    let pos = errs
        .iter()
        .position(|e| e.field == "metadata.name" && e.detail != "field is immutable");
    errs.retain(|e| {
        !(e.field == "metadata.name"
            && e.kind == FieldErrorType::Invalid
            && e.detail != "field is immutable")
    });
    let own = name_rule("metadata.name", &meta.name);
    let at = pos.unwrap_or(0).min(errs.len());
    errs.splice(at..at, own);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::dns1035_label;

    #[test]
    fn stricter_name_rule_replaces_subdomain_rule() {
        let meta = ObjectMeta {
            name: "1web.x".into(),
            namespace: "default".into(),
            ..Default::default()
        };
        let errs = object_meta_with_name_rule(&meta, true, dns1035_label);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].detail.starts_with("a DNS-1035 label"));
    }
}
