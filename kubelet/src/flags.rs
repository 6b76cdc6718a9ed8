//! The command line of `tug-kubelet`, spelled as the Kubernetes kubelet
//! spells its flags where it has them, and how it becomes one
//! [`NodeConfig`] per node.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use tug_api::core::Taint;
use tug_api::duration::parse_duration;
use tug_api::{validation, Quantity};
use tug_client::component::{host_name, ConnectionFlags};

use crate::config::{
    default_labels, hollow_node_names, node_ips, random_id, Capacity, MachineConfig, NodeConfig,
};
use crate::node::machine::{machine_capacity, primary_ipv4, MachineIds};
use crate::runtime::fake::FakeConfig;
use crate::runtime::RuntimeKind;

/// `tug-kubelet`: the node agent.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "tug-kubelet",
    version,
    about = "The Tugboat node agent: registers a Node, heartbeats its Lease and status, and runs the pods bound to it."
)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Flags {
    /// A tool instead of the node agent (`shim`, `image import`).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The container runtime: `fake` (hollow nodes, nothing runs) or `runc`.
    #[arg(long, value_enum, required = true)]
    pub runtime: Option<RuntimeKind>,

    #[command(flatten)]
    pub runc: RuncFlags,

    #[command(flatten)]
    pub connection: ConnectionFlags,

    #[command(flatten)]
    pub join: JoinFlags,

    /// The Node's name (with --hollow-nodes N > 1, the prefix of NAME-0 ..
    /// NAME-(N-1)). Default: this machine's host name.
    #[arg(long)]
    pub node_name: Option<String>,

    /// How many nodes this process hosts, each with its own pod watch,
    /// Lease and status loop.
    #[arg(long, default_value_t = 1)]
    pub hollow_nodes: usize,

    /// CPU capacity (= allocatable). Default: the machine's online CPUs
    /// with `--runtime runc`, 4 with `fake`.
    #[arg(long)]
    pub cpu: Option<String>,

    /// Memory capacity (= allocatable). Default: the machine's `MemTotal`
    /// with `--runtime runc`, 8Gi with `fake`.
    #[arg(long)]
    pub memory: Option<String>,

    /// The most pods the node runs.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,

    /// The node's InternalIP (with several hollow nodes, the first one's;
    /// the others count up). Default for the runc runtime: the host's
    /// primary IPv4 address (the default route's source), else 127.0.0.1;
    /// for the fake one: an address in 10.200.0.0/16 derived from the
    /// node's name.
    #[arg(long)]
    pub node_ip: Option<IpAddr>,

    /// Labels to register the node with: `k=v,k2=v2`.
    #[arg(long, default_value = "")]
    pub node_labels: String,

    /// Taints to register the node with: `key=value:Effect,key:Effect`.
    #[arg(long, default_value = "")]
    pub register_with_taints: String,

    /// How often the node's Lease is renewed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub node_lease_renew_interval: Duration,

    /// `leaseDurationSeconds` of the node's Lease.
    #[arg(long, default_value_t = 40)]
    pub node_lease_duration_seconds: i32,

    /// How often the node status is computed; it is written when it
    /// changed (conditions, addresses, capacity) or when
    /// --node-status-report-frequency has passed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub node_status_update_frequency: Duration,

    /// How often the node status is written even when nothing changed
    /// (the Lease is the heartbeat).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub node_status_report_frequency: Duration,

    /// Workers syncing each node's pods concurrently.
    #[arg(long, default_value_t = 4)]
    pub pod_workers: usize,

    /// Fake runtime: how long a pod spends ContainerCreating.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub fake_start_latency: Duration,

    /// Fake runtime: how long a container takes to exit after SIGTERM
    /// (the grace period caps it).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub fake_stop_latency: Duration,

    /// The first CrashLoopBackOff delay (doubling up to 300 s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub fake_crash_backoff: Duration,

    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// The tools `tug-kubelet` also is.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// The per-container monitor the runc runtime starts (internal).
    #[command(hide = true)]
    Shim(crate::runtime::runc::shim::ShimArgs),
    /// Work on the node's image store.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Take a stopped runc node apart: stop and remove its pods (their
    /// containers, IPs, mounts, cgroups), delete its bridge and remove
    /// its state directory.
    Reset {
        /// The kubelet's state directory.
        #[arg(long, default_value = DEFAULT_ROOT_DIR)]
        root_dir: std::path::PathBuf,
    },
}

