//! Node IPAM: each node gets its own podCIDR, a `/--node-cidr-mask-size`
//! block of `--cluster-cidr`, as upstream's range allocator
//! (`pkg/controller/nodeipam/ipam/range_allocator.go`).
//!
//! The bitmap of used blocks lives only in memory; it is rebuilt from the
//! nodes' `spec.podCIDRs` when the controller starts (and kept current by
//! node events), so a restart never hands out a taken block. A block is
//! freed when its node is deleted. The write is a patch pinned to the
//! resourceVersion the allocation was decided on, and the apiserver
//! refuses to change a podCIDR once set, so even two controller-managers
//! racing cannot give a node two blocks or two nodes one block.

mod cidr_set;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use tug_api::core::Node;
use tug_client::{Action, Api, Client, Event, EventRecorder, Patch, PatchParams, Store, WorkQueue};

use crate::context::ControllerContext;
use cidr_set::{CidrError, CidrSet};

/// How long a node waits before trying again when the range is full.
const RETRY_WHEN_FULL: Duration = Duration::from_secs(30);
/// Attempts at the podCIDR patch when the node keeps changing under us.
const PATCH_ATTEMPTS: usize = 5;

/// Register the handlers and return the controller's run loop (a no-op
/// with `--allocate-node-cidrs=false`).
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    if !ctx.options.allocate_node_cidrs {
        tracing::info!("node IPAM is off (--allocate-node-cidrs=false)");
        return futures::future::ready(()).boxed();
    }
    let set = match CidrSet::new(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size) {
        Ok(set) => set,
        Err(e) => {
            // A configuration error: no allocation can ever be right.
            eprintln!("tug-controller-manager: nodeipam: {e}");
            std::process::exit(2);
        }
    };
    tracing::info!(
        cluster_cidr = %ctx.options.cluster_cidr,
        blocks = set.capacity(),
        mask = ctx.options.node_cidr_mask_size,
        "node IPAM allocating podCIDRs"
    );
    let allocator = Arc::new(Allocator {
        state: Mutex::new(State {
            set,
            by_node: HashMap::new(),
        }),
    });
    let queue: WorkQueue<String> = WorkQueue::new();
    let nodes = ctx.informers.store::<Node>();

    let q = queue.clone();
    let a = allocator.clone();
    let waiting = nodes.clone();
    ctx.informers
        .informer::<Node>()
        .add_handler(move |ev| match ev {
            Event::Added(node) | Event::Updated { new: node, .. } => {
                if node_cidrs(node).is_empty() {
                    q.add(ev.key());
                } else {
                    a.occupy(node);
                }
            }
            Event::Deleted(node) => {
                a.release_node(node);
                // A block may have come free for a node that found the
                // range full: try those now rather than at their retry.
                for n in waiting.list() {
                    if node_cidrs(&n).is_empty() {
                        q.add(n.metadata.name.clone());
                    }
                }
            }
        });

    let controller = Arc::new(IpamController {
        client: ctx.client.clone(),
        nodes,
        allocator,
        recorder: ctx.recorder("cidrAllocator"),
    });
    async move {
        controller.nodes.wait_synced().await;
        // Everything already taken, before the first allocation.
        for node in controller.nodes.list() {
            controller.allocator.occupy(&node);
        }
        tug_client::run_workers("nodeipam", queue, 1, move |name| {
            let c = controller.clone();
            async move { c.sync_node(&name).await }
        })
        .await;
    }
    .boxed()
}

/// The podCIDRs a node has (the list, or the single legacy field).
fn node_cidrs(node: &Node) -> Vec<String> {
    if !node.spec.pod_cidrs.is_empty() {
        node.spec.pod_cidrs.clone()
    } else if !node.spec.pod_cidr.is_empty() {
        vec![node.spec.pod_cidr.clone()]
    } else {
        Vec::new()
    }
}

struct State {
    set: CidrSet,
    /// What each node holds, so that a deleted node frees its block even
    /// if its last known state lacked it.
    by_node: HashMap<String, Vec<String>>,
}

/// The bitmap behind a lock, shared by the event handler and the worker.
struct Allocator {
    state: Mutex<State>,
}

