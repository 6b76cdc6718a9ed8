//! `tug-scheduler` as a library: everything that decides where pods run,
//! so the binary stays thin and a benchmark can drive the same code.
//!
//! - [`pod_info`] / [`node_info`]: a pod's precomputed facts; a node with
//!   the running totals of what its pods take.
//! - [`cache`]: the nodes and the pods on them, bound or *assumed* while
//!   their binding is in flight, so nothing is double-booked.
//! - [`queue`]: activeQ by priority, backoffQ, unschedulable pods retried
//!   on cluster changes.
//! - [`framework`] and [`plugins`]: filters and weighted scores, each a
//!   pure function of a pod and a node; the `FailedScheduling` message.
//! - [`algorithm`]: one decision — filter (a share of the nodes on large
//!   clusters, round-robin), score, pick.
//! - [`schedule_one`], [`binder`], [`status`], [`handlers`], [`scheduler`]:
//!   the loop, asynchronous bindings, the PodScheduled condition, informer
//!   events, and the wiring.

pub mod algorithm;
pub mod binder;
pub mod cache;
pub mod config;
pub mod framework;
pub mod handlers;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod queue;
pub mod schedule_one;
pub mod scheduler;
pub mod status;
#[cfg(test)]
mod testing;

pub use algorithm::{Algorithm, Placement};
pub use cache::Cache;
pub use config::SchedulerConfig;
pub use framework::{FitError, Profile};
pub use pod_info::PodInfo;
pub use queue::SchedulingQueue;
pub use scheduler::Scheduler;
