//! `tug-kubelet`: see the library documentation (`tug_kubelet`).

use std::process::ExitCode;

use clap::Parser;
use tug_client::component::{init_logging, shutdown_signal};
use tug_kubelet::flags::{Command, Flags};
use tug_kubelet::runtime::RuntimeKind;

fn main() -> ExitCode {
    let flags = Flags::parse();
    match flags.command.clone() {
        // The shim is a small synchronous program: no async runtime.
        Some(Command::Shim(args)) => tug_kubelet::runtime::runc::shim::main(args),
        Some(Command::Image(cmd)) => runtime().block_on(tug_kubelet::image_command(cmd)),
        Some(Command::Reset { root_dir }) => {
            match runtime().block_on(tug_kubelet::runc_node::reset(&root_dir)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tug-kubelet reset: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        None => runtime().block_on(run(flags)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
}

async fn run(flags: Flags) -> ExitCode {
    init_logging(&flags.log_format);
    let configs = match flags.node_configs() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tug-kubelet: {e:#}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<String> = configs.iter().map(|c| c.name.clone()).collect();
    let credentials = tokio::select! {
        c = tug_kubelet::bootstrap::credentials(&flags, &names) => match c {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tug-kubelet: {e:#}");
                return ExitCode::from(1);
            }
        },
        _ = shutdown_signal() => return ExitCode::SUCCESS,
    };
    let client = credentials.client;
    let runtime = flags.runtime.unwrap_or(RuntimeKind::Fake);
    tracing::info!(
        nodes = configs.len(),
        first = %configs[0].name,
        server = %client.base_url(),
        runtime = ?runtime,
        "starting the kubelet"
    );
    let agent = async {
        match runtime {
            RuntimeKind::Fake => {
                tug_kubelet::run_hollow_nodes(client, configs, flags.fake_config()).await;
                Ok(())
            }
            RuntimeKind::Runc => {
                tug_kubelet::run_runc_node(
                    client,
                    configs,
                    &flags.runc,
                    credentials.client_ca_pem.as_deref(),
                )
                .await
            }
        }
    };
    tokio::select! {
        r = agent => {
            if let Err(e) = r {
                eprintln!("tug-kubelet: {e:#}");
            }
            ExitCode::from(1)
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            ExitCode::SUCCESS
        }
    }
}