impl Allocator {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mark a node's existing podCIDRs as used.
    fn occupy(&self, node: &Node) {
        let cidrs = node_cidrs(node);
        if cidrs.is_empty() {
            return;
        }
        let mut state = self.lock();
        for cidr in &cidrs {
            if let Err(e) = state.set.occupy(cidr) {
                tracing::warn!(node = %node.metadata.name, cidr, error = %e, "node podCIDR is not ours to track");
            }
        }
        state.by_node.insert(node.metadata.name.clone(), cidrs);
    }

    /// Free what a deleted node held.
    fn release_node(&self, node: &Node) {
        let mut state = self.lock();
        let mut cidrs = state
            .by_node
            .remove(&node.metadata.name)
            .unwrap_or_default();
        cidrs.extend(node_cidrs(node));
        cidrs.sort();
        cidrs.dedup();
        for cidr in cidrs {
            // Out-of-range CIDRs were never marked; nothing to free.
            let _ = state.set.release(&cidr);
        }
    }

    /// The next free block, and how many are now in use.
    fn allocate(&self) -> Result<(String, usize), CidrError> {
        let mut state = self.lock();
        let cidr = state.set.allocate_next()?;
        Ok((cidr.to_string(), state.set.allocated()))
    }

    fn release(&self, cidr: &str) {
        let _ = self.lock().set.release(cidr);
    }
}

struct IpamController {
    client: Client,
    nodes: Store<Node>,
    allocator: Arc<Allocator>,
    recorder: EventRecorder,
}

impl IpamController {
    async fn sync_node(&self, name: &str) -> anyhow::Result<Action> {
        let Some(node) = self.nodes.get(name) else {
            return Ok(Action::Done);
        };
        if !node_cidrs(&node).is_empty() {
            self.allocator.occupy(&node);
            return Ok(Action::Done);
        }
        let (cidr, in_use) = match self.allocator.allocate() {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(node = name, error = %e, "no podCIDR for node");
                self.recorder.warning(
                    &*node,
                    "CIDRNotAvailable",
                    format!("Node {name} status is now: CIDRNotAvailable"),
                );
                return Ok(Action::RequeueAfter(RETRY_WHEN_FULL));
            }
        };
        match self
            .assign(name, &node.metadata.resource_version, &cidr)
            .await
        {
            Ok(true) => {
                tracing::info!(node = name, cidr, in_use, "assigned podCIDR");
                Ok(Action::Done)
            }
            Ok(false) => {
                self.allocator.release(&cidr);
                Ok(Action::Done)
            }
            Err(e) => {
                self.allocator.release(&cidr);
                self.recorder.warning(
                    &*node,
                    "CIDRAssignmentFailed",
                    format!("Node {name} status is now: CIDRAssignmentFailed"),
                );
                Err(e)
            }
        }
    }

    /// Patch `cidr` onto the node, pinned to `resource_version`. `false`
    /// when the node turned out to have a podCIDR already (someone else
    /// assigned one: we adopt theirs) or is gone.
    async fn assign(&self, name: &str, resource_version: &str, cidr: &str) -> anyhow::Result<bool> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut rv = resource_version.to_string();
        for _ in 0..PATCH_ATTEMPTS {
            let patch = Patch::Merge(json!({
                "metadata": {"resourceVersion": rv},
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            }));
            match api.patch(name, &PatchParams::default(), &patch).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) if e.is_conflict() => {
                    // Read the node as it is now, not as the cache has it.
                    let Some(fresh) = api.get_opt(name).await? else {
                        return Ok(false);
                    };
                    let theirs = node_cidrs(&fresh);
                    if !theirs.is_empty() {
                        self.allocator.occupy(&fresh);
                        // Ours, if an earlier attempt's answer was lost.
                        return Ok(theirs.iter().any(|c| c == cidr));
                    }
                    rv = fresh.metadata.resource_version;
                }
                Err(e) => return Err(e).context("patching the node's podCIDR"),
            }
        }
        anyhow::bail!("node {name} kept changing while its podCIDR was being set")
    }
}
