//! `tug-apiserver`: the Kubernetes-compatible API over etcd or an embedded
//! SQLite store.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ipnet::Ipv4Net;
use tug_api::duration::parse_duration;
use tug_apiserver::server::{ApiServer, ServerConfig};
use tug_apiserver::storage::{spawn_compactor, EtcdStorage, SqliteStorage, Storage};

/// Tugboat's API server.
#[derive(Parser, Debug)]
#[command(name = "tug-apiserver", version, about)]
struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Plain-HTTP port. (HTTPS on --secure-port arrives with the Security issue.)
    #[arg(long, default_value_t = 8080)]
    insecure_port: u16,
    /// Directory for the embedded store (and, later, certificates).
    #[arg(long, default_value = "/var/lib/tugboat/apiserver")]
    data_dir: PathBuf,
    /// Comma-separated etcd client URLs; unset = embedded SQLite in --data-dir.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// CIDR ClusterIPs are allocated from.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: Ipv4Net,
    /// NodePort range, `FIRST-LAST`.
    #[arg(long, default_value = "30000-32767", value_parser = parse_port_range)]
    service_node_port_range: (u16, u16),
    /// How often to compact storage history.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    compaction_interval: Duration,
    /// Revisions of history compaction keeps (watches may resume this far back).
    #[arg(long, default_value_t = 10_000)]
    compaction_retain: i64,
    /// How often watches that asked for bookmarks receive one.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    watch_bookmark_interval: Duration,
    /// Events each resource's watch cache keeps in memory; older resumes
    /// are served from storage (or get 410 Gone once compacted).
    #[arg(long, default_value_t = tug_apiserver::watch_cache::DEFAULT_CACHE_CAPACITY)]
    watch_cache_size: usize,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
}

fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not a range like 30000-32767"))?;
    let a: u16 = a.trim().parse().map_err(|_| format!("bad port {a:?}"))?;
    let b: u16 = b.trim().parse().map_err(|_| format!("bad port {b:?}"))?;
    if a == 0 || a > b {
        return Err(format!("{s:?} is not a valid port range"));
    }
    Ok((a, b))
}

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
    };
    let server = ApiServer::start(storage, config).await?;
    let addr = SocketAddr::new(flags.bind_address, flags.insecure_port);
    let listener = listen(addr).with_context(|| format!("listening on {addr}"))?;
    tracing::info!(%addr, "serving the API over plain HTTP");
    axum::serve(listener, tug_apiserver::http::router(server))
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
