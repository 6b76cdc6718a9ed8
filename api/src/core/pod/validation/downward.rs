//! Downward API selectors, shared by env vars and downwardAPI volumes.

use crate::core::pod::container::{ObjectFieldSelector, ResourceFieldSelector};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

/// Field paths an env var may read (sorted, as Kubernetes lists them).
pub(super) const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field paths a downwardAPI volume file may read.
pub(super) const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

const RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `fieldRef`: apiVersion and fieldPath required; the path one of
/// `allowed`, or `metadata.labels['k']` / `metadata.annotations['k']`.
pub(super) fn object_field_selector(
    field: &str,
    sel: &ObjectFieldSelector,
    allowed: &[&str],
) -> FieldErrors {
    if sel.api_version.is_empty() {
        return vec![FieldError::required(&format!("{field}.apiVersion"), "")];
    }
    if sel.field_path.is_empty() {
        return vec![FieldError::required(&format!("{field}.fieldPath"), "")];
    }
    if let Some((path, subscript)) = split_subscript(&sel.field_path) {
        return match path {
            "metadata.annotations" => validation::qualified_name(field, &subscript.to_lowercase()),
            "metadata.labels" => validation::qualified_name(field, subscript),
            _ => vec![FieldError::invalid(
                field,
                path,
                "does not support subscript",
            )],
        };
    }
    if !allowed.contains(&sel.field_path.as_str()) {
        return vec![FieldError::not_supported(
            &format!("{field}.fieldPath"),
            &sel.field_path,
            allowed,
        )];
    }
    Vec::new()
}

/// `metadata.labels['app']` → (`metadata.labels`, `app`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let (base, rest) = path.split_once("['")?;
    let key = rest.strip_suffix("']")?;
    Some((base, key))
}

/// `resourceFieldRef`: a known resource (`limits.cpu`, ...); volumes must
/// also name the container.
pub(super) fn resource_field_selector(
    field: &str,
    sel: &ResourceFieldSelector,
    in_volume: bool,
) -> FieldErrors {
    let mut errs = Vec::new();
    if in_volume && sel.container_name.is_empty() {
        errs.push(FieldError::required(&format!("{field}.containerName"), ""));
    } else if sel.resource.is_empty() {
        errs.push(FieldError::required(&format!("{field}.resource"), ""));
    } else if !RESOURCE_FIELDS.contains(&sel.resource.as_str())
        && !sel.resource.starts_with("limits.hugepages-")
        && !sel.resource.starts_with("requests.hugepages-")
    {
        errs.push(FieldError::not_supported(
            &format!("{field}.resource"),
            &sel.resource,
            RESOURCE_FIELDS,
        ));
    }
    if let Some(d) = &sel.divisor {
        if d.parsed().map(|p| p.is_zero()).unwrap_or(true) {
            errs.push(FieldError::invalid(
                &format!("{field}.divisor"),
                &d.0,
                "must be a positive quantity",
            ));
        }
    }
    errs
}
