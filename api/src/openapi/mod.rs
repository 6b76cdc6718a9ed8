//! OpenAPI descriptions of every kind the API serves, derived from the
//! Rust types themselves (`schemars` reads the same serde attributes the
//! wire format comes from, so a field's JSON name, type and optionality
//! cannot drift from what is actually decoded).
//!
//! [`definitions`] gives the schemas keyed by their upstream names
//! (`io.k8s.api.apps.v1.Deployment`, ...), with the Kubernetes vendor
//! extensions kubectl reads: `x-kubernetes-group-version-kind` on every
//! top-level kind and list, and on lists the strategic-merge metadata
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) and the
//! server-side-apply topology (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`), taken from [`PatchSchema`] and
//! [`ListTypes`] (the table server-side apply itself uses).
//! [`document`] builds the per-group-version OpenAPI v3 documents (paths
//! with every verb and query parameter) and [`swagger`] the v2 one.
//!
//! [`PatchSchema`]: crate::patch::PatchSchema
//! [`ListTypes`]: crate::managedfields::ListTypes

mod clean;
mod document;
mod extra;
mod generate;
mod names;
mod params;
mod patch_ext;
pub(crate) mod primitives;
mod required;
mod swagger;

pub use document::{document, ServedResource};
pub use generate::{definitions, Gvk};
pub use swagger::swagger;

#[cfg(test)]
mod tests;
