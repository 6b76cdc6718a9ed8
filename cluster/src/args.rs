//! The command line of each component. Pure functions: what runs is
//! decided here and recorded in `cluster.json`, so a restart runs exactly
//! the same command.
//!
//! The spec's extra arguments come last, after the launcher's own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use crate::component::NodeGroup;
use crate::spec::{ClusterSpec, Runtime};

/// The kubelet API port of a netns node (on the node's own address).
pub const KUBELET_PORT: u16 = 10250;
/// The `tug-proxy` `/healthz` port of a netns node.
pub const PROXY_HEALTHZ_PORT: u16 = 10256;
/// The controller-manager's `--cluster-cidr` unless told otherwise.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";

/// `tug-apiserver` serving HTTPS on `bind:port` (loopback, or the netns
/// nodes' LAN address) and advertising that address in the kubeconfigs it
/// generates, its store in `data_dir` or, when given, on etcd at
/// `etcd_url`. It creates the cluster's CA and credentials in `data_dir`
/// on first start.
pub fn apiserver(
    bind: IpAddr,
    port: u16,
    data_dir: &Path,
    etcd_url: Option<&str>,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![
        "--bind-address".to_string(),
        bind.to_string(),
        "--advertise-address".into(),
        bind.to_string(),
        "--secure-port".into(),
        port.to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ];
    if let Some(url) = etcd_url {
        args.extend(["--etcd-servers".into(), url.to_string()]);
    }
    args.extend_from_slice(extra);
    args
}

/// A scheduler or controller-manager with its own credential.
pub fn control_plane(kubeconfig: &Path, extra: &[String]) -> Vec<String> {
    let mut args = vec!["--kubeconfig".to_string(), kubeconfig.display().to_string()];
    args.extend_from_slice(extra);
    args
}

/// The default `--cluster-cidr` (10.244.0.0/16) holds 256 nodes' /24s.
const DEFAULT_CIDR_NODES: usize = 256;
/// A range for bigger clusters: 16,384 /24s, clear of the hollow nodes'
/// synthesised 10.200.x.y addresses and the service range.
const LARGE_CLUSTER_CIDR: &str = "10.64.0.0/10";

/// A controller-manager for a cluster of `nodes`, signing nodes' client
/// certificates with the cluster CA `pki` holds: past what the default pod
/// range holds it gets a wider `--cluster-cidr`, unless `extra` chooses one.
pub fn controller_manager(
    kubeconfig: &Path,
    pki: &Path,
    nodes: usize,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![
        "--kubeconfig".to_string(),
        kubeconfig.display().to_string(),
        "--cluster-signing-cert-file".into(),
        pki.join("ca.crt").display().to_string(),
        "--cluster-signing-key-file".into(),
        pki.join("ca.key").display().to_string(),
    ];
    let chosen = extra.iter().any(|a| a.starts_with("--cluster-cidr"));
    if nodes > DEFAULT_CIDR_NODES && !chosen {
        args.push(format!("--cluster-cidr={LARGE_CLUSTER_CIDR}"));
    }
    args.extend_from_slice(extra);
    args
}

/// How a kubelet authenticates to the apiserver.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// A kubeconfig used as it is. Hollow nodes (several Nodes in one
    /// process, a scale-test fake) share the cluster admin's, since no one
    /// node identity covers them all.
    Kubeconfig(&'a Path),
    /// Join as a real node does: the bootstrap token authenticates a
    /// certificate signing request for `system:node:<name>`, and the
    /// cluster CA is trusted only if its hash matches. The kubelet keeps
    /// the certificate it gets and writes `<root-dir>/kubeconfig`.
    Join {
        /// `https://host:port` of the apiserver.
        master: &'a str,
        /// `<id>.<secret>`.
        token: &'a str,
        /// `sha256:<hex>` of the CA's public key.
        ca_cert_hash: &'a str,
    },
}

impl Credential<'_> {
    fn args(&self) -> Vec<String> {
        match self {
            Credential::Kubeconfig(path) => {
                vec!["--kubeconfig".into(), path.display().to_string()]
            }
            Credential::Join {
                master,
                token,
                ca_cert_hash,
            } => vec![
                "--master".into(),
                master.to_string(),
                "--token".into(),
                token.to_string(),
                "--discovery-token-ca-cert-hash".into(),
                ca_cert_hash.to_string(),
            ],
        }
    }
}

