//! The `coordination.k8s.io/v1` group: Lease.

mod lease;

pub use lease::*;
