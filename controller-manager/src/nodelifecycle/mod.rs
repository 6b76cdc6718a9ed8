//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle`
//! and the NoExecute taint manager), component `node-controller`:
//!
//! - [`monitor`]: nodes whose Lease (and status heartbeat) stops for
//!   `--node-monitor-grace-period` get `Ready=Unknown`; not-ready nodes
//!   get the `unreachable`/`not-ready` NoExecute taint (paced per zone),
//!   healthy ones lose it; pods of a node that just went not ready are
//!   marked not ready;
//! - NoSchedule taints mirror node conditions and `spec.unschedulable`
//!   ([`taints::no_schedule_diff`]), as soon as the node changes;
//! - [`taint_manager`]: pods on NoExecute-tainted nodes are deleted when
//!   their tolerations run out.

mod eviction;
mod health;
mod monitor;
mod pods;
mod taint_manager;
mod tainter;
mod taints;
mod zones;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tug_api::coordination::Lease;
use tug_api::core::{Node, Pod};
use tug_client::{Action, Client, Event, Store, WorkQueue};

use crate::context::ControllerContext;
use health::Grace;
use monitor::NodeMonitor;
use pods::POD_NODE_INDEX;
use taint_manager::TaintManager;
use zones::Rates;

/// Workers of the taint manager.
const EVICTION_WORKERS: usize = 8;

/// Register the handlers and return the controller's run loops.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let opts = ctx.options.clone();
    let nodes = ctx.informers.store::<Node>();
    let leases = ctx.informers.store::<Lease>();
    let pods = ctx.informers.store::<Pod>();
    ctx.informers
        .informer::<Pod>()
        .add_index(POD_NODE_INDEX, |p: &Pod| vec![p.spec.node_name.clone()]);
    let recorder = ctx.recorder("node-controller");

    // NoSchedule taints follow every node change at once.
    let no_schedule: WorkQueue<String> = WorkQueue::new();
    let q = no_schedule.clone();
    ctx.informers
        .informer::<Node>()
        .add_handler(move |ev| match ev {
            Event::Added(_) => q.add(ev.key()),
            Event::Updated { old, new }
                if old.spec.taints != new.spec.taints
                    || old.spec.unschedulable != new.spec.unschedulable
                    || old.status.conditions != new.status.conditions =>
            {
                q.add(ev.key())
            }
            _ => {}
        });

    let manager = Arc::new(TaintManager::new(
        ctx.client.clone(),
        pods.clone(),
        nodes.clone(),
        recorder.clone(),
        opts.default_toleration_seconds.as_secs() as i64,
    ));
    let evictions = taint_manager::register(&manager, &mut ctx.informers);

    let monitor = Arc::new(NodeMonitor::new(
        ctx.client.clone(),
        nodes.clone(),
        leases.clone(),
        pods.clone(),
        recorder,
        Grace {
            monitor: opts.node_monitor_grace_period,
            startup: opts.node_startup_grace_period,
        },
        Rates {
            eviction_qps: opts.node_eviction_rate,
            secondary_qps: opts.secondary_node_eviction_rate,
            large_cluster_threshold: opts.large_cluster_size_threshold,
            unhealthy_threshold: opts.unhealthy_zone_threshold,
        },
    ));
    let client = ctx.client.clone();
    async move {
        nodes.wait_synced().await;
        leases.wait_synced().await;
        pods.wait_synced().await;
        let no_schedule_nodes = nodes.clone();
        futures::join!(
            monitor.clone().run(opts.node_monitor_period),
            monitor.run_tainter(),
            tug_client::run_workers("node-noschedule-taints", no_schedule, 1, move |name| {
                let (client, nodes) = (client.clone(), no_schedule_nodes.clone());
                async move { sync_no_schedule(&client, &nodes, &name).await }
            }),
            tug_client::run_workers("taint-eviction", evictions, EVICTION_WORKERS, move |key| {
                let m = manager.clone();
                async move { m.sync_pod(&key).await }
            }),
        );
    }
    .boxed()
}

/// Make the node's NoSchedule taints mirror its conditions.
async fn sync_no_schedule(
    client: &Client,
    nodes: &Store<Node>,
    name: &str,
) -> anyhow::Result<Action> {
    let Some(node) = nodes.get(name) else {
        return Ok(Action::Done);
    };
    let (add, remove) = taints::no_schedule_diff(&node);
    if !add.is_empty() || !remove.is_empty() {
        taints::swap_taints(client, &node, &add, &remove).await?;
    }
    Ok(Action::Done)
}
