//! The `apps/v1` group: ReplicaSet and Deployment.

mod deployment;
mod replicaset;
mod template_hash;
mod workload;

pub use deployment::*;
pub use replicaset::*;
pub use template_hash::{
    compute_template_hash, templates_equal_ignoring_hash, POD_TEMPLATE_HASH_LABEL,
};
pub use workload::selector_string;
