//! The launcher's API over a real cluster (the built `tug-*` binaries):
//! what tests do with it — find and kill the leader, kill a node, add
//! one, restart a component — and what dropping a `Cluster` leaves.

use std::time::{Duration, Instant};

use tug_api::core::Node;
use tug_client::{Api, ListParams};
use tug_cluster::{Cluster, ClusterSpec, ComponentId, Role, Status};

/// Leader election fast enough for a test: a dead leader's Lease runs
/// out after 2 s.
fn fast_election() -> Vec<String> {
    [
        "--leader-elect-lease-duration=2s",
        "--leader-elect-renew-deadline=1s",
        "--leader-elect-retry-period=200ms",
    ]
    .map(String::from)
    .to_vec()
}

async fn ready_nodes(cluster: &Cluster) -> Vec<String> {
    let nodes: Api<Node> = Api::all(cluster.client());
    let mut names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .expect("list nodes")
        .items
        .into_iter()
        .filter(Node::is_ready)
        .map(|n| n.metadata.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn killing_the_leader_hands_over_to_the_standby() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ClusterSpec {
        schedulers: 2,
        controller_managers: 2,
        ..ClusterSpec::new("leaders").in_dir(dir.path())
    };
    spec.extra_args.scheduler = fast_election();
    spec.extra_args.controller_manager = fast_election();
    let mut cluster = Cluster::up(spec).await.expect("the cluster starts");

    for role in [Role::Scheduler, Role::ControllerManager] {
        let leader = cluster
            .leader(role)
            .await
            .unwrap()
            .expect("a leader after up");
        let others: Vec<ComponentId> = cluster
            .components_of(role)
            .into_iter()
            .filter(|c| *c != leader)
            .collect();
        assert_eq!(others.len(), 1);
        let status = cluster.status().await;
        let standby = status.iter().find(|h| h.id == others[0]).unwrap();
        assert_eq!(standby.status, Status::Running);
        assert_eq!(standby.detail, format!("standby (leader: {leader})"));

        cluster.kill(&leader).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let now_leading = loop {
            if let Some(leader) = cluster.leader(role).await.unwrap() {
                break leader;
            }
            assert!(Instant::now() < deadline, "no new {role:?} leader");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(now_leading, others[0]);
        let status = cluster.status().await;
        let dead = status.iter().find(|h| h.id == leader).unwrap();
        assert_eq!(dead.status, Status::Exited);
    }
}

#[tokio::test]
async fn nodes_die_come_back_and_join() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        nodes: 2,
        ..ClusterSpec::new("nodes").in_dir(dir.path())
    };
    let mut cluster = Cluster::up(spec).await.expect("the cluster starts");
    assert_eq!(cluster.node_names(), ["node-0", "node-1"]);
    assert_eq!(ready_nodes(&cluster).await, ["node-0", "node-1"]);

    let kubelet = cluster.kubelet_of("node-1").unwrap();
    assert_eq!(kubelet, ComponentId::kubelet("node-1"));
    cluster.kill(&kubelet).unwrap();
    let status = cluster.status().await;
    let health = status.iter().find(|h| h.id == kubelet).unwrap();
    assert_eq!(health.status, Status::Exited);

    // A node added later gets its own process and is Ready when add_node returns.
    let added = cluster.add_node("late").await.unwrap();
    assert_eq!(added, ComponentId::kubelet("late"));
    assert!(ready_nodes(&cluster).await.contains(&"late".to_string()));
    assert!(cluster.add_node("late").await.is_err(), "names are unique");

    // The killed kubelet comes back with the same command line.
    cluster.restart(&kubelet).await.unwrap();
    let status = cluster.status().await;
    assert!(
        status.iter().all(|h| h.status == Status::Running),
        "{status:#?}"
    );
    let state = tug_cluster::ClusterState::read(dir.path())
        .unwrap()
        .unwrap();
    assert_eq!(state.node_names(), ["node-0", "node-1", "late"]);
}

#[tokio::test]
async fn dropping_a_cluster_kills_its_processes_and_a_temporary_one_its_state() {
    let cluster = Cluster::up(ClusterSpec::temporary("dropped"))
        .await
        .expect("the cluster starts");
    let dir = cluster.state_dir().to_path_buf();
    assert!(dir.join("logs/apiserver.log").exists());
    let records = cluster.components().to_vec();
    assert!(records.iter().all(|r| r.is_running()));
    drop(cluster);
    for record in &records {
        assert!(!record.is_running(), "{} survived the drop", record.id);
    }
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[tokio::test]
async fn hollow_nodes_share_processes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        nodes: 9,
        hollow_nodes_per_process: 4,
        ..ClusterSpec::new("hollow").in_dir(dir.path())
    };
    let cluster = Cluster::up(spec).await.expect("the cluster starts");
    assert_eq!(cluster.components_of(Role::Kubelet).len(), 3);
    assert_eq!(ready_nodes(&cluster).await.len(), 9);
    let status = cluster.status().await;
    let details: Vec<&str> = status
        .iter()
        .filter(|h| h.role == Role::Kubelet)
        .map(|h| h.detail.as_str())
        .collect();
    assert_eq!(
        details,
        ["4/4 nodes Ready", "4/4 nodes Ready", "node-2 Ready"]
    );
    cluster.down().await.unwrap();
    assert!(!dir.path().exists());
}
