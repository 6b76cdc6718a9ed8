//! The node's heartbeat: the Lease `kube-node-lease/<node>`, held by the
//! node, renewed every `--node-lease-renew-interval` and owned by the Node
//! (so it goes when the Node is deleted). The node lifecycle controller
//! judges the node alive by its `renewTime`.
//!
//! As the kubelet's lease controller, it keeps the Lease it last wrote and
//! updates that (one request per renewal); on a conflict or any failure it
//! reads the Lease again and retries soon, with back-off.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tug_api::coordination::Lease;
use tug_api::core::{Node, NODE_LEASE_NAMESPACE};
use tug_api::meta::{MicroTime, ObjectMeta};
use tug_api::{OwnerReference, Resource};
use tug_client::{Api, PostParams};

use super::NodeCtx;
use crate::config::NodeConfig;

/// `lease` renewed now by this node, owned by the Node with `node_uid`.
pub fn renewed(mut lease: Lease, cfg: &NodeConfig, node_uid: &str, now: MicroTime) -> Lease {
    lease.metadata.name = cfg.name.clone();
    lease.metadata.namespace = NODE_LEASE_NAMESPACE.to_string();
    lease.spec.holder_identity = Some(cfg.name.clone());
    lease.spec.lease_duration_seconds = Some(cfg.lease_duration_seconds);
    lease.spec.renew_time = Some(now);
    if !node_uid.is_empty() {
        let owner = OwnerReference {
            api_version: Node::api_version(),
            kind: Node::KIND.to_string(),
            name: cfg.name.clone(),
            uid: node_uid.to_string(),
            controller: None,
            block_owner_deletion: None,
        };
        let refs = &mut lease.metadata.owner_references;
        refs.retain(|r| !(r.kind == Node::KIND && r.name == cfg.name));
        refs.push(owner);
    }
    lease
}

/// Renew once: update the Lease last written (or read, or create it).
async fn renew(
    ctx: &NodeCtx,
    api: &Api<Lease>,
    cached: &mut Option<Lease>,
) -> tug_client::Result<()> {
    let cfg = &ctx.config;
    let uid = ctx.node_uid();
    let now = MicroTime::now();
    let base = match cached.take() {
        Some(lease) => lease,
        None => match api.get_opt(&cfg.name).await? {
            Some(lease) => lease,
            None => {
                let fresh = Lease {
                    metadata: ObjectMeta::default(),
                    ..Default::default()
                };
                let created = api
                    .create(&PostParams::default(), &renewed(fresh, cfg, &uid, now))
                    .await?;
                *cached = Some(created);
                return Ok(());
            }
        },
    };
    let written = api
        .replace(
            &cfg.name,
            &PostParams::default(),
            &renewed(base, cfg, &uid, now),
        )
        .await?;
    *cached = Some(written);
    Ok(())
}

/// Renew the node's Lease for ever.
pub async fn run_lease_loop(ctx: Arc<NodeCtx>) {
    let api: Api<Lease> = Api::namespaced(ctx.client.clone(), NODE_LEASE_NAMESPACE);
    let interval = ctx.config.lease_renew_interval;
    let max_retry = interval.min(Duration::from_secs(7));
    let mut cached = None;
    let mut retry = Duration::from_millis(200);
    loop {
        match renew(&ctx, &api, &mut cached).await {
            Ok(()) => {
                retry = Duration::from_millis(200);
                // A little jitter, so hundreds of hollow nodes spread out.
                let jitter = rand::thread_rng().gen_range(0.0..0.04);
                tokio::time::sleep(interval.mul_f64(1.0 + jitter)).await;
            }
            Err(e) => {
                if e.is_transport() {
                    tracing::debug!(node = %ctx.config.name, error = %e, retry_in = ?retry, "cannot renew the node lease");
                } else {
                    tracing::warn!(node = %ctx.config.name, error = %e, retry_in = ?retry, "cannot renew the node lease");
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(max_retry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    fn cfg() -> NodeConfig {
        test_config("n1")
    }

    #[test]
    fn a_renewed_lease_is_held_by_the_node_and_owned_by_it() {
        let now = MicroTime::now();
        let l = renewed(Lease::default(), &cfg(), "node-uid", now);
        assert_eq!(l.metadata.name, "n1");
        assert_eq!(l.metadata.namespace, "kube-node-lease");
        assert_eq!(l.spec.holder_identity.as_deref(), Some("n1"));
        assert_eq!(l.spec.lease_duration_seconds, Some(40));
        assert_eq!(l.spec.renew_time, Some(now));
        assert_eq!(l.metadata.owner_references.len(), 1);
        assert_eq!(l.metadata.owner_references[0].uid, "node-uid");
        assert_eq!(l.metadata.owner_references[0].kind, "Node");
        // A re-created Node (new uid) takes over the ownership.
        let again = renewed(l, &cfg(), "new-uid", now);
        assert_eq!(again.metadata.owner_references.len(), 1);
        assert_eq!(again.metadata.owner_references[0].uid, "new-uid");
    }
}
