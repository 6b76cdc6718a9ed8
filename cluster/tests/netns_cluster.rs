//! A two-node runc cluster whose nodes are network namespaces (root
//! only; skipped loudly otherwise): each node gets its own address on the
//! cluster's bridge, its own kubelet serving there and its own healthy
//! `tug-proxy`; a node cut off loses its kubelet, proxy and link; `down`
//! leaves no namespace, link, mount, cgroup or process behind.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tug_api::core::Node;
use tug_client::Api;
use tug_cluster::bins::{BinaryLocator, KUBELET, PROXY};
use tug_cluster::{Cluster, ClusterSpec, NodeNetwork, Role, Runtime, Status};

/// Where the programs are: `$TUG_BIN_DIR` when set, else next to this
/// test and on `PATH`.
fn bin_dir() -> Option<PathBuf> {
    std::env::var_os("TUG_BIN_DIR").map(PathBuf::from)
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !tug_cluster::process::is_root() {
        return Some("not root".into());
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    for tool in ["runc", "ip", "nft"] {
        if !on_path(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !Path::new("/usr/lib/cni/bridge").is_file() {
        return Some("containernetworking-plugins are not installed".into());
    }
    let locator = BinaryLocator::new(bin_dir().as_deref());
    for bin in [KUBELET, PROXY] {
        if let Err(e) = locator.find(bin) {
            return Some(e.to_string());
        }
    }
    None
}

/// Poll `cond` until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ip_lines(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every pid whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Every cgroup directory named `root` (an absolute cgroup path), in
/// every hierarchy.
fn cgroup_dirs(root: &str) -> Vec<PathBuf> {
    let mut hierarchies = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        hierarchies.extend(entries.flatten().map(|e| e.path()));
    }
    hierarchies
        .into_iter()
        .map(|h| h.join(root.trim_start_matches('/')))
        .filter(|d| d.is_dir())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_nodes_come_up_get_cut_off_and_leave_nothing() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("SKIP netns_nodes_come_up_get_cut_off_and_leave_nothing: {why}");
        return;
    }
    let mut spec = ClusterSpec::temporary("netns");
    spec.runtime = Runtime::Runc;
    spec.nodes = 2;
    spec.bin_dir = bin_dir();
    spec.ready_timeout = Duration::from_secs(120);
    // Test machines share big, fairly full disks.
    spec.extra_args
        .kubelet
        .push("--eviction-hard=nodefs.available<1Gi".into());
    assert_eq!(spec.network(), NodeNetwork::Netns);
    let state_dir = spec.state_dir.clone();
    let mut cluster = Cluster::up(spec).await.expect("the netns cluster comes up");

    // Each node: its own address on the LAN, the Node says so, and its
    // kubelet answers there.
    let lan = cluster.lan().expect("a LAN").clone();
    assert!(
        cluster.url().contains(&lan.host_ip().to_string()),
        "{}",
        cluster.url()
    );
    let nodes: Api<Node> = Api::all(cluster.client());
    let mut ips = Vec::new();
    for name in ["node-0", "node-1"] {
        let ip = cluster.node_ip(name).expect("a node address");
        assert!(lan.subnet().contains(&ip) && ip != lan.host_ip(), "{ip}");
        let node = nodes.get(name).await.unwrap();
        assert!(node.is_ready(), "{name} is Ready");
        let addresses = serde_json::to_string(&node.status.addresses).unwrap();
        assert!(addresses.contains(&ip.to_string()), "{addresses}");
        let kubelet_api = SocketAddr::from((ip, 10250));
        TcpStream::connect_timeout(&kubelet_api, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{name}'s kubelet at {kubelet_api}: {e}"));
        assert!(cluster.node_netns(name).unwrap().exists());
        ips.push(ip);
    }
    assert_ne!(ips[0], ips[1]);
    let health = cluster.status().await;
    let proxies: Vec<_> = health.iter().filter(|h| h.role == Role::Proxy).collect();
    assert_eq!(proxies.len(), 2, "{health:?}");
    assert!(
        proxies.iter().all(|h| h.status == Status::Running),
        "{proxies:?}"
    );

    // Recorded so that a later `down` (another process) finds it all.
    let recorded = tug_cluster::ClusterState::read(&state_dir)
        .unwrap()
        .unwrap();
    let network = recorded.network.clone().expect("the network is recorded");
    assert_eq!(network.nodes.len(), 2);
    let kubelet = recorded
        .component(&tug_cluster::ComponentId::kubelet("node-1"))
        .unwrap();
    assert_eq!(kubelet.netns, cluster.node_netns("node-1"));

    // Node 1 drops off the network.
    let cut = network.nodes[1].clone();
    cluster.cut_off_node("node-1").unwrap();
    for id in [
        cluster.kubelet_of("node-1").unwrap(),
        cluster.proxy_of("node-1").unwrap(),
    ] {
        let record = cluster.state().component(&id).unwrap();
        assert!(!record.is_running(), "{id} still runs");
    }
    let operstate =
        std::fs::read_to_string(format!("/sys/class/net/{}/operstate", cut.host_link)).unwrap();
    assert_eq!(operstate.trim(), "down");
    let unreachable = SocketAddr::from((ips[1], 10256));
    assert!(TcpStream::connect_timeout(&unreachable, Duration::from_secs(1)).is_err());
    // Node 0 is untouched.
    TcpStream::connect_timeout(&SocketAddr::from((ips[0], 10250)), Duration::from_secs(2))
        .expect("node-0's kubelet still answers");

    let state_needle = state_dir.display().to_string();
    cluster.down().await.expect("down");

    // Nothing is left: namespaces, links, routes, mounts, cgroups, processes.
    let netns = ip_lines(&["netns", "list"]);
    for node in &network.nodes {
        assert!(
            !netns.contains(&node.name),
            "{} is left: {netns}",
            node.name
        );
        assert!(!Path::new("/sys/class/net").join(&node.host_link).exists());
    }
    assert!(!Path::new("/sys/class/net").join(lan.bridge()).exists());
    let routes = ip_lines(&["-4", "route", "show", "table", "all"]);
    assert!(
        !routes.contains(&lan.subnet().to_string()),
        "a route to the LAN is left: {routes}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&state_needle) && !network.nodes.iter().any(|n| mounts.contains(&n.name)),
        "mounts are left"
    );
    assert_eq!(cgroup_dirs(&network.cgroup_root), Vec::<PathBuf>::new());
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(
            &state_needle
        )
        .is_empty()),
        "processes are left: {:?}",
        processes_mentioning(&state_needle)
    );
    assert!(!state_dir.join("cluster.json").exists());
}
