//! `tug-scheduler`: assigns pods to nodes, as kube-scheduler does. Runs
//! only while it holds the `tug-scheduler` Lease (kube-system), so several
//! copies can run and one takes over when the leader dies; the informers
//! run from the start, so a standby's caches are warm when it takes over.

use clap::Parser;
use tug_client::component::{init_logging, run_as_leader, ConnectionFlags, LeaderElectionFlags};
use tug_client::InformerFactory;
use tug_scheduler::{Scheduler, SchedulerConfig};

/// The Lease the scheduler's leader holds.
const LEASE_NAME: &str = "tug-scheduler";

#[derive(Parser, Debug)]
#[command(name = "tug-scheduler", version, about = "Assigns pods to nodes.")]
struct Flags {
    #[command(flatten)]
    connection: ConnectionFlags,
    #[command(flatten)]
    leader_election: LeaderElectionFlags,
    #[command(flatten)]
    scheduler: SchedulerConfig,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    init_logging(&flags.log_format);
    let client = match flags.connection.client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-scheduler: {e}");
            std::process::exit(1);
        }
    };
    let mut factory = InformerFactory::new(client.clone());
    let scheduler = Scheduler::new(client.clone(), &mut factory, flags.scheduler);
    let _informers = factory.start();
    if let Err(e) = run_as_leader(client, &flags.leader_election, LEASE_NAME, scheduler.run()).await
    {
        tracing::error!(error = %e, "stopping");
        std::process::exit(1);
    }
}
