//! The core (`v1`) group.

mod configmap;

pub use configmap::*;
