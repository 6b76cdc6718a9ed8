//! `tug-kubelet`: the node agent of Tugboat.
//!
//! A kubelet registers its Node, keeps the node's Lease and status
//! current, and runs the pods bound to it through a container
//! [runtime](runtime). The parts:
//!
//! - [`flags`] and [`config`]: the command line, one [`config::NodeConfig`]
//!   per node (`--hollow-nodes N` hosts N nodes in one process);
//! - [`node`]: registration, the Lease heartbeat, the node status loop;
//! - [`pods`]: the per-node pod workers and the pure decisions behind
//!   them (what to start, restart back-off, readiness, admission, the
//!   status to report);
//! - [`runtime`]: the [`runtime::Runtime`] trait, the fake runtime of
//!   hollow nodes and the runc runtime of real ones;
//! - [`image`]: the node's OCI image store; [`network`]: pinned network
//!   namespaces, CNI, host-gw routes;
//! - [`server`]: the kubelet's HTTP API (health, pods, container logs).

pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod flags;
pub mod image;
pub mod network;
pub mod node;
pub mod pods;
pub mod probe;
pub mod runc_node;
pub mod runtime;
pub mod server;

use std::sync::Arc;

use anyhow::Context;
use tug_client::Client;

use crate::clock::system_clock;
use crate::config::NodeConfig;
use crate::flags::{ImageCommand, RuncFlags};
use crate::image::ImageStore;
use crate::node::NodeCtx;
use crate::runc_node::{image_store_config, NodeSettings};
use crate::runtime::fake::{FakeConfig, FakeRuntime};

/// Run every node of `configs`, each over its own fake runtime, until the
/// returned future is dropped.
pub async fn run_hollow_nodes(client: Client, configs: Vec<NodeConfig>, fake: FakeConfig) {
    let tasks: Vec<_> = configs
        .into_iter()
        .map(|config| {
            let runtime = Arc::new(FakeRuntime::new(fake));
            let ctx = Arc::new(NodeCtx::new(
                config,
                client.clone(),
                runtime,
                system_clock(),
            ));
            tokio::spawn(node::run(ctx))
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!(error = %e, "a node agent stopped");
        }
    }
}

/// Run one real node over the runc runtime until the returned future is
/// dropped (or something it cannot do without fails). Its API is served
/// over HTTPS to clients with a certificate of `client_ca_pem`.
pub async fn run_runc_node(
    client: Client,
    configs: Vec<NodeConfig>,
    flags: &RuncFlags,
    client_ca_pem: Option<&str>,
) -> anyhow::Result<()> {
    let [config] = <[NodeConfig; 1]>::try_from(configs)
        .map_err(|_| anyhow::anyhow!("--hollow-nodes is for --runtime fake only"))?;
    let settings = NodeSettings::from_flags(flags, &config.name);
    settings.save()?;
    let images = Arc::new(ImageStore::open(settings.image_store())?);
    let runtime = Arc::new(settings.runtime(Some(client.clone()), config.ip, images.clone())?);
    let client_ca = client_ca_pem.context(
        "the kubelet API admits only clients of the cluster CA: pass --client-ca-file, \
         or a kubeconfig (or bootstrap token) that names the cluster's certificate authority",
    )?;
    let identity = server::tls::serving_identity(
        &flags.root_dir.join("pki"),
        &tug_client::component::host_name(),
        &[config.ip],
    )?;
    let tls = server::tls::server_config(&identity, client_ca)?;
    let listener = server::bind(std::net::SocketAddr::new(flags.address, flags.port)).await?;
    let routes = tokio::spawn(network::routes::run_route_sync(
        client.clone(),
        config.name.clone(),
    ));
    let image_gc = tokio::spawn(runc_node::run_image_gc(
        client.clone(),
        config.name.clone(),
        images,
        flags.image_gc_high_threshold,
        flags.image_gc_low_threshold,
    ));
    let ctx = Arc::new(NodeCtx::new(config, client, runtime, system_clock()));
    let mut http = tokio::spawn(server::serve(listener, ctx.clone(), tls));
    let result = tokio::select! {
        _ = node::run(ctx) => Ok(()),
        served = &mut http => match served {
            Ok(Ok(())) => Err(anyhow::anyhow!("the kubelet server stopped")),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("the kubelet server failed")),
            Err(e) => Err(anyhow::Error::new(e).context("the kubelet server failed")),
        },
    };
    http.abort();
    routes.abort();
    image_gc.abort();
    result
}

/// `tug-kubelet image ...`.
pub async fn image_command(cmd: ImageCommand) -> std::process::ExitCode {
    let result = match cmd {
        ImageCommand::Import { root_dir, files } => {
            async {
                let store = ImageStore::open(image_store_config(&root_dir, &[]))?;
                for f in files {
                    for reference in store.import_archive(&f).await? {
                        println!("imported {reference}");
                    }
                }
                anyhow::Ok(())
            }
            .await
        }
        ImageCommand::List { root_dir } => (|| {
            let store = ImageStore::open(image_store_config(&root_dir, &[]))?;
            for image in store.list() {
                println!("{}\t{}", image.names.join(","), image.size_bytes);
            }
            anyhow::Ok(())
        })(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tug-kubelet image: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
