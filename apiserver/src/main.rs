//! `tug-apiserver`: the Kubernetes-compatible API over etcd or an embedded
//! SQLite store.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tug_api::pki;
use tug_apiserver::flags::Flags;
use tug_apiserver::pki_files;
use tug_apiserver::server::{ApiServer, ServerConfig};
use tug_apiserver::storage::{spawn_compactor, EtcdStorage, SqliteStorage, Storage};
use tug_apiserver::tls::{listen, serve, ServeLimits};

fn init_logging(format: &str) {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    init_logging(&flags.log_format);
    if let Err(e) = flags.tls.validate() {
        anyhow::bail!("{e}");
    }
    let storage: Arc<dyn Storage> = if flags.etcd_servers.is_empty() {
        std::fs::create_dir_all(&flags.data_dir)
            .with_context(|| format!("creating --data-dir {}", flags.data_dir.display()))?;
        let path = flags.data_dir.join("state.db");
        tracing::info!(path = %path.display(), "using the embedded SQLite store");
        Arc::new(SqliteStorage::open(&path).with_context(|| format!("opening {}", path.display()))?)
    } else {
        tracing::info!(servers = ?flags.etcd_servers, "using etcd");
        Arc::new(
            EtcdStorage::connect(&flags.etcd_servers)
                .await
                .with_context(|| {
                    format!("connecting to etcd at {}", flags.etcd_servers.join(","))
                })?,
        )
    };
    spawn_compactor(
        storage.clone(),
        flags.compaction_interval,
        flags.compaction_retain,
    );
    let mut config = ServerConfig {
        service_cluster_ip_range: flags.service_cluster_ip_range,
        service_node_port_range: flags.service_node_port_range.0..=flags.service_node_port_range.1,
        bookmark_interval: flags.watch_bookmark_interval,
        watch_cache_size: flags.watch_cache_size,
        auth: flags.auth.config(),
        ..ServerConfig::default()
    };
    let tls = &flags.tls;
    let pki = if tls.secure_port != 0 {
        let pki = pki_files::ensure(&pki_settings(&flags))?;
        config.kubelet_client.identity_pem = Some(pki.kubelet_client_identity_pem.clone());
        Some(pki)
    } else {
        None
    };
    let server = ApiServer::start(storage, config).await?;
    tug_apiserver::auth::start(&server)
        .await
        .context("setting up the default RBAC policy")?;
    if let Some(pki) = &pki {
        let kubeconfig = pki_files::cluster_info_kubeconfig(&pki.server_url, &pki.ca_pem);
        pki_files::publish_cluster_info(&server, &kubeconfig)
            .await
            .context("publishing kube-public/cluster-info")?;
    }
    let app = tug_apiserver::http::router(server);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut servers = tokio::task::JoinSet::new();
    if let Some(pki) = &pki {
        let tls_config = pki::server_tls_config(
            &pki.serving.cert_pem,
            &pki.serving.key_pem,
            Some(&pki.client_ca_pem),
            pki::ClientAuth::Optional,
        )
        .context("the serving certificate")?;
        let addr = SocketAddr::new(tls.bind_address, tls.secure_port);
        let listener = listen(addr).with_context(|| format!("listening on {addr}"))?;
        tracing::info!(%addr, advertised = %pki.server_url, "serving the API over HTTPS");
        servers.spawn(serve(
            listener,
            Some(Arc::new(tls_config)),
            app.clone(),
            ServeLimits::default(),
            shutdown(),
        ));
    }
    if tls.insecure_port != 0 {
        let addr = SocketAddr::new(tls.insecure_bind_address, tls.insecure_port);
        let listener = listen(addr).with_context(|| format!("listening on {addr}"))?;
        tracing::warn!(%addr, "serving the API over plain HTTP on loopback: every request there is trusted as system:masters");
        servers.spawn(serve(
            listener,
            None,
            app,
            ServeLimits::default(),
            shutdown(),
        ));
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    while let Some(done) = servers.join_next().await {
        done.context("a serve loop panicked")??;
    }
    Ok(())
}

/// The PKI settings the flags make.
fn pki_settings(flags: &Flags) -> pki_files::PkiSettings {
    let tls = &flags.tls;
    pki_files::PkiSettings {
        data_dir: flags.data_dir.clone(),
        advertise_address: tls
            .advertise_address
            .unwrap_or_else(|| pki_files::default_advertise_address(tls.bind_address)),
        secure_port: tls.secure_port,
        bind_address: tls.bind_address,
        service_cluster_ip_range: flags.service_cluster_ip_range,
        extra_sans: tls.tls_sans.clone(),
        serving_files: tls
            .tls_cert_file
            .clone()
            .zip(tls.tls_private_key_file.clone()),
        client_ca_file: tls.client_ca_file.clone(),
        kubelet_client_files: tls
            .kubelet_client_certificate
            .clone()
            .zip(tls.kubelet_client_key.clone()),
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
