//! A two-node runc cluster whose nodes are network namespaces (root
//! only; skipped loudly otherwise): each node gets its own address on the
//! cluster's bridge, its own kubelet serving there and its own healthy
//! `tug-proxy`; a node cut off loses its kubelet, proxy and link; `down`
//! leaves no namespace, link, mount, cgroup or process behind.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use tug_api::core::Node;
use tug_client::Api;
use tug_cluster::bins::{BinaryLocator, KUBELET, PROXY};
use tug_cluster::{Cluster, ClusterSpec, NodeNetwork, Role, Runtime, Status};
use tug_tests::host_state::{self, HostState, Leftovers};
use tug_tests::net::wait_until;

/// Where the programs are: `$TUG_BIN_DIR` when set, else next to this
/// test and on `PATH`.
fn bin_dir() -> Option<PathBuf> {
    std::env::var_os("TUG_BIN_DIR").map(PathBuf::from)
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    tug_tests::prereq::missing_for_netns_cluster().or_else(|| {
        let locator = BinaryLocator::new(bin_dir().as_deref());
        [KUBELET, PROXY]
            .into_iter()
            .find_map(|bin| locator.find(bin).err().map(|e| e.to_string()))
    })
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
    let before = HostState::capture();
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

    // The markers must find the running cluster's things, or finding
    // none of them after `down` would prove nothing (no pod runs, so
    // there is no cgroup yet: the e2e teardown story checks those).
    let markers: Vec<String> = host_state::cluster_markers(&cluster).into_iter().collect();
    let running = HostState::capture().new_since(&before).mentioning(&markers);
    for kind in ["netns", "link", "route", "mount", "process"] {
        assert!(
            running.0.iter().any(|(k, _)| *k == kind),
            "the running cluster shows no {kind} among its markers {markers:?}:\n{running}"
        );
    }
    cluster.down().await.expect("down");

    // Nothing is left: namespaces, links, routes, mounts, cgroups,
    // processes (given a moment to be reaped).
    let mut left = Leftovers::default();
    let gone = wait_until(Duration::from_secs(5), || {
        left = HostState::capture().new_since(&before).mentioning(&markers);
        left.is_empty()
    });
    assert!(
        gone,
        "the cluster left these behind:\n{left}(its markers: {markers:?})"
    );
    assert!(!state_dir.join("cluster.json").exists());
}
