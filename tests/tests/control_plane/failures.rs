//! A dead node loses its pods to the living ones; a full cluster says why
//! pods wait and places them as soon as a node joins.

use std::time::Duration;

use serde_json::json;
use tug_api::apps::Deployment;
use tug_api::core::{is_pod_active, Node, Pod, TAINT_NODE_UNREACHABLE};
use tug_client::Api;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_goes_not_ready_and_its_pods_move_to_the_others() {
    let mut t = start(3, fast_failover).await;
    let c = t.client.clone();
    create_deployment(&c, &deployment("web", 6, "web:a", json!({}))).await;
    let pods = wait_running(&c, "web", 6, Duration::from_secs(60)).await;
    let victim = pods[0].spec.node_name.clone();
    let moved: Vec<String> = pods
        .iter()
        .filter(|p| p.spec.node_name == victim)
        .map(|p| p.metadata.name.clone())
        .collect();
    assert!(!moved.is_empty());

    let kubelet = t.cluster.kubelet_of(&victim).expect("victim's kubelet");
    t.cluster.kill(&kubelet).expect("kill the kubelet");

    let nodes: Api<Node> = Api::all(c.clone());
    wait_for(
        "the node to become NotReady and tainted",
        Duration::from_secs(30),
        || async {
            let node = nodes.get(&victim).await.map_err(|e| e.to_string())?;
            let ready = node.condition("Ready").map(|c| c.status.clone());
            let tainted = node
                .spec
                .taints
                .iter()
                .any(|t| t.key == TAINT_NODE_UNREACHABLE && t.effect == "NoExecute");
            if ready.as_deref() == Some("Unknown") && tainted {
                Ok(())
            } else {
                Err(format!("Ready={ready:?}, taints={:?}", node.spec.taints))
            }
        },
    )
    .await;

    // Its pods are evicted after the toleration and replaced on the others.
    let survivors = wait_for(
        "6 active pods off the dead node",
        Duration::from_secs(60),
        || async {
            let pods: Vec<Pod> = pods_of(&c, "web").await;
            let live: Vec<&Pod> = pods
                .iter()
                .filter(|p| is_pod_active(p) && p.spec.node_name != victim)
                .filter(|p| p.status.phase == "Running")
                .collect();
            let on_victim = pods
                .iter()
                .filter(|p| is_pod_active(p) && p.spec.node_name == victim)
                .count();
            if live.len() == 6 && on_victim == 0 {
                Ok(live.into_iter().cloned().collect::<Vec<_>>())
            } else {
                Err(format!(
                    "{} running elsewhere, {on_victim} active on {victim}",
                    live.len()
                ))
            }
        },
    )
    .await;
    assert!(survivors.iter().all(|p| !moved.contains(&p.metadata.name)));
    wait_deployment(
        &c,
        "web",
        "6 available again",
        Duration::from_secs(30),
        |d| d.status.available_replicas == 6,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_wait_with_reasons_when_resources_run_out_and_schedule_on_a_new_node() {
    let mut t = start(3, |spec| spec.node_cpu = "1".into()).await;
    let c = t.client.clone();
    // One node cordoned: "1 node(s) were unschedulable".
    Api::<Node>::all(c.clone())
        .patch(
            &t.cluster.node_names()[2],
            &Default::default(),
            &tug_client::Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    // 600m each: one per remaining node fits, the third and fourth do not.
    let mut d: Deployment = deployment("big", 4, "big:a", json!({}));
    d.spec.template.spec.containers[0]
        .resources
        .requests
        .insert("cpu".into(), tug_api::quantity::Quantity("600m".into()));
    create_deployment(&c, &d).await;

    let pending = wait_for("2 pending pods", Duration::from_secs(60), || async {
        let pods = pods_of(&c, "big").await;
        let bound = pods.iter().filter(|p| !p.spec.node_name.is_empty()).count();
        let pending: Vec<Pod> = pods
            .iter()
            .filter(|p| p.spec.node_name.is_empty())
            .cloned()
            .collect();
        if pods.len() == 4 && bound == 2 {
            Ok(pending)
        } else {
            Err(format!("{} pods, {bound} bound", pods.len()))
        }
    })
    .await;
    // Upstream sorts the "<count> <reason>" strings, so the cordoned node
    // comes first.
    let expected = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.";
    wait_for(
        "FailedScheduling events with the reasons",
        Duration::from_secs(30),
        || async {
            let evs = events(&c, "default", "FailedScheduling").await;
            let about: Vec<_> = evs
                .iter()
                .filter(|e| {
                    pending
                        .iter()
                        .any(|p| p.metadata.name == e.involved_object.name)
                })
                .collect();
            if about.len() >= 2 && about.iter().all(|e| e.message.starts_with(expected)) {
                Ok(())
            } else {
                Err(format!(
                    "{:?}",
                    about.iter().map(|e| &e.message).collect::<Vec<_>>()
                ))
            }
        },
    )
    .await;

    // A fresh node takes one; the second needs yet another node.
    t.cluster.add_node("extra-0").await.expect("add a node");
    t.cluster.add_node("extra-1").await.expect("add a node");
    let pods = wait_running(&c, "big", 4, Duration::from_secs(60)).await;
    let on_new = pods
        .iter()
        .filter(|p| p.spec.node_name.starts_with("extra-"))
        .count();
    assert_eq!(on_new, 2, "{:?}", per_node(&pods));
}
