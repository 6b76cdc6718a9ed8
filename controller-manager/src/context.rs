//! What every controller is started with: the client, the shared
//! informers, and the controller-manager's options.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ipnet::Ipv4Net;
use tug_api::duration::parse_duration;
use tug_client::{Client, EventRecorder, InformerFactory};

/// The controller-manager's tuning, from its command line.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Workers per ReplicaSet controller.
    #[arg(long, default_value_t = 5)]
    pub concurrent_replicaset_syncs: usize,
    /// Workers of the Deployment controller.
    #[arg(long, default_value_t = 5)]
    pub concurrent_deployment_syncs: usize,
    /// Workers of the Endpoints controller.
    #[arg(long, default_value_t = 5)]
    pub concurrent_endpoint_syncs: usize,
    /// Workers of the garbage collector.
    #[arg(long, default_value_t = 20)]
    pub concurrent_gc_syncs: usize,
    /// Workers of the namespace controller.
    #[arg(long, default_value_t = 5)]
    pub concurrent_namespace_syncs: usize,
    /// A node whose Lease has not been renewed for this long is marked
    /// `Ready=Unknown` and tainted unreachable.
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    pub node_monitor_grace_period: Duration,
    /// How often node health is checked.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub node_monitor_period: Duration,
    /// How long pods without their own toleration stay on a node tainted
    /// `node.kubernetes.io/unreachable` or `not-ready` (NoExecute) before
    /// they are evicted (Kubernetes adds this toleration at admission).
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub default_toleration_seconds: Duration,
    /// Give each node a podCIDR from `--cluster-cidr`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub allocate_node_cidrs: bool,
    /// The range pod IPs come from.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: Ipv4Net,
    /// The prefix length of each node's podCIDR.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How long a node that never reported a Ready condition may stay
    /// silent before it is marked `Ready=Unknown`.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub node_startup_grace_period: Duration,
    /// Nodes per second tainted `NoExecute` (and so evicted) in a healthy zone.
    #[arg(long, default_value_t = 0.1)]
    pub node_eviction_rate: f64,
    /// Nodes per second tainted in a large zone that is partially
    /// disrupted (see `--unhealthy-zone-threshold`).
    #[arg(long, default_value_t = 0.01)]
    pub secondary_node_eviction_rate: f64,
    /// Zones with at most this many nodes stop evictions altogether when
    /// partially disrupted.
    #[arg(long, default_value_t = 50)]
    pub large_cluster_size_threshold: usize,
    /// The share of not-ready nodes (more than two) that makes a zone
    /// partially disrupted.
    #[arg(long, default_value_t = 0.55)]
    pub unhealthy_zone_threshold: f64,
}

/// Handed to each controller's `start`: register informer handlers on
/// `informers` (before they start), keep the stores, and return the
/// controller's run loop.
pub struct ControllerContext {
    /// The API client.
    pub client: Client,
    /// One shared informer per kind for all controllers.
    pub informers: InformerFactory,
    /// The command-line options.
    pub options: Arc<Options>,
}

impl ControllerContext {
    /// An event recorder reporting as `component` (`replicaset-controller`).
    pub fn recorder(&self, component: &str) -> EventRecorder {
        EventRecorder::new(self.client.clone(), component, "")
    }
}

/// A controller's entry point: registers what it watches and returns the
/// future that runs it (waiting for its caches first).
pub type StartFn = fn(&mut ControllerContext) -> BoxFuture<'static, ()>;
