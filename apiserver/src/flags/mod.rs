//! The command line of `tug-apiserver`. Each concern's flags live in
//! their own module and are flattened in: `tls` (ports, certificates),
//! `auth` (authentication, authorization), `limits` (request limits).

pub mod auth;
pub mod limits;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ipnet::Ipv4Net;
use tug_api::duration::parse_duration;

/// Tugboat's API server.
#[derive(Parser, Debug)]
// A flag given twice keeps its last value (as upstream's pflag does), so
// a launcher's defaults can be overridden by arguments appended later.
#[command(name = "tug-apiserver", version, about, args_override_self = true)]
pub struct Flags {
    #[command(flatten)]
    pub tls: tls::TlsFlags,
    #[command(flatten)]
    pub auth: auth::AuthFlags,
    #[command(flatten)]
    pub limits: limits::LimitFlags,
    /// Directory for the embedded store, the generated PKI (`pki/`) and
    /// kubeconfigs.
    #[arg(long, default_value = "/var/lib/tugboat/apiserver")]
    pub data_dir: PathBuf,
    /// Comma-separated etcd client URLs; unset = embedded SQLite in --data-dir.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// CIDR ClusterIPs are allocated from.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: Ipv4Net,
    /// NodePort range, `FIRST-LAST`.
    #[arg(long, default_value = "30000-32767", value_parser = parse_port_range)]
    pub service_node_port_range: (u16, u16),
    /// How often to compact storage history.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub compaction_interval: Duration,
    /// Revisions of history compaction keeps (watches may resume this far back).
    #[arg(long, default_value_t = 10_000)]
    pub compaction_retain: i64,
    /// How often watches that asked for bookmarks receive one.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub watch_bookmark_interval: Duration,
    /// Events each resource's watch cache keeps in memory; older resumes
    /// are served from storage (or get 410 Gone once compacted).
    #[arg(long, default_value_t = crate::watch_cache::DEFAULT_CACHE_CAPACITY)]
    pub watch_cache_size: usize,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    pub log_format: String,
}

/// Parse `FIRST-LAST` (`--service-node-port-range`).
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
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
