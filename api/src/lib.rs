//! `tug-api`: the Kubernetes-shaped resource types Tugboat serves, with
//! the pure functions around them — strict decoding, validation,
//! defaulting, label selectors, quantities, patches. No I/O.

pub mod decode;
pub mod duration;
pub mod intstr;
pub mod managedfields;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod quantity;
pub mod resource;
pub mod selector;
pub mod status;
pub mod strategy;
pub mod table;
pub mod validation;

pub mod apps;
pub mod authorization;
pub mod autoscaling;
pub mod certificates;
pub mod coordination;
pub mod core;
pub mod rbac;

pub use intstr::IntOrString;
pub use meta::{
    LabelSelector, LabelSelectorRequirement, List, ListMeta, MicroTime, ObjectMeta, OwnerReference,
    Time,
};
pub use quantity::Quantity;
pub use resource::Resource;
pub use status::{FieldError, FieldErrors, Status};
pub use strategy::{Scalable, Strategy};
