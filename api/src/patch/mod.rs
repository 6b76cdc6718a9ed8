//! Applying and computing PATCH documents, as the apiserver and kubectl do:
//!
//! - JSON merge patch (RFC 7386, `application/merge-patch+json`): [`merge_patch`];
//! - JSON patch (RFC 6902, `application/json-patch+json`): [`json_patch`];
//! - strategic merge patch (`application/strategic-merge-patch+json`),
//!   Kubernetes' merge patch in which lists of maps merge by a key and
//!   `$patch`-style directives steer the merge: [`strategic_merge_patch`],
//!   driven by a per-kind [`PatchSchema`];
//! - the three-way patches `kubectl apply` computes from the last-applied
//!   configuration, the manifest and the live object:
//!   [`create_three_way_merge_patch`] and [`create_three_way_json_merge_patch`].
//!
//! Everything works on `serde_json::Value`; nothing here knows the typed
//! resources beyond the field names in [`PatchSchema`].

mod diff;
mod list;
mod merge;
mod schema;
mod strategic;
mod three_way;

pub use merge::{create_merge_patch, json_patch, merge_patch};
pub use schema::{PatchExtension, PatchSchema};
pub use strategic::strategic_merge_patch;
pub use three_way::{create_three_way_json_merge_patch, create_three_way_merge_patch};

/// Why a patch could not be applied or computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed: not the right JSON shape,
    /// an unknown operation or directive, a list element without its merge
    /// key. The apiserver answers 400 Bad Request.
    #[error("{0}")]
    Malformed(String),
    /// The patch is well-formed but cannot be applied to this object: a
    /// JSON patch `test` failed or a path does not exist. The apiserver
    /// answers 422 Unprocessable Entity.
    #[error("{0}")]
    Failed(String),
}

impl PatchError {
    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            PatchError::Malformed(m) | PatchError::Failed(m) => m,
        }
    }
}

/// Shorthand for a [`PatchError::Malformed`].
fn malformed(msg: impl Into<String>) -> PatchError {
    PatchError::Malformed(msg.into())
}
