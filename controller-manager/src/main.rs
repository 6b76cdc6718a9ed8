//! `tug-controller-manager`: the control loops that make the cluster
//! converge, all in one process under one leader election, sharing one
//! informer per kind. Each controller lives in its own module and is
//! level-triggered: informer events enqueue keys, workers reconcile a key
//! from the caches and write the difference through the API.

mod certificates;
mod context;
mod deployment;
mod endpoints;
mod garbagecollector;
mod namespace;
mod nodeipam;
mod nodelifecycle;
mod replicaset;
mod util;

use clap::Parser;
use tug_client::component::{init_logging, run_as_leader, ConnectionFlags, LeaderElectionFlags};
use tug_client::InformerFactory;

use crate::context::{ControllerContext, Options, StartFn};

/// Every controller by the name `--controllers` uses.
const CONTROLLERS: &[(&str, StartFn)] = &[
    ("endpoints", endpoints::start),
    ("nodeipam", nodeipam::start),
    ("nodelifecycle", nodelifecycle::start),
    ("garbagecollector", garbagecollector::start),
    ("namespace", namespace::start),
    ("replicaset", replicaset::start),
    ("deployment", deployment::start),
    ("csrapproving", certificates::approver::start),
    ("tokencleaner", certificates::cleaner::start),
];

/// The CSR signer, started apart because it needs the signing CA
/// (`--cluster-signing-cert-file`).
const CSR_SIGNING: &str = "csrsigning";

#[derive(Parser, Debug)]
#[command(name = "tug-controller-manager", version, about)]
struct Flags {
    #[command(flatten)]
    connection: ConnectionFlags,
    #[command(flatten)]
    leader_election: LeaderElectionFlags,
    #[command(flatten)]
    options: Options,
    #[command(flatten)]
    signing: certificates::signer::SigningFlags,
    /// Controllers to run: `*` for all, `-name` to leave one out
    /// (`*,-garbagecollector`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
}

/// Whether `name` is selected by a `--controllers` list.
fn enabled(list: &[String], name: &str) -> bool {
    if list.iter().any(|c| c == &format!("-{name}")) {
        return false;
    }
    list.iter().any(|c| c == name || c == "*")
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    init_logging(&flags.log_format);
    for name in &flags.controllers {
        let bare = name.trim_start_matches('-');
        if bare != "*" && bare != CSR_SIGNING && !CONTROLLERS.iter().any(|(n, _)| *n == bare) {
            eprintln!("tug-controller-manager: unknown controller {bare:?} in --controllers");
            std::process::exit(2);
        }
    }
    let signing_ca = if enabled(&flags.controllers, CSR_SIGNING) {
        match certificates::signer::SigningCa::from_flags(&flags.signing) {
            Ok(Some(ca)) => Some(ca),
            Ok(None) => {
                tracing::warn!("no --cluster-signing-cert-file/--cluster-signing-key-file: the CSR signer is off, so joining nodes get no certificates");
                None
            }
            Err(e) => {
                eprintln!("tug-controller-manager: {e:#}");
                std::process::exit(1);
            }
        }
    } else {
        None
    };
    let client = match flags.connection.client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-controller-manager: {e}");
            std::process::exit(1);
        }
    };
    let mut ctx = ControllerContext {
        client: client.clone(),
        informers: InformerFactory::new(client.clone()),
        options: std::sync::Arc::new(flags.options.clone()),
    };
    let work = async move {
        let mut loops = Vec::new();
        for (name, start) in CONTROLLERS {
            if enabled(&flags.controllers, name) {
                tracing::info!(controller = name, "starting controller");
                loops.push(start(&mut ctx));
            }
        }
        if let Some(ca) = signing_ca {
            tracing::info!(controller = CSR_SIGNING, "starting controller");
            loops.push(certificates::signer::start(&mut ctx, ca));
        }
        let _informers = ctx.informers.start();
        futures::future::join_all(loops).await;
    };
    if let Err(e) = run_as_leader(
        client,
        &flags.leader_election,
        "tug-controller-manager",
        work,
    )
    .await
    {
        tracing::error!(error = %e, "stopping");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::enabled;

    #[test]
    fn controllers_flag_selects_and_excludes() {
        let list = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(enabled(&list("*"), "replicaset"));
        assert!(!enabled(&list("*,-replicaset"), "replicaset"));
        assert!(enabled(&list("replicaset"), "replicaset"));
        assert!(!enabled(&list("deployment"), "replicaset"));
    }
}
