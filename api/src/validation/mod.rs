//! Validation helpers shared by every kind (`apimachinery/pkg/api/validation`
//! and `util/validation` upstream). Kind-specific rules live next to each
//! kind's type.

mod meta_names;
mod names;
mod network;
mod numbers;
mod quantity;
mod strings;
mod taints;
mod value;

pub use meta_names::*;
pub use names::*;
pub use network::*;
pub use numbers::*;
pub use quantity::*;
pub use strings::*;
pub use taints::*;
pub use value::*;

use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};

/// Total size limit of all annotations of one object.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Validate ObjectMeta of a new or updated object. `namespaced` says
/// whether the kind requires a namespace (and forbids one otherwise).
pub fn object_meta(meta: &ObjectMeta, namespaced: bool) -> FieldErrors {
    let mut errs = Vec::new();
    if meta.name.is_empty() && meta.generate_name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else if !meta.name.is_empty() {
        errs.extend(dns1123_subdomain("metadata.name", &meta.name));
    }
    if namespaced {
        if meta.namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            errs.extend(dns1123_label("metadata.namespace", &meta.namespace));
        }
    } else if !meta.namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.deletion_grace_period_seconds {
        if g < 0 {
            errs.push(FieldError::invalid(
                "metadata.deletionGracePeriodSeconds",
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(labels("metadata.labels", &meta.labels));
    errs.extend(annotations("metadata.annotations", &meta.annotations));
    for (i, r) in meta.owner_references.iter().enumerate() {
        let f = format!("metadata.ownerReferences[{i}]");
        if r.api_version.is_empty() {
            errs.push(FieldError::required(
                &format!("{f}.apiVersion"),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::required(
                &format!("{f}.kind"),
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::required(
                &format!("{f}.name"),
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::required(
                &format!("{f}.uid"),
                "uid must not be empty",
            ));
        }
    }
    if meta
        .owner_references
        .iter()
        .filter(|r| r.controller == Some(true))
        .count()
        > 1
    {
        errs.push(FieldError::invalid(
            "metadata.ownerReferences",
            "",
            "Only one reference can have Controller set to true",
        ));
    }
    for (i, f) in meta.finalizers.iter().enumerate() {
        errs.extend(qualified_name(&format!("metadata.finalizers[{i}]"), f));
    }
    errs
}

/// Validate ObjectMeta on update: everything [`object_meta`] checks, plus
/// the fields that never change after create.
pub fn object_meta_update(new: &ObjectMeta, old: &ObjectMeta, namespaced: bool) -> FieldErrors {
    let mut errs = object_meta(new, namespaced);
    if new.name != old.name {
        errs.push(FieldError::invalid(
            "metadata.name",
            &new.name,
            "field is immutable",
        ));
    }
    if new.namespace != old.namespace {
        errs.push(FieldError::invalid(
            "metadata.namespace",
            &new.namespace,
            "field is immutable",
        ));
    }
    if !new.uid.is_empty() && new.uid != old.uid {
        errs.push(FieldError::invalid(
            "metadata.uid",
            &new.uid,
            "field is immutable",
        ));
    }
    errs
}

/// Validate a label map: qualified-name keys, values of at most 63 chars.
pub fn labels(field: &str, labels: &std::collections::BTreeMap<String, String>) -> FieldErrors {
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(qualified_name(field, k));
        errs.extend(label_value(field, v));
    }
    errs
}

/// Validate an annotation map: qualified-name keys, total size ≤ 256 KiB.
pub fn annotations(
    field: &str,
    annotations: &std::collections::BTreeMap<String, String>,
) -> FieldErrors {
    let mut errs = Vec::new();
    let mut total = 0;
    for (k, v) in annotations {
        errs.extend(qualified_name(field, &k.to_lowercase()));
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// A ConfigMap/Secret data key: `[-._a-zA-Z0-9]+`, ≤ 253 chars, not `.`/`..`.
pub fn config_map_key(field: &str, key: &str) -> FieldErrors {
    let valid_chars = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid_chars || key.len() > 253 || key == "." || key == ".." || key.starts_with("..") {
        vec![FieldError::invalid(
            field,
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        )]
    } else {
        Vec::new()
    }
}
