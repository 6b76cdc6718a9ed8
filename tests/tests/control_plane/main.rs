//! Control-plane integration: a real apiserver, scheduler,
//! controller-manager and hollow nodes (`tug-kubelet --runtime fake`) as
//! processes, started by the same launcher as `tugctl cluster up`, driven
//! through the public API as a user would.
//!
//! Run `cargo build --workspace --bins` first (scripts/test.sh does).

mod support;

mod failures;
mod garbage_collection;
mod high_availability;
mod rollout;
mod scaling;
