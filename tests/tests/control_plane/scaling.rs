//! Scheduling spread and scaling of a Deployment on three hollow nodes.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use tug_api::core::{is_pod_active, Node};
use tug_client::{Api, Patch, PatchParams};

use crate::support::*;

async fn cordon_all(t: &TestCluster, unschedulable: bool) {
    let nodes: Api<Node> = Api::all(t.client.clone());
    for name in t.cluster.node_names() {
        nodes
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"unschedulable": unschedulable}})),
            )
            .await
            .expect("cordon");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_spreads_evenly_and_scales_down_the_right_pods() {
    let t = start(3, |_| {}).await;
    let c = &t.client;
    create_deployment(c, &deployment("web", 9, "web:a", json!({}))).await;

    // 9 replicas on 3 equal nodes: 3/3/3.
    let pods = wait_running(c, "web", 9, Duration::from_secs(60)).await;
    let spread = per_node(&pods);
    assert_eq!(spread.len(), 3, "pods on every node: {spread:?}");
    assert!(
        spread.values().all(|&n| n == 3),
        "3/3/3 expected: {spread:?}"
    );

    // Up to 20: all run, still spread.
    scale(c, "web", 20).await;
    let pods = wait_running(c, "web", 20, Duration::from_secs(60)).await;
    let spread = per_node(&pods);
    assert!(
        spread.values().all(|&n| (6..=7).contains(&n)),
        "20 pods spread 7/7/6: {spread:?}"
    );

    // Back to 9, then with every node cordoned up to 20 again: the 11 new
    // pods stay unscheduled. Scaling to 5 must delete those first (an
    // unscheduled pod goes before a scheduled one), then 4 running ones.
    scale(c, "web", 9).await;
    let running: BTreeSet<String> = wait_running(c, "web", 9, Duration::from_secs(60))
        .await
        .into_iter()
        .map(|p| p.metadata.name)
        .collect();
    cordon_all(&t, true).await;
    scale(c, "web", 20).await;
    wait_for(
        "20 pods, 11 unscheduled",
        Duration::from_secs(30),
        || async {
            let pods = pods_of(c, "web").await;
            let unscheduled = pods.iter().filter(|p| p.spec.node_name.is_empty()).count();
            if pods.len() == 20 && unscheduled == 11 {
                Ok(())
            } else {
                Err(format!("{} pods, {unscheduled} unscheduled", pods.len()))
            }
        },
    )
    .await;
    scale(c, "web", 5).await;
    let survivors = wait_for("5 pods left", Duration::from_secs(30), || async {
        let pods = pods_of(c, "web").await;
        let live: Vec<_> = pods.iter().filter(|p| is_pod_active(p)).cloned().collect();
        if live.len() == 5 && pods.len() == 5 {
            Ok(live)
        } else {
            Err(format!("{} pods, {} active", pods.len(), live.len()))
        }
    })
    .await;
    for p in &survivors {
        assert!(
            running.contains(&p.metadata.name),
            "survivor {} is not one of the running pods {running:?}",
            p.metadata.name
        );
        assert_eq!(p.status.phase, "Running");
    }
    cordon_all(&t, false).await;
    wait_deployment(c, "web", "5 available", Duration::from_secs(30), rolled_out).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_converges_on_etcd_too() {
    if !tug_tests::etcd::etcd_available() {
        eprintln!("SKIPPING: etcd is not installed (apt install etcd-server); the etcd-backed cluster is not tested");
        return;
    }
    let t = start(3, |spec| spec.store = tug_cluster::Store::Etcd).await;
    let c = &t.client;
    create_deployment(c, &deployment("etcd", 6, "img:a", json!({}))).await;
    let pods = wait_running(c, "etcd", 6, Duration::from_secs(60)).await;
    assert!(
        per_node(&pods).values().all(|&n| n == 2),
        "{:?}",
        per_node(&pods)
    );
    set_image(c, "etcd", "img:b").await;
    wait_deployment(
        c,
        "etcd",
        "rolled out on B",
        Duration::from_secs(60),
        rolled_out,
    )
    .await;
    scale(c, "etcd", 2).await;
    let pods = wait_running(c, "etcd", 2, Duration::from_secs(60)).await;
    assert!(pods.iter().all(|p| p.spec.containers[0].image == "img:b"));
}
