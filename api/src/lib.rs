//! `tug-api`: the Kubernetes-shaped resource types Tugboat serves, with
//! the pure functions around them — strict decoding, validation,
//! defaulting, label selectors, quantities. No I/O.

pub mod decode;
pub mod meta;
pub mod resource;
pub mod status;
pub mod strategy;
pub mod validation;

pub mod core;

pub use meta::{
    LabelSelector, LabelSelectorRequirement, List, ListMeta, MicroTime, ObjectMeta, OwnerReference,
    Time,
};
pub use resource::Resource;
pub use status::{FieldError, FieldErrors, Status};
pub use strategy::{Scalable, Strategy};
pub mod intstr;
pub mod quantity;

pub use intstr::IntOrString;
pub use quantity::Quantity;
