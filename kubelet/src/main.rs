//! `tug-kubelet`: see the library documentation (`tug_kubelet`).

use std::process::ExitCode;

use clap::Parser;
use tug_client::component::{init_logging, shutdown_signal};
use tug_kubelet::flags::Flags;
use tug_kubelet::runtime::RuntimeKind;

#[tokio::main]
async fn main() -> ExitCode {
    let flags = Flags::parse();
    init_logging(&flags.log_format);
    if flags.runtime == RuntimeKind::Runc {
        eprintln!(
            "tug-kubelet: the runc runtime is not implemented yet (it comes with issue 5); \
             use --runtime fake"
        );
        return ExitCode::from(2);
    }
    let configs = match flags.node_configs() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-kubelet: {e:#}");
            return ExitCode::from(2);
        }
    };
    let client = match flags.connection.client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-kubelet: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        nodes = configs.len(),
        first = %configs[0].name,
        server = %client.base_url(),
        "starting the kubelet with the fake runtime"
    );
    tokio::select! {
        _ = tug_kubelet::run_hollow_nodes(client, configs, flags.fake_config()) => ExitCode::from(1),
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            ExitCode::SUCCESS
        }
    }
}