/// `tug-kubelet image ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ImageCommand {
    /// Import the images of OCI archives (tar of an OCI image layout)
    /// into the store, for nodes without a registry (air-gapped).
    Import {
        /// The kubelet's state directory.
        #[arg(long, default_value = DEFAULT_ROOT_DIR)]
        root_dir: std::path::PathBuf,
        /// The archives.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List the images the store holds.
    List {
        /// The kubelet's state directory.
        #[arg(long, default_value = DEFAULT_ROOT_DIR)]
        root_dir: std::path::PathBuf,
    },
}

/// Joining a cluster with a bootstrap credential, and who may use the
/// kubelet's API (upstream's flags).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct JoinFlags {
    /// A bootstrap token (`<id>.<secret>`, from `tugctl token create`) to
    /// get this node's client certificate with, when --kubeconfig holds
    /// no valid one.
    #[arg(long)]
    pub token: Option<String>,
    /// The pinned hash of the cluster CA (`sha256:<hex>` of its public
    /// key); repeatable.
    #[arg(long)]
    pub discovery_token_ca_cert_hash: Vec<String>,
    /// Join without pinning the CA (trust whatever the server presents).
    #[arg(long)]
    pub discovery_token_unsafe_skip_ca_verification: bool,
    /// A kubeconfig with a bootstrap credential (and the CA), instead of
    /// --token.
    #[arg(long)]
    pub bootstrap_kubeconfig: Option<std::path::PathBuf>,
    /// The CA client certificates of the kubelet's API must be signed by
    /// (default: the CA of the kubeconfig).
    #[arg(long)]
    pub client_ca_file: Option<std::path::PathBuf>,
}

/// Where a real kubelet keeps its state unless told otherwise.
pub const DEFAULT_ROOT_DIR: &str = "/var/lib/tug-kubelet";

/// The flags of the runc runtime (ignored by the fake one).
#[derive(clap::Args, Debug, Clone)]
pub struct RuncFlags {
    /// The kubelet's state directory: its credentials (`pki/`,
    /// `kubeconfig`), and with runc images, pod bundles and state,
    /// container logs, the CNI config and IP allocations, the runc root.
    #[arg(long, default_value = DEFAULT_ROOT_DIR)]
    pub root_dir: std::path::PathBuf,

    /// The runc binary.
    #[arg(long, default_value = "runc")]
    pub runc: std::path::PathBuf,

    /// Directories holding the CNI plugin binaries, searched in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "/usr/lib/cni,/opt/cni/bin"
    )]
    pub cni_bin_dir: Vec<std::path::PathBuf>,

    /// The bridge pods attach to.
    #[arg(long, default_value = "tug0")]
    pub cni_bridge: String,

    /// The cgroup (under every hierarchy) pod cgroups are made in; the
    /// node's name is appended.
    #[arg(long, default_value = "/tugboat")]
    pub cgroup_root: String,

    /// A registry (`host:port`) to reach over plain HTTP; repeatable.
    #[arg(long)]
    pub insecure_registry: Vec<String>,

    /// Image garbage collection starts when the image filesystem is
    /// fuller than this (percent) ...
    #[arg(long, default_value_t = 85)]
    pub image_gc_high_threshold: u8,

    /// ... and removes unused images until it is below this.
    #[arg(long, default_value_t = 80)]
    pub image_gc_low_threshold: u8,

    /// Hard eviction thresholds, `signal<value` joined by commas: below
    /// `memory.available` / `nodefs.available` (a quantity or a percentage)
    /// the node reports MemoryPressure / DiskPressure.
    #[arg(long, default_value = crate::node::eviction::DEFAULT_EVICTION_HARD)]
    pub eviction_hard: String,

    /// The kubelet's HTTPS port (`/healthz`, `/pods`, `/containerLogs`).
    #[arg(long, default_value_t = 10250)]
    pub port: u16,

    /// The address the HTTP server listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub address: IpAddr,
}

