//! Stock kubectl (1.35, installed by `scripts/setup.sh`, or named by
//! `$TUG_KUBECTL`) against a running Tugboat cluster: the verbs people
//! use every day on the manifests in `manifests/`, each checked by what
//! kubectl prints and by the objects it leaves on the server.
//!
//! Hollow-node clusters (`tug-kubelet --runtime fake`) serve every verb
//! except `logs -f`, which needs real containers: a one-node runc
//! cluster (root only). Run `cargo build --workspace --bins` first.

/// Starting hollow-node clusters and waiting on them (shared with the
/// control-plane suite).
#[path = "../control_plane/support.rs"]
#[allow(dead_code)]
mod cluster;
/// The one-node runc cluster of the runc node suite.
#[path = "../runc_node/support.rs"]
#[allow(dead_code)]
mod runc;

mod kubectl;
mod output;
mod support;

mod diff;
mod lifecycle;
mod logs;
mod rollout;
mod scale;
mod server_side;
mod validation;
