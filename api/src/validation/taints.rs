//! Taint effects, shared by Node taints and Pod tolerations.

use crate::status::{FieldError, FieldErrors};

/// The effects a taint may have, in the order Kubernetes lists them.
pub const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A taint effect; `allow_empty` for tolerations, where empty means "all effects".
pub fn taint_effect(field: &str, effect: &str, allow_empty: bool) -> FieldErrors {
    if effect.is_empty() {
        if allow_empty {
            return Vec::new();
        }
        return vec![FieldError::required(field, "")];
    }
    if TAINT_EFFECTS.contains(&effect) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(field, effect, TAINT_EFFECTS)]
    }
}