impl Flags {
    /// The settings of every node this process hosts.
    pub fn node_configs(&self) -> anyhow::Result<Vec<NodeConfig>> {
        if self.hollow_nodes == 0 {
            bail!("--hollow-nodes must be at least 1");
        }
        if self.node_lease_duration_seconds <= 0 {
            bail!("--node-lease-duration-seconds must be positive");
        }
        for (flag, d) in [
            (
                "--node-lease-renew-interval",
                self.node_lease_renew_interval,
            ),
            (
                "--node-status-update-frequency",
                self.node_status_update_frequency,
            ),
        ] {
            if d.is_zero() {
                bail!("{flag} must be positive");
            }
        }
        let real = self.runtime == Some(RuntimeKind::Runc);
        let (machine_cpu, machine_memory) = if real {
            machine_capacity().context("reading the machine's capacity")?
        } else {
            (Quantity("4".into()), Quantity("8Gi".into()))
        };
        let capacity = Capacity {
            cpu: match &self.cpu {
                Some(v) => quantity("--cpu", v)?,
                None => machine_cpu,
            },
            memory: match &self.memory {
                Some(v) => quantity("--memory", v)?,
                None => machine_memory,
            },
            pods: self.max_pods,
        };
        let user_labels = parse_labels(&self.node_labels)?;
        let taints = parse_taints(&self.register_with_taints)?;
        let base = self
            .node_name
            .clone()
            .unwrap_or_else(host_name)
            .to_lowercase();
        let names = hollow_node_names(&base, self.hollow_nodes);
        for name in &names {
            let errs = validation::dns1123_subdomain("--node-name", name);
            if let Some(e) = errs.first() {
                bail!("invalid node name {name:?}: {e}");
            }
        }
        let eviction = crate::node::eviction::parse(&self.runc.eviction_hard)?;
        let machine = real.then(|| MachineConfig {
            root_dir: self.runc.root_dir.clone(),
            ids: MachineIds::read(),
            eviction,
        });
        let node_ip = match self.node_ip {
            Some(ip) => Some(ip),
            None if real => Some(primary_ipv4()),
            None => None,
        };
        let ips = node_ips(&names, node_ip);
        let boot_id = match &machine {
            Some(m) if !m.ids.boot_id.is_empty() => m.ids.boot_id.clone(),
            _ => random_id(),
        };
        let kubelet_port = if real { self.runc.port } else { 0 };
        Ok(names
            .into_iter()
            .zip(ips)
            .map(|(name, ip)| {
                let mut labels = user_labels.clone();
                labels.extend(default_labels(&name));
                NodeConfig {
                    name,
                    ip,
                    labels,
                    taints: taints.clone(),
                    capacity: capacity.clone(),
                    lease_renew_interval: self.node_lease_renew_interval,
                    lease_duration_seconds: self.node_lease_duration_seconds,
                    status_update_frequency: self.node_status_update_frequency,
                    status_report_frequency: self.node_status_report_frequency,
                    crash_backoff: self.fake_crash_backoff,
                    pod_workers: self.pod_workers.max(1),
                    boot_id: boot_id.clone(),
                    kubelet_port,
                    machine: machine.clone(),
                }
            })
            .collect())
    }

    /// The fake runtime's timings.
    pub fn fake_config(&self) -> FakeConfig {
        FakeConfig {
            start_latency: self.fake_start_latency,
            stop_latency: self.fake_stop_latency,
        }
    }
}

fn quantity(flag: &str, value: &str) -> anyhow::Result<Quantity> {
    let q = Quantity(value.trim().to_string());
    let parsed = q
        .parsed()
        .map_err(|e| anyhow::anyhow!("{flag} {value:?}: {e}"))?;
    if parsed.nanos() < 0 {
        bail!("{flag} must not be negative");
    }
    Ok(q)
}

/// `k=v,k2=v2` into a map, each key and value valid as a label.
pub fn parse_labels(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("--node-labels: {pair:?} is not key=value"))?;
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(e) = validation::labels("--node-labels", &labels).first() {
        bail!("{e}");
    }
    Ok(labels)
}

