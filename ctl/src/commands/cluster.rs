//! `tugctl cluster up|down|status`: a local cluster as processes on this
//! machine, through the same launcher (`tug-cluster`) the integration
//! tests use.
//!
//! With `--runtime runc` (as root) every node is a network namespace with
//! its own address on a host bridge, its own kubelet and `tug-proxy`;
//! with `--runtime fake` the nodes are hollow kubelets on the host.
//!
//! `up` starts the cluster and leaves it running after tugctl exits (the
//! components run in their own process groups, so Ctrl-C in the shell
//! does not reach them); `down` stops it and removes its state; `status`
//! shows each component's health. The cluster's state lives in
//! `$XDG_STATE_HOME/tugboat/clusters/<name>/` (default
//! `~/.local/state/...`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use tug_cluster::kubeconfig::entry_name;
use tug_cluster::{Cluster, ClusterSpec, ComponentHealth, ExtraArgs, Runtime, Store, DEFAULT_NAME};

use super::emit;
use super::error::{usage, CtlError, Result};
use crate::cli::{parse_duration, GlobalFlags};
use crate::printers::TabWriter;

/// `cluster SUBCOMMAND`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a local cluster (apiserver, scheduler, controller-manager, nodes) and write its kubeconfig.
    Up(Box<UpArgs>),
    /// Stop a local cluster and remove its state.
    Down(NameArgs),
    /// Show the health of each component of a local cluster.
    Status(NameArgs),
}

/// `--name`.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The cluster's name.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
}

/// `cluster up`. With the global `--kubeconfig PATH`, the cluster's
/// context is also merged into that file and made current there.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub name: NameArgs,
    /// How many nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// What runs the pods: fake (hollow nodes, no root needed) or runc.
    #[arg(long, default_value = "fake")]
    pub runtime: Runtime,
    /// Where objects are stored: embedded (SQLite) or etcd (started from PATH).
    #[arg(long, default_value = "embedded")]
    pub store: Store,
    /// The apiserver's port (default: a free one).
    #[arg(long)]
    pub api_port: Option<u16>,
    /// How many schedulers (one leads).
    #[arg(long, default_value_t = 1)]
    pub schedulers: usize,
    /// How many controller-managers (one leads).
    #[arg(long, default_value_t = 1)]
    pub controller_managers: usize,
    /// Nodes per kubelet process (many hollow nodes share one process).
    #[arg(long, default_value_t = 1)]
    pub hollow_nodes_per_process: usize,
    /// Each node's CPU capacity.
    #[arg(long, default_value = "4")]
    pub node_cpu: String,
    /// Each node's memory capacity.
    #[arg(long, default_value = "8Gi")]
    pub node_memory: String,
    /// Each node's pod capacity.
    #[arg(long, default_value_t = 110)]
    pub node_max_pods: u32,
    /// How long to wait for the cluster to be ready.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
    /// An extra tug-apiserver flag (repeatable): `--apiserver-arg=--log-format=json`.
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub apiserver_arg: Vec<String>,
    /// An extra tug-scheduler flag (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub scheduler_arg: Vec<String>,
    /// An extra tug-controller-manager flag (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub controller_manager_arg: Vec<String>,
    /// An extra tug-kubelet flag (repeatable): `--kubelet-arg=--fake-start-latency=2s`.
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub kubelet_arg: Vec<String>,
    /// An extra tug-proxy flag (repeatable, runc nodes): `--proxy-arg=--min-sync-period=0s`.
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub proxy_arg: Vec<String>,
    /// An OCI image archive imported into every runc node before it
    /// starts, so pods run without a registry (repeatable).
    #[arg(long, value_name = "PATH")]
    pub image_archive: Vec<PathBuf>,
    /// The runc nodes' LAN, e.g. 10.250.7.0/24 (default: a free /24 of 10.250.0.0/16).
    #[arg(long, value_name = "CIDR")]
    pub node_subnet: Option<String>,
}

