//! `tug-proxy`'s command line, as fixed between the components: the
//! cluster launcher, the systemd units and the tests pass these flags.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ipnet::Ipv4Net;
use tug_api::duration::parse_duration;
use tug_client::component::ConnectionFlags;

/// tug-proxy: programs this node so Services' ClusterIPs and NodePorts
/// reach their ready endpoints.
#[derive(Parser, Clone, Debug)]
#[command(name = "tug-proxy", version)]
pub struct Flags {
    /// `cleanup`: remove what a proxy programmed, then exit.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How to reach the API server.
    #[command(flatten)]
    pub connection: ConnectionFlags,
    /// This node's name (default: the host name).
    #[arg(long)]
    pub hostname_override: Option<String>,
    /// How services are implemented on the node.
    #[arg(long, value_enum, default_value_t = ProxyMode::Nftables)]
    pub mode: ProxyMode,
    /// The pod range: ClusterIP traffic from outside it is masqueraded
    /// (empty: none is).
    #[arg(long, default_value = "10.244.0.0/16", value_parser = parse_cidr)]
    pub cluster_cidr: PodRange,
    /// This node's IP, as the launcher and the systemd unit pass it; only
    /// logged (NodePorts answer on every local address, `fib daddr type
    /// local`).
    #[arg(long)]
    pub node_ip: Option<Ipv4Addr>,
    /// At most one sync per this period; changes in between are coalesced.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub min_sync_period: Duration,
    /// A full sync (rewriting the whole table) at least this often.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub sync_period: Duration,
    /// The nftables table, `ip <name>`.
    #[arg(long, default_value = "tugboat", global = true, value_parser = parse_table_name)]
    pub table_name: String,
    /// Where `/healthz` is served.
    #[arg(long, default_value = "0.0.0.0:10256")]
    pub healthz_bind_address: SocketAddr,
    /// Where `/metrics` is served.
    #[arg(long, default_value = "127.0.0.1:10249")]
    pub metrics_bind_address: SocketAddr,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    pub log_format: String,
}

/// The `--cluster-cidr` value: a range, or none when given empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodRange(pub Option<Ipv4Net>);

/// Subcommands.
#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Delete the nftables table (and userspace ClusterIPs on lo); exit 0
    /// if there was nothing to delete.
    Cleanup,
}

/// How services are implemented.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// nftables rules in the kernel.
    Nftables,
    /// Listeners in this process (machines without nftables).
    Userspace,
}

impl Flags {
    /// The node name.
    pub fn node_name(&self) -> String {
        self.hostname_override
            .clone()
            .unwrap_or_else(tug_client::component::host_name)
    }
}

fn parse_cidr(text: &str) -> Result<PodRange, String> {
    if text.is_empty() {
        return Ok(PodRange(None));
    }
    text.parse::<Ipv4Net>()
        .map(|n| PodRange(Some(n.trunc())))
        .map_err(|e| format!("not an IPv4 CIDR: {e}"))
}

/// An nft identifier: a letter, then letters, digits, `_`, `-`, `.`.
fn parse_table_name(text: &str) -> Result<String, String> {
    let mut chars = text.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && text.len() <= 64;
    if ok {
        Ok(text.to_string())
    } else {
        Err("a table name is a letter then letters, digits, '_', '-' or '.'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_flags_parse_with_their_defaults() {
        let f = Flags::try_parse_from(["tug-proxy", "--master", "http://10.0.0.1:8080"]).unwrap();
        assert_eq!(f.mode, ProxyMode::Nftables);
        assert_eq!(f.cluster_cidr.0, Some("10.244.0.0/16".parse().unwrap()));
        assert_eq!(f.min_sync_period, Duration::from_secs(1));
        assert_eq!(f.sync_period, Duration::from_secs(30));
        assert_eq!(f.table_name, "tugboat");
        assert_eq!(f.healthz_bind_address.to_string(), "0.0.0.0:10256");
        assert_eq!(f.metrics_bind_address.to_string(), "127.0.0.1:10249");

        let f = Flags::try_parse_from([
            "tug-proxy",
            "--hostname-override",
            "node-1",
            "--mode",
            "userspace",
            "--cluster-cidr",
            "",
            "--node-ip",
            "10.250.0.2",
            "--min-sync-period",
            "200ms",
        ])
        .unwrap();
        assert_eq!(f.node_name(), "node-1");
        assert_eq!(f.mode, ProxyMode::Userspace);
        assert_eq!(f.cluster_cidr.0, None);
        assert_eq!(f.node_ip, Some(Ipv4Addr::new(10, 250, 0, 2)));
        assert_eq!(f.min_sync_period, Duration::from_millis(200));
    }

    #[test]
    fn cleanup_takes_the_table_name() {
        let f = Flags::try_parse_from(["tug-proxy", "cleanup", "--table-name", "t1"]).unwrap();
        assert!(matches!(f.command, Some(Command::Cleanup)));
        assert_eq!(f.table_name, "t1");
        assert!(Flags::try_parse_from(["tug-proxy", "--table-name", "bad name"]).is_err());
    }
}
