//! The scheduler's settings, as command-line flags (named after
//! kube-scheduler's configuration fields).

use std::time::Duration;

use tug_api::core::DEFAULT_SCHEDULER_NAME;
use tug_api::duration::parse_duration;

use crate::queue::QueueConfig;

/// How the scheduler behaves.
#[derive(clap::Args, Clone, Debug)]
pub struct SchedulerConfig {
    /// Schedule the pods whose `spec.schedulerName` is this name; it is
    /// also the source of the Events the scheduler records.
    #[arg(long, default_value = DEFAULT_SCHEDULER_NAME)]
    pub scheduler_name: String,
    /// Stop filtering once this percentage of the nodes is found feasible
    /// (0: adaptive, 50 % down to 5 % as the cluster grows; never fewer
    /// than 100 nodes).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub percentage_of_nodes_to_score: u32,
    /// How many bindings may be in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub bind_concurrency: u32,
    /// Backoff after a pod's first failed attempt; it doubles with each
    /// further attempt.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub pod_initial_backoff: Duration,
    /// The longest backoff.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub pod_max_backoff: Duration,
    /// Retry an unschedulable pod after this long even if nothing in the
    /// cluster changed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub pod_max_in_unschedulable_pods_duration: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            bind_concurrency: 64,
            pod_initial_backoff: Duration::from_secs(1),
            pod_max_backoff: Duration::from_secs(10),
            pod_max_in_unschedulable_pods_duration: Duration::from_secs(60),
        }
    }
}

impl SchedulerConfig {
    /// The queue's timing.
    pub fn queue(&self) -> QueueConfig {
        QueueConfig {
            initial_backoff: self.pod_initial_backoff,
            max_backoff: self.pod_max_backoff.max(self.pod_initial_backoff),
            max_in_unschedulable: self.pod_max_in_unschedulable_pods_duration,
        }
    }
}
