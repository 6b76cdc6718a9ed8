//! One node's agent: register the Node, then run its three loops side by
//! side — the Lease heartbeat ([`lease`]), the node status ([`status`])
//! and the pod workers ([`crate::pods`]). None of this depends on the
//! runtime; a `--hollow-nodes N` process runs N agents over N fake
//! runtimes, a real node one agent over runc.

pub mod eviction;
pub mod lease;
pub mod machine;
pub mod registration;
pub mod status;

use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tokio::sync::{watch, Notify};
use tug_api::core::Node;
use tug_client::{Client, EventRecorder};

use crate::clock::Clock;
use crate::config::NodeConfig;
use crate::runtime::Runtime;

/// What the node's loops learn from the Node object and share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFacts {
    /// The Node's uid (the Lease's owner).
    pub uid: String,
    /// Its `spec.podCIDR`, once assigned.
    pub pod_cidr: Option<IpNet>,
}

/// Everything one node's loops share.
pub struct NodeCtx {
    /// This node's settings.
    pub config: NodeConfig,
    /// The API server.
    pub client: Client,
    /// The node's container runtime.
    pub runtime: Arc<dyn Runtime>,
    /// Events about pods, from `kubelet` on this node.
    pub events: EventRecorder,
    /// The time.
    pub clock: Clock,
    /// The latest facts about the Node object.
    facts: watch::Sender<NodeFacts>,
    /// Pod workers waiting for a podCIDR ask the status loop to look.
    pub(crate) cidr_wanted: Notify,
    /// Warned once about a podCIDR that does not parse.
    bad_cidr: Mutex<String>,
}

impl NodeCtx {
    /// The context of a node that has not been registered yet.
    pub fn new(
        config: NodeConfig,
        client: Client,
        runtime: Arc<dyn Runtime>,
        clock: Clock,
    ) -> NodeCtx {
        let events = EventRecorder::new(client.clone(), "kubelet", &config.name);
        NodeCtx {
            config,
            client,
            runtime,
            events,
            clock,
            facts: watch::channel(NodeFacts::default()).0,
            cidr_wanted: Notify::new(),
            bad_cidr: Mutex::new(String::new()),
        }
    }

    /// The Node's uid, once known.
    pub fn node_uid(&self) -> String {
        self.facts.borrow().uid.clone()
    }

    /// The node's podCIDR, once assigned.
    pub fn pod_cidr(&self) -> Option<IpNet> {
        self.facts.borrow().pod_cidr
    }

    /// Be told when the facts change.
    pub fn subscribe(&self) -> watch::Receiver<NodeFacts> {
        self.facts.subscribe()
    }

    /// Ask the status loop to look for a podCIDR now.
    pub fn want_pod_cidr(&self) {
        self.cidr_wanted.notify_one();
    }

    /// Take in what a freshly read or written Node says.
    pub fn learn(&self, node: &Node) {
        let cidr = node
            .spec
            .pod_cidrs
            .first()
            .unwrap_or(&node.spec.pod_cidr)
            .as_str();
        let pod_cidr = if cidr.is_empty() {
            None
        } else {
            match cidr.parse::<IpNet>() {
                Ok(net) => Some(net.trunc()),
                Err(e) => {
                    let mut warned = self.bad_cidr.lock().unwrap_or_else(|p| p.into_inner());
                    if *warned != cidr {
                        tracing::warn!(node = %self.config.name, pod_cidr = cidr, error = %e, "ignoring an invalid podCIDR");
                        *warned = cidr.to_string();
                    }
                    None
                }
            }
        };
        let facts = NodeFacts {
            uid: node.metadata.uid.clone(),
            pod_cidr,
        };
        self.facts.send_if_modified(|cur| {
            if *cur == facts {
                false
            } else {
                if cur.pod_cidr != facts.pod_cidr {
                    if let Some(c) = facts.pod_cidr {
                        tracing::info!(node = %self.config.name, pod_cidr = %c, "the node has a pod CIDR");
                    }
                }
                *cur = facts;
                true
            }
        });
    }
}

/// Run node `ctx` for ever: register, then heartbeat, report status and
/// run its pods.
pub async fn run(ctx: Arc<NodeCtx>) {
    let node = registration::register_until_done(&ctx).await;
    ctx.learn(&node);
    let registered_at = tokio::time::Instant::now();
    let lease = tokio::spawn(lease::run_lease_loop(ctx.clone()));
    let status = tokio::spawn(status::run_status_loop(ctx.clone(), registered_at));
    crate::pods::PodWorkers::run(ctx).await;
    lease.abort();
    status.abort();
}