/// The kubeconfig a joined kubelet with state in `root_dir` writes (its
/// node's proxy uses it too).
pub fn joined_kubeconfig(root_dir: &Path) -> std::path::PathBuf {
    root_dir.join("kubeconfig")
}

/// A kubelet hosting `group`, with the spec's runtime and node sizes.
pub fn kubelet(credential: Credential, group: &NodeGroup, spec: &ClusterSpec) -> Vec<String> {
    kubelet_with(
        credential,
        group,
        spec.runtime,
        &spec.node_cpu,
        &spec.node_memory,
        spec.node_max_pods,
        &spec.extra_args.kubelet,
    )
}

/// [`kubelet`] with each setting spelled out.
pub fn kubelet_with(
    credential: Credential,
    group: &NodeGroup,
    runtime: Runtime,
    cpu: &str,
    memory: &str,
    max_pods: u32,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec!["--runtime".to_string(), runtime.as_str().into()];
    args.extend(credential.args());
    args.extend([
        "--node-name".into(),
        group.name.clone(),
        "--hollow-nodes".into(),
        group.count.to_string(),
        "--cpu".into(),
        cpu.to_string(),
        "--memory".into(),
        memory.to_string(),
        "--max-pods".into(),
        max_pods.to_string(),
    ]);
    args.extend_from_slice(extra);
    args
}

/// A kubelet running real containers (runc) as node `name`: its state
/// in `root_dir`, its HTTP API on loopback `port`, and the node's address
/// the loopback one (the cluster is this one machine). Capacity comes
/// from the machine.
pub fn runc_kubelet(
    credential: Credential,
    name: &str,
    root_dir: &Path,
    port: u16,
    max_pods: u32,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec!["--runtime".to_string(), "runc".into()];
    args.extend(credential.args());
    args.extend([
        "--node-name".into(),
        name.to_string(),
        "--root-dir".into(),
        root_dir.display().to_string(),
        "--node-ip".into(),
        "127.0.0.1".into(),
        "--address".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--max-pods".into(),
        max_pods.to_string(),
    ]);
    args.extend_from_slice(extra);
    args
}

/// A runc node in its own network namespace, reached at `node_ip`: the
/// kubelet API on `node_ip`:[`KUBELET_PORT`], its state in `root_dir`,
/// its pods' cgroups under `cgroup_root` (the kubelet appends the node's
/// name).
pub fn netns_kubelet(
    credential: Credential,
    name: &str,
    node_ip: Ipv4Addr,
    root_dir: &Path,
    cgroup_root: &str,
    max_pods: u32,
    extra: &[String],
) -> Vec<String> {
    let ip = node_ip.to_string();
    let mut args = vec!["--runtime".to_string(), "runc".into()];
    args.extend(credential.args());
    args.extend([
        "--node-name".into(),
        name.to_string(),
        "--node-ip".into(),
        ip.clone(),
        "--address".into(),
        ip,
        "--port".into(),
        KUBELET_PORT.to_string(),
        "--root-dir".into(),
        root_dir.display().to_string(),
        "--cgroup-root".into(),
        cgroup_root.to_string(),
        "--max-pods".into(),
        max_pods.to_string(),
    ]);
    args.extend_from_slice(extra);
    args
}

/// `tug-proxy` of node `name` at `node_ip`: ClusterIP traffic from outside
/// `cluster_cidr` is masqueraded; `/healthz` on
/// `node_ip`:[`PROXY_HEALTHZ_PORT`].
pub fn proxy(
    kubeconfig: &Path,
    name: &str,
    node_ip: Ipv4Addr,
    cluster_cidr: &str,
    extra: &[String],
) -> Vec<String> {
    let mut args = vec![
        "--kubeconfig".to_string(),
        kubeconfig.display().to_string(),
        "--hostname-override".into(),
        name.to_string(),
        "--node-ip".into(),
        node_ip.to_string(),
        "--cluster-cidr".into(),
        cluster_cidr.to_string(),
        "--healthz-bind-address".into(),
        SocketAddr::from((node_ip, PROXY_HEALTHZ_PORT)).to_string(),
    ];
    args.extend_from_slice(extra);
    args
}

/// The pod range a controller-manager run with `args` allocates from.
pub fn cluster_cidr(args: &[String]) -> String {
    flag_value(args, "--cluster-cidr")
        .unwrap_or(DEFAULT_CLUSTER_CIDR)
        .to_string()
}

