//! `v1` Service: types, defaulting, validation and strategy.

mod defaults;
mod strategy;
mod types;
mod validation;

pub use defaults::{default_service_spec, DEFAULT_CLIENT_IP_TIMEOUT_SECONDS};
pub use types::*;
pub use validation::{
    validate_service_spec, validate_service_spec_update, validate_service_status,
    MAX_CLIENT_IP_TIMEOUT_SECONDS,
};

crate::impl_resource!(
    Service,
    group = "",
    version = "v1",
    kind = "Service",
    plural = "services",
    singular = "service",
    namespaced = true,
    short = ["svc"]
);
