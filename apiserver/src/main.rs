//! `tug-apiserver`: the Kubernetes-compatible API over etcd or an embedded
//! SQLite store.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tug_apiserver::flags::Flags;
use tug_apiserver::server::{ApiServer, ServerConfig};
use tug_apiserver::storage::{spawn_compactor, EtcdStorage, SqliteStorage, Storage};

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
    let config = ServerConfig {
        service_cluster_ip_range: flags.service_cluster_ip_range,
        service_node_port_range: flags.service_node_port_range.0..=flags.service_node_port_range.1,
        bookmark_interval: flags.watch_bookmark_interval,
        watch_cache_size: flags.watch_cache_size,
        ..ServerConfig::default()
    };
    let server = ApiServer::start(storage, config).await?;
    // Interim (until the TLS serve loop lands in this branch): only the
    // loopback insecure port is served.
    let addr = SocketAddr::new(flags.tls.insecure_bind_address, flags.tls.insecure_port);
    let listener = listen(addr).with_context(|| format!("listening on {addr}"))?;
    tracing::info!(%addr, "serving the API over plain HTTP");
    // SKELETON (issue 8): the TLS engineer replaces this plain serve loop
    // with `tls::serve`, which inserts a `conn::ConnectionInfo` into every
    // request.
    let app = tug_apiserver::http::router(server).layer(axum::Extension(
        tug_apiserver::conn::ConnectionInfo {
            remote: addr,
            secure: false,
            client_certificates: Default::default(),
        },
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Listen backlog asked of the kernel, which caps it at
/// `net.core.somaxconn` (as Go's listeners do for upstream's apiserver).
const LISTEN_BACKLOG: u32 = 65535;

/// Listen on `addr` with a deep accept queue. The default of tokio (mio,
/// like std) is 128: when hundreds of clients connect at once (a kubelet
/// process hosting 100 hollow nodes, a scheduler opening its binding
/// connections) the queue overflows, the kernel drops their SYNs, and each
/// of those clients waits for a retransmit (1 s, then 3 s, ...).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
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