/// Run a `cluster` subcommand.
pub async fn run(global: &GlobalFlags, command: &ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Up(args) => up(global, args).await,
        ClusterCommand::Down(args) => down(&args.name).await,
        ClusterCommand::Status(args) => status(&args.name).await,
    }
}

async fn up(global: &GlobalFlags, args: &UpArgs) -> Result<()> {
    let name = &args.name.name;
    let spec = ClusterSpec {
        nodes: args.nodes,
        runtime: args.runtime,
        store: args.store,
        api_port: args.api_port,
        schedulers: args.schedulers,
        controller_managers: args.controller_managers,
        hollow_nodes_per_process: args.hollow_nodes_per_process,
        node_cpu: args.node_cpu.clone(),
        node_memory: args.node_memory.clone(),
        node_max_pods: args.node_max_pods,
        ready_timeout: args.wait,
        image_archives: args.image_archive.iter().map(|p| absolute(p)).collect(),
        node_subnet: args.node_subnet.clone(),
        extra_kubeconfig: global.kubeconfig.as_deref().map(absolute),
        extra_args: ExtraArgs {
            etcd: Vec::new(),
            apiserver: args.apiserver_arg.clone(),
            scheduler: args.scheduler_arg.clone(),
            controller_manager: args.controller_manager_arg.clone(),
            kubelet: args.kubelet_arg.clone(),
            proxy: args.proxy_arg.clone(),
        },
        ..ClusterSpec::new(name)
    };
    let cluster = tokio::select! {
        started = Cluster::up(spec) => started.map_err(launcher_error)?,
        // Dropping the launch stops whatever it had started.
        _ = tokio::signal::ctrl_c() => {
            return Err(usage(format!("interrupted: stopped what cluster {name:?} had started")));
        }
    };
    let nodes: Vec<(String, Option<Ipv4Addr>)> = cluster
        .node_names()
        .into_iter()
        .map(|n| {
            let ip = cluster.node_ip(&n);
            (n, ip)
        })
        .collect();
    emit(&up_message(
        name,
        &nodes,
        cluster.kubeconfig_path(),
        cluster.state().extra_kubeconfig.as_deref(),
    ));
    cluster.detach();
    Ok(())
}

/// What `up` prints: how to use the cluster (and, for netns nodes, their
/// addresses, where NodePorts answer) and how to stop it.
pub fn up_message(
    name: &str,
    nodes: &[(String, Option<Ipv4Addr>)],
    kubeconfig: &Path,
    also: Option<&Path>,
) -> String {
    let count = nodes.len();
    let plural = if count == 1 { "node" } else { "nodes" };
    let mut text = format!("Cluster {name:?} is up: {count} {plural} Ready.\n");
    for (node, ip) in nodes {
        if let Some(ip) = ip {
            text.push_str(&format!("  node {node}: {ip} (NodePorts answer here)\n"));
        }
    }
    if let Some(also) = also {
        text.push_str(&format!(
            "  (context {:?} is also in {} and is current there)\n",
            entry_name(name),
            also.display()
        ));
    }
    text.push_str(&format!(
        "  export KUBECONFIG={}\n  tugctl get nodes\nStop it with: tugctl cluster down --name {name}\n",
        kubeconfig.display()
    ));
    text
}

async fn down(name: &str) -> Result<()> {
    let cluster = Cluster::load_named(name).map_err(launcher_error)?;
    cluster.down().await.map_err(launcher_error)?;
    emit(&format!(
        "Cluster {name:?} is down; its state is removed.\n"
    ));
    Ok(())
}

async fn status(name: &str) -> Result<()> {
    let cluster = Cluster::load_named(name).map_err(launcher_error)?;
    let health = cluster.status().await;
    emit(&status_table(&health));
    Ok(())
}

