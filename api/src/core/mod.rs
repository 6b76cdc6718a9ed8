//! The core (`v1`) group.

pub mod base64;
mod binding;
mod configmap;
mod endpoints;
mod event;
mod namespace;
mod node;
mod object_reference;
pub mod pod;
mod secret;
pub mod service;
pub(crate) mod skip;

pub use binding::*;
pub use configmap::*;
pub use endpoints::*;
pub use event::*;
pub use namespace::*;
pub use node::*;
pub use object_reference::*;
pub use pod::*;
pub use secret::*;
pub use service::*;