/// Where a `tug-proxy` run with `args` answers `/healthz`.
pub fn healthz_address(args: &[String]) -> Option<SocketAddr> {
    flag_value(args, "--healthz-bind-address")?.parse().ok()
}

/// The value of the last `flag` in `args` (`--flag=value` or `--flag value`).
pub fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut found = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == flag {
            found = iter.next().map(String::as_str).or(found);
        } else if let Some(value) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            found = Some(value);
        }
    }
    found
}

/// A single-member etcd with its data in `data_dir`, serving clients on
/// `client_port` and peers on `peer_port` (loopback only).
pub fn etcd(data_dir: &Path, client_port: u16, peer_port: u16, extra: &[String]) -> Vec<String> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let mut args = vec![
        "--name=default".to_string(),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=default={peer}"),
        // A lone member elects itself; short timers make that quick.
        "--heartbeat-interval=10".into(),
        "--election-timeout=100".into(),
    ];
    args.extend_from_slice(extra);
    args
}

/// Whether a scheduler or controller-manager run with `args` elects a
/// leader: `--leader-elect` is on unless the last occurrence says false
/// (`--leader-elect=false` or `--leader-elect false`).
pub fn leader_elect(args: &[String]) -> bool {
    flag_value(args, "--leader-elect").is_none_or(|v| v != "false")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn big_clusters_get_a_pod_range_that_fits_them() {
        let (k, pki) = (Path::new("/d/cm.kubeconfig"), Path::new("/d/pki"));
        assert_eq!(
            controller_manager(k, pki, 256, &[]),
            strings(&[
                "--kubeconfig",
                "/d/cm.kubeconfig",
                "--cluster-signing-cert-file",
                "/d/pki/ca.crt",
                "--cluster-signing-key-file",
                "/d/pki/ca.key"
            ])
        );
        assert!(controller_manager(k, pki, 500, &[])
            .contains(&format!("--cluster-cidr={LARGE_CLUSTER_CIDR}")));
        let own = strings(&["--cluster-cidr=10.0.0.0/8"]);
        let args = controller_manager(k, pki, 500, &own);
        assert_eq!(
            args.iter()
                .filter(|a| a.starts_with("--cluster-cidr"))
                .count(),
            1
        );
    }

    #[test]
    fn apiserver_on_loopback_with_its_store() {
        let loopback = IpAddr::from(Ipv4Addr::LOCALHOST);
        let args = apiserver(
            loopback,
            6443,
            Path::new("/s/apiserver"),
            None,
            &strings(&["--v=1"]),
        );
        assert_eq!(
            args,
            strings(&[
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--secure-port",
                "6443",
                "--data-dir",
                "/s/apiserver",
                "--v=1"
            ])
        );
        let args = apiserver(
            loopback,
            1,
            Path::new("/d"),
            Some("http://127.0.0.1:2379"),
            &[],
        );
        assert_eq!(
            args[8..],
            strings(&["--etcd-servers", "http://127.0.0.1:2379"])
        );
    }

    #[test]
    fn kubelet_gets_its_nodes_sizes_and_extras_last() {
        let spec = ClusterSpec {
            node_cpu: "2".into(),
            node_memory: "4Gi".into(),
            node_max_pods: 30,
            ..ClusterSpec::new("x")
        };
        let mut spec = spec;
        spec.extra_args.kubelet = strings(&["--fake-start-latency=50ms"]);
        let group = NodeGroup {
            name: "node-1".into(),
            count: 100,
        };
        assert_eq!(
            kubelet(
                Credential::Kubeconfig(Path::new("/a.kubeconfig")),
                &group,
                &spec
            ),
            strings(&[
                "--runtime",
                "fake",
                "--kubeconfig",
                "/a.kubeconfig",
                "--node-name",
                "node-1",
                "--hollow-nodes",
                "100",
                "--cpu",
                "2",
                "--memory",
                "4Gi",
                "--max-pods",
                "30",
                "--fake-start-latency=50ms"
            ])
        );
    }

    #[test]
    fn control_plane_components_use_their_own_credentials() {
        assert_eq!(
            control_plane(
                Path::new("/d/scheduler.kubeconfig"),
                &strings(&["--leader-elect-lease-duration=2s"])
            ),
            strings(&[
                "--kubeconfig",
                "/d/scheduler.kubeconfig",
                "--leader-elect-lease-duration=2s"
            ])
        );
    }

    #[test]
    fn netns_nodes_serve_on_their_own_address() {
        let ip = Ipv4Addr::new(10, 250, 3, 2);
        let m = "https://10.250.3.1:6443";
        let join = Credential::Join {
            master: m,
            token: "abcdef.0123456789abcdef",
            ca_cert_hash: "sha256:00",
        };
        let args = netns_kubelet(
            join,
            "node-0",
            ip,
            Path::new("/s/nodes/node-0"),
            "/tugboat-t-abc123",
            110,
            &strings(&["--eviction-hard=nodefs.available<1Gi"]),
        );
        assert_eq!(flag_value(&args, "--node-ip"), Some("10.250.3.2"));
        assert_eq!(flag_value(&args, "--address"), Some("10.250.3.2"));
        assert_eq!(flag_value(&args, "--port"), Some("10250"));
        assert_eq!(flag_value(&args, "--root-dir"), Some("/s/nodes/node-0"));
        assert_eq!(
            flag_value(&args, "--cgroup-root"),
            Some("/tugboat-t-abc123")
        );
        assert_eq!(flag_value(&args, "--master"), Some(m));
        assert_eq!(
            flag_value(&args, "--token"),
            Some("abcdef.0123456789abcdef")
        );
        assert_eq!(
            flag_value(&args, "--discovery-token-ca-cert-hash"),
            Some("sha256:00")
        );
        assert_eq!(args.last().unwrap(), "--eviction-hard=nodefs.available<1Gi");

        let kubeconfig = joined_kubeconfig(Path::new("/s/nodes/node-0"));
        let args = proxy(
            &kubeconfig,
            "node-0",
            ip,
            "10.244.0.0/16",
            &strings(&["--min-sync-period=0s"]),
        );
        assert_eq!(
            flag_value(&args, "--kubeconfig"),
            Some("/s/nodes/node-0/kubeconfig")
        );
        assert_eq!(flag_value(&args, "--hostname-override"), Some("node-0"));
        assert_eq!(flag_value(&args, "--cluster-cidr"), Some("10.244.0.0/16"));
        assert_eq!(
            healthz_address(&args),
            Some(SocketAddr::from((ip, PROXY_HEALTHZ_PORT)))
        );
        assert_eq!(args.last().unwrap(), "--min-sync-period=0s");
    }

    #[test]
    fn the_proxy_gets_the_controller_managers_pod_range() {
        let (k, pki) = (Path::new("/k"), Path::new("/pki"));
        assert_eq!(
            cluster_cidr(&controller_manager(k, pki, 3, &[])),
            DEFAULT_CLUSTER_CIDR
        );
        let own = strings(&["--cluster-cidr=10.0.0.0/8"]);
        assert_eq!(
            cluster_cidr(&controller_manager(k, pki, 3, &own)),
            "10.0.0.0/8"
        );
        assert_eq!(
            cluster_cidr(&controller_manager(k, pki, 500, &[])),
            LARGE_CLUSTER_CIDR
        );
        let spaced = strings(&["--cluster-cidr", "10.1.0.0/16"]);
        assert_eq!(cluster_cidr(&spaced), "10.1.0.0/16");
    }

    #[test]
    fn etcd_is_a_lone_loopback_member() {
        let args = etcd(Path::new("/s/etcd"), 2379, 2380, &[]);
        assert!(args.contains(&"--data-dir=/s/etcd".to_string()));
        assert!(args.contains(&"--listen-client-urls=http://127.0.0.1:2379".to_string()));
        assert!(args.contains(&"--initial-cluster=default=http://127.0.0.1:2380".to_string()));
    }

    #[test]
    fn leader_election_is_on_unless_switched_off_last() {
        assert!(leader_elect(&[]));
        assert!(!leader_elect(&strings(&["--leader-elect=false"])));
        assert!(!leader_elect(&strings(&[
            "--master",
            "u",
            "--leader-elect",
            "false"
        ])));
        assert!(leader_elect(&strings(&[
            "--leader-elect=false",
            "--leader-elect=true"
        ])));
        assert!(leader_elect(&strings(&[
            "--leader-elect-lease-duration=2s"
        ])));
    }
}