/// The `status` table: COMPONENT, PID, STATUS, DETAIL.
pub fn status_table(health: &[ComponentHealth]) -> String {
    let mut lines = vec![vec![
        "COMPONENT".to_string(),
        "PID".into(),
        "STATUS".into(),
        "DETAIL".into(),
    ]];
    lines.extend(health.iter().map(|h| {
        vec![
            h.id.to_string(),
            h.pid.to_string(),
            h.status.to_string(),
            h.detail.clone(),
        ]
    }));
    TabWriter::new().write(&lines)
}

fn launcher_error(e: tug_cluster::Error) -> CtlError {
    usage(e)
}

/// `path` made absolute against the working directory, so the state file
/// names the same file whatever directory `down` runs in.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_cluster::{Role, Status};

    #[test]
    fn up_says_how_to_use_and_stop_the_cluster() {
        let nodes: Vec<(String, Option<Ipv4Addr>)> =
            (0..3).map(|i| (format!("node-{i}"), None)).collect();
        let text = up_message(
            "tugboat",
            &nodes,
            Path::new("/root/.local/state/tugboat/clusters/tugboat/kubeconfig"),
            None,
        );
        assert_eq!(
            text,
            "Cluster \"tugboat\" is up: 3 nodes Ready.\n  \
             export KUBECONFIG=/root/.local/state/tugboat/clusters/tugboat/kubeconfig\n  \
             tugctl get nodes\n\
             Stop it with: tugctl cluster down --name tugboat\n"
        );
        let one = [("node-0".to_string(), Some(Ipv4Addr::new(10, 250, 0, 2)))];
        let text = up_message(
            "dev",
            &one,
            Path::new("/s/kubeconfig"),
            Some(Path::new("/k")),
        );
        assert!(text.starts_with(
            "Cluster \"dev\" is up: 1 node Ready.\n  node node-0: 10.250.0.2 (NodePorts answer here)\n"
        ));
        assert!(text.contains("context \"tugboat-dev\" is also in /k"));
    }

    #[test]
    fn status_is_a_table() {
        let table = status_table(&[
            ComponentHealth {
                id: "apiserver".into(),
                role: Role::ApiServer,
                pid: 10,
                status: Status::Running,
                detail: "healthy".into(),
            },
            ComponentHealth {
                id: "kubelet-node-0".into(),
                role: Role::Kubelet,
                pid: 12345,
                status: Status::Exited,
                detail: "exited".into(),
            },
        ]);
        assert_eq!(
            table,
            "COMPONENT        PID     STATUS    DETAIL\n\
             apiserver        10      Running   healthy\n\
             kubelet-node-0   12345   Exited    exited\n"
        );
    }

    #[test]
    fn flags_parse() {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from([
            "tugctl",
            "--kubeconfig",
            "/k",
            "cluster",
            "up",
            "--nodes",
            "3",
            "--name",
            "t",
            "--store",
            "etcd",
            "--kubelet-arg=--fake-start-latency=2s",
            "--kubelet-arg",
            "--max-pods=3",
            "--runtime",
            "runc",
            "--image-archive",
            "/a.tar",
            "--image-archive=/b.tar",
            "--proxy-arg=--min-sync-period=0s",
        ]);
        assert_eq!(cli.global.kubeconfig.as_deref(), Some(Path::new("/k")));
        match cli.command {
            crate::cli::Command::Cluster(ClusterCommand::Up(up)) => {
                assert_eq!(up.nodes, 3);
                assert_eq!(up.name.name, "t");
                assert_eq!(up.store, Store::Etcd);
                assert_eq!(up.runtime, Runtime::Runc);
                assert_eq!(up.image_archive, [Path::new("/a.tar"), Path::new("/b.tar")]);
                assert_eq!(up.proxy_arg, ["--min-sync-period=0s"]);
                assert_eq!(up.kubelet_arg, ["--fake-start-latency=2s", "--max-pods=3"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
