//! Registering the Node (`registerWithAPIServer` upstream): create it
//! with its labels, taints and status; if it exists already (a restarted
//! kubelet), keep it — its uid, podCIDR and pods — and bring its status up
//! to date. An unreachable API server is retried for ever: a kubelet never
//! gives up on registering.

use std::time::Duration;

use tug_api::core::Node;
use tug_api::meta::ObjectMeta;
use tug_client::{Api, PostParams};

use super::machine::Pressure;
use super::status::{current_pressure, node_status, write_status};
use super::NodeCtx;

/// The Node a kubelet with `ctx`'s settings creates, under `pressure`.
pub fn initial_node(ctx: &NodeCtx, pressure: Pressure) -> Node {
    let cfg = &ctx.config;
    let mut node = Node {
        metadata: ObjectMeta {
            name: cfg.name.clone(),
            labels: cfg.labels.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    node.spec.taints = cfg.taints.clone();
    node.status = node_status(
        cfg,
        &ctx.runtime.version(),
        pressure,
        &node.status,
        (ctx.clock)(),
    );
    node
}

/// Create the Node, or bring an existing one's status up to date.
pub async fn register(ctx: &NodeCtx) -> tug_client::Result<Node> {
    let api: Api<Node> = Api::all(ctx.client.clone());
    let pressure = current_pressure(&ctx.config).await;
    match api
        .create(&PostParams::default(), &initial_node(ctx, pressure))
        .await
    {
        Ok(node) => {
            tracing::info!(node = %node.metadata.name, "registered the node");
            Ok(node)
        }
        Err(e) if e.is_already_exists() => {
            let existing = api.get(&ctx.config.name).await?;
            let status = node_status(
                &ctx.config,
                &ctx.runtime.version(),
                pressure,
                &existing.status,
                (ctx.clock)(),
            );
            let node = write_status(&api, &existing, &status).await?;
            tracing::info!(node = %node.metadata.name, "the node was registered before; updated its status");
            Ok(node)
        }
        Err(e) => Err(e),
    }
}

/// [`register`], retried with back-off (200 ms doubling to 7 s) until it
/// succeeds.
pub async fn register_until_done(ctx: &NodeCtx) -> Node {
    let mut delay = Duration::from_millis(200);
    loop {
        match register(ctx).await {
            Ok(node) => return node,
            Err(e) => {
                if e.is_transport() {
                    tracing::debug!(node = %ctx.config.name, error = %e, retry_in = ?delay, "cannot register the node yet");
                } else {
                    tracing::warn!(node = %ctx.config.name, error = %e, retry_in = ?delay, "cannot register the node");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(7));
            }
        }
    }
}
