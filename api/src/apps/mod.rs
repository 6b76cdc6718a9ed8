//! The `apps/v1` group: ReplicaSet and Deployment.

mod deployment;
mod replicaset;
mod workload;

pub use deployment::*;
pub use replicaset::*;
pub use workload::selector_string;
