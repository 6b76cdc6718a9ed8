//! The core (`v1`) group.

mod configmap;
mod object_reference;
pub mod pod;
pub(crate) mod skip;

pub use configmap::*;
pub use object_reference::*;
pub use pod::*;
