//! `apps/v1` Deployment: types, defaulting, validation and strategy.

mod defaults;
mod strategy;
mod types;
mod validation;

pub use defaults::{
    default_deployment_spec, DEFAULT_PROGRESS_DEADLINE_SECONDS, DEFAULT_REVISION_HISTORY_LIMIT,
};
pub use types::*;
pub use validation::{validate_deployment_spec, validate_deployment_status};

crate::impl_resource!(
    Deployment,
    group = "apps",
    version = "v1",
    kind = "Deployment",
    plural = "deployments",
    singular = "deployment",
    namespaced = true,
    short = ["deploy"]
);
