//! `tug-kubelet`: the node agent of Tugboat.
//!
//! A kubelet registers its Node, keeps the node's Lease and status
//! current, and runs the pods bound to it through a container
//! [runtime](runtime). The parts:
//!
//! - [`flags`] and [`config`]: the command line, one [`config::NodeConfig`]
//!   per node (`--hollow-nodes N` hosts N nodes in one process);
//! - [`node`]: registration, the Lease heartbeat, the node status loop;
//! - [`pods`]: the per-node pod workers and the pure decisions behind
//!   them (what to start, restart back-off, readiness, admission, the
//!   status to report);
//! - [`runtime`]: the [`runtime::Runtime`] trait and the fake runtime of
//!   hollow nodes. Everything else is shared with the real (runc) runtime.

pub mod clock;
pub mod config;
pub mod flags;
pub mod node;
pub mod pods;
pub mod runtime;

use std::sync::Arc;

use tug_client::Client;

use crate::clock::system_clock;
use crate::config::NodeConfig;
use crate::node::NodeCtx;
use crate::runtime::fake::{FakeConfig, FakeRuntime};

/// Run every node of `configs`, each over its own fake runtime, until the
/// returned future is dropped.
pub async fn run_hollow_nodes(client: Client, configs: Vec<NodeConfig>, fake: FakeConfig) {
    let tasks: Vec<_> = configs
        .into_iter()
        .map(|config| {
            let runtime = Arc::new(FakeRuntime::new(fake));
            let ctx = Arc::new(NodeCtx::new(
                config,
                client.clone(),
                runtime,
                system_clock(),
            ));
            tokio::spawn(node::run(ctx))
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!(error = %e, "a node agent stopped");
        }
    }
}