/// `key=value:Effect,key:Effect` into taints.
pub fn parse_taints(text: &str) -> anyhow::Result<Vec<Taint>> {
    let mut taints = Vec::new();
    for spec in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kv, effect) = spec
            .rsplit_once(':')
            .with_context(|| format!("--register-with-taints: {spec:?} is not key=value:Effect"))?;
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        let taint = Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
            time_added: None,
        };
        let mut errs = validation::qualified_name("key", &taint.key);
        errs.extend(validation::label_value("value", &taint.value));
        errs.extend(validation::taint_effect("effect", &taint.effect, false));
        if let Some(e) = errs.first() {
            bail!("--register-with-taints: {spec:?}: {e}");
        }
        taints.push(taint);
    }
    Ok(taints)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        let mut all = vec!["tug-kubelet", "--runtime", "fake"];
        all.extend_from_slice(args);
        Flags::try_parse_from(all).unwrap()
    }

    #[test]
    fn hollow_nodes_get_their_own_names_ips_and_default_labels() {
        let f = flags(&[
            "--node-name",
            "hollow",
            "--hollow-nodes",
            "3",
            "--node-labels",
            "zone=a,tier=web",
            "--cpu",
            "2",
            "--memory",
            "4Gi",
            "--max-pods",
            "30",
        ]);
        let nodes = f.node_configs().unwrap();
        assert_eq!(
            nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            vec!["hollow-0", "hollow-1", "hollow-2"]
        );
        assert_ne!(nodes[0].ip, nodes[1].ip);
        assert_eq!(nodes[1].labels["zone"], "a");
        assert_eq!(nodes[1].labels["kubernetes.io/hostname"], "hollow-1");
        assert_eq!(nodes[0].capacity.memory, Quantity("4Gi".into()));
        assert_eq!(nodes[0].capacity.pods, 30);
        assert_eq!(nodes[0].lease_renew_interval, Duration::from_secs(10));
        assert_eq!(nodes[0].lease_duration_seconds, 40);
    }

    #[test]
    fn fake_nodes_get_fixed_capacity_and_no_server() {
        let n = &flags(&[]).node_configs().unwrap()[0];
        assert_eq!(n.capacity.cpu, Quantity("4".into()));
        assert_eq!(n.capacity.memory, Quantity("8Gi".into()));
        assert_eq!(n.kubelet_port, 0);
        assert!(n.machine.is_none());
    }

    #[test]
    fn runc_nodes_measure_the_machine_unless_overridden() {
        let parse = |args: &[&str]| {
            let mut all = vec!["tug-kubelet", "--runtime", "runc", "--node-name", "real"];
            all.extend_from_slice(args);
            Flags::try_parse_from(all).unwrap().node_configs().unwrap()
        };
        let n = &parse(&["--port", "10355"])[0];
        assert!(n.capacity.cpu.parsed().unwrap().nanos() > 0);
        assert!(n.capacity.memory.0.ends_with("Ki"), "MemTotal in Ki");
        assert_eq!(n.kubelet_port, 10355);
        assert!(n.ip.is_ipv4(), "the host's primary IPv4");
        let m = n.machine.as_ref().unwrap();
        assert_eq!(n.boot_id, m.ids.boot_id, "the machine's boot id");
        let n = &parse(&["--cpu", "2", "--memory", "1Gi", "--node-ip", "10.1.2.3"])[0];
        assert_eq!(n.capacity.cpu, Quantity("2".into()));
        assert_eq!(n.capacity.memory, Quantity("1Gi".into()));
        assert_eq!(n.ip.to_string(), "10.1.2.3");
    }

    #[test]
    fn taints_parse_with_and_without_value() {
        let t = parse_taints("dedicated=gpu:NoSchedule, spot:PreferNoSchedule").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].key.as_str(), t[0].value.as_str(), t[0].effect.as_str()),
            ("dedicated", "gpu", "NoSchedule")
        );
        assert_eq!((t[1].key.as_str(), t[1].value.as_str()), ("spot", ""));
        assert!(parse_taints("a=b:Sometimes").is_err());
        assert!(parse_taints("a=b").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels("bad key=1").is_err());
        assert!(flags(&["--cpu", "lots"]).node_configs().is_err());
        assert!(flags(&["--hollow-nodes", "0"]).node_configs().is_err());
        assert!(flags(&["--node-name", "Not_A_Name!"])
            .node_configs()
            .is_err());
        assert!(Flags::try_parse_from(["tug-kubelet", "--runtime", "docker"]).is_err());
        assert!(
            Flags::try_parse_from(["tug-kubelet"]).is_err(),
            "--runtime is required"
        );
    }

    #[test]
    fn durations_take_go_syntax() {
        let f = flags(&[
            "--fake-start-latency",
            "250ms",
            "--fake-crash-backoff",
            "1s",
            "--node-lease-renew-interval",
            "2s",
        ]);
        assert_eq!(f.fake_config().start_latency, Duration::from_millis(250));
        let n = &f.node_configs().unwrap()[0];
        assert_eq!(n.crash_backoff, Duration::from_secs(1));
        assert_eq!(n.lease_renew_interval, Duration::from_secs(2));
    }
}
