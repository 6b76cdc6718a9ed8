//! `tug-proxy`: see the library documentation (`tug_proxy`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tug_client::component::{init_logging, shutdown_signal};
use tug_proxy::flags::{Command, Flags, ProxyMode};
use tug_proxy::metrics::Metrics;
use tug_proxy::nft::render::RenderConfig;
use tug_proxy::nft::NftProxier;
use tug_proxy::sync::{self, Proxier, SyncPeriods, Watch};
use tug_proxy::userspace::UserspaceProxier;

fn main() -> ExitCode {
    let flags = Flags::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    init_logging(&flags.log_format);
    runtime.block_on(async {
        match flags.command {
            Some(Command::Cleanup) => match tug_proxy::cleanup(&flags.table_name).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tug-proxy cleanup: {e:#}");
                    ExitCode::FAILURE
                }
            },
            None => run(flags).await,
        }
    })
}

async fn run(flags: Flags) -> ExitCode {
    let client = match flags.connection.client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-proxy: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        node = %flags.node_name(),
        node_ip = ?flags.node_ip,
        mode = ?flags.mode,
        table = %flags.table_name,
        server = %client.base_url(),
        "starting the proxy"
    );
    tug_proxy::sysctl::apply_node_sysctls();
    // As kube-proxy: unhealthy when no sync succeeded for two full periods.
    let metrics = Arc::new(Metrics::new(2 * flags.sync_period));
    let server = match tug_proxy::server::serve(
        flags.healthz_bind_address,
        flags.metrics_bind_address,
        metrics.clone(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tug-proxy: {e:#}");
            return ExitCode::from(1);
        }
    };
    let mut proxier = match flags.mode {
        ProxyMode::Nftables => Proxier::Nftables(NftProxier::new(RenderConfig {
            table: flags.table_name.clone(),
            cluster_cidr: flags.cluster_cidr.0,
        })),
        ProxyMode::Userspace => Proxier::Userspace(UserspaceProxier::new()),
    };
    let periods = SyncPeriods {
        min: flags.min_sync_period,
        full: flags.sync_period,
    };
    let watch = Watch::start(client);
    tokio::select! {
        _ = sync::run(watch, &mut proxier, periods, metrics) => {}
        _ = shutdown_signal() => tracing::info!("shutting down; the rules stay until `tug-proxy cleanup`"),
    }
    if let Proxier::Userspace(p) = &mut proxier {
        p.shutdown().await;
    }
    server.abort();
    ExitCode::SUCCESS
}
