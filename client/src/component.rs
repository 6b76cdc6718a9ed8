//! What every Tugboat component program (scheduler, controller-manager,
//! kubelet, proxy) does the same way: how it finds the API server, how it
//! logs, and how it runs only while it holds its leader-election Lease.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tug_api::duration::parse_duration;

use crate::client::Client;
use crate::config::KubeconfigOptions;
use crate::leader::{LeaderElectionConfig, LeaderElector};

/// How a component reaches the API server.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectionFlags {
    /// The kubeconfig file holding the server and credentials.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The API server URL (overrides the kubeconfig's server).
    #[arg(long)]
    pub master: Option<String>,
}

impl ConnectionFlags {
    /// A client for the selected server; with neither flag set, the local
    /// default (`http://127.0.0.1:8080`).
    pub fn client(&self) -> crate::Result<Client> {
        Client::from_kubeconfig(&KubeconfigOptions {
            kubeconfig: self.kubeconfig.clone(),
            server: self.master.clone(),
            ..Default::default()
        })
    }
}

/// Leader election, as the Kubernetes components spell its flags.
#[derive(clap::Args, Clone, Debug)]
pub struct LeaderElectionFlags {
    /// Run only while holding the component's Lease, so several copies can
    /// run and one takes over when the leader dies.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// How long a leader's Lease lasts without renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader keeps retrying a renewal before giving up.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// Time between renewals and between a candidate's attempts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_elect_retry_period: Duration,
    /// Namespace of the Lease.
    #[arg(long, default_value = "kube-system")]
    pub leader_elect_resource_namespace: String,
}

impl LeaderElectionFlags {
    /// The election config for `lease_name`, with this process's identity
    /// (host name and a random suffix, unique among candidates).
    pub fn config(&self, lease_name: &str) -> LeaderElectionConfig {
        let identity = format!("{}_{}", host_name(), uuid_suffix());
        LeaderElectionConfig::new(&self.leader_elect_resource_namespace, lease_name, &identity)
            .with_timing(
                self.leader_elect_lease_duration,
                self.leader_elect_renew_deadline,
                self.leader_elect_retry_period,
            )
    }
}

/// Run `work` while holding the Lease `lease_name` (or at once, when
/// election is off). Returns when `work` ends, or with an error when
/// leadership is lost: the process must then exit so that it never acts
/// alongside the new leader, as the Kubernetes components do.
pub async fn run_as_leader<F>(
    client: Client,
    flags: &LeaderElectionFlags,
    lease_name: &str,
    work: F,
) -> Result<(), LeadershipLost>
where
    F: Future<Output = ()>,
{
    if !flags.leader_elect {
        work.await;
        return Ok(());
    }
    let elector = LeaderElector::new(client, flags.config(lease_name));
    tracing::info!(lease = lease_name, identity = %elector.config().identity, "waiting for leadership");
    let leadership = elector.acquire().await;
    tokio::select! {
        _ = work => {
            let _ = leadership.release().await;
            Ok(())
        }
        _ = leadership.lost() => Err(LeadershipLost(lease_name.to_string())),
        _ = shutdown_signal() => {
            // Hand over at once instead of making the next leader wait
            // out the lease.
            let _ = leadership.release().await;
            Ok(())
        }
    }
}

/// The Lease was lost: the component must stop acting.
#[derive(Debug, thiserror::Error)]
#[error("lost leadership of lease {0}")]
pub struct LeadershipLost(pub String);

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Log to stderr, `text` or `json`, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// This machine's host name, or `localhost`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

fn uuid_suffix() -> String {
    use rand::Rng;
    let n: u32 = rand::thread_rng().gen();
    format!("{n:08x}")
}
