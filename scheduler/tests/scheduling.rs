//! The built `tug-scheduler` against a real apiserver, with Nodes and Pods
//! made by hand: where pods land (spread, resources, selectors, ports),
//! what a pod that fits nowhere is told (FailedScheduling event and
//! PodScheduled condition, word for word), and that it is placed as soon
//! as the cluster changes in its favour.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;
use tug_api::core::{pod_condition, Node, Pod};
use tug_client::{Api, DeleteParams, Patch, PatchParams};

fn owned_by(uid: &str) -> serde_json::Value {
    json!({
        "labels": {"app": "web"},
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
            "uid": uid, "controller": true, "blockOwnerDeletion": true,
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_one_owner_spread_evenly_and_are_reported_scheduled() {
    let server = start_apiserver();
    let client = client(&server);
    for n in ["node-a", "node-b", "node-c"] {
        add_node(&client, n, "4", "8Gi", 110).await;
    }
    let _scheduler = SchedulerProcess::start(&server, &[]);
    for i in 0..9 {
        create_pod(
            &client,
            &pod(&format!("web-{i}"), "100m", owned_by("rs-uid-1"), json!({})),
        )
        .await;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..9 {
        *per_node
            .entry(wait_bound(&client, &format!("web-{i}")).await)
            .or_default() += 1;
    }
    assert_eq!(
        per_node.into_iter().collect::<Vec<_>>(),
        vec![
            ("node-a".to_string(), 3),
            ("node-b".to_string(), 3),
            ("node-c".to_string(), 3)
        ]
    );
    let node = node_of(&client, "web-0").await;
    let expected = format!("Successfully assigned default/web-0 to {node}");
    poll_until("the Scheduled event", || async {
        let events = events_about(&client, "web-0", "Scheduled").await;
        match events.iter().find(|e| e.message == expected) {
            Some(e) => Ok(e.clone()),
            None => Err(format!("{events:?}")),
        }
    })
    .await;
    // The binding marked the pod scheduled.
    let bound = Api::<Pod>::namespaced(client.clone(), "default")
        .get("web-0")
        .await
        .unwrap();
    assert_eq!(
        pod_condition(&bound, "PodScheduled").map(|c| c.status.as_str()),
        Some("True")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_respected_and_a_pending_pod_takes_a_new_node() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "node-a", "1", "4Gi", 110).await;
    add_node(&client, "node-b", "1", "4Gi", 110).await;
    let _scheduler = SchedulerProcess::start(&server, &[]);
    for name in ["big-1", "big-2", "big-3"] {
        create_pod(&client, &pod(name, "600m", json!({}), json!({}))).await;
    }
    // Two fit, one per node; the third fits nowhere.
    let mut nodes = Vec::new();
    let mut pending = None;
    poll_until("two of three pods bound", || async {
        let bound: Vec<Pod> = pods(&client)
            .await
            .into_iter()
            .filter(|p| !p.spec.node_name.is_empty())
            .collect();
        if bound.len() == 2 {
            Ok(())
        } else {
            Err(format!("{} bound", bound.len()))
        }
    })
    .await;
    for p in pods(&client).await {
        if p.spec.node_name.is_empty() {
            pending = Some(p.metadata.name.clone());
        } else {
            nodes.push(p.spec.node_name.clone());
        }
    }
    nodes.sort();
    assert_eq!(nodes, vec!["node-a", "node-b"]);
    let pending = pending.expect("one pod is pending");
    let message = "0/2 nodes are available: 2 Insufficient cpu.";
    wait_failed_scheduling(&client, &pending, message).await;
    poll_until("the PodScheduled=False condition", || async {
        let p = Api::<Pod>::namespaced(client.clone(), "default")
            .get(&pending)
            .await
            .unwrap();
        match pod_condition(&p, "PodScheduled") {
            Some(c)
                if c.status == "False" && c.reason == "Unschedulable" && c.message == message =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // A new node: the pending pod goes there.
    add_node(&client, "node-c", "1", "4Gi", 110).await;
    assert_eq!(wait_bound(&client, &pending).await, "node-c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gives_its_reason_and_uncordoning_lets_the_pod_in() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "small", "500m", "4Gi", 110).await;
    add_node_with(
        &client,
        "cordoned",
        "4",
        "8Gi",
        110,
        json!({"unschedulable": true}),
        "True",
    )
    .await;
    add_node_with(&client, "down", "4", "8Gi", 110, json!({}), "False").await;
    add_node_with(
        &client,
        "tainted",
        "4",
        "8Gi",
        110,
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
        "True",
    )
    .await;
    let _scheduler = SchedulerProcess::start(&server, &[]);
    create_pod(&client, &pod("app", "1", json!({}), json!({}))).await;
    wait_failed_scheduling(
        &client,
        "app",
        "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s), \
         1 node(s) were not ready, 1 node(s) were unschedulable.",
    )
    .await;

    // A pod tolerating the taint goes to the tainted node.
    create_pod(
        &client,
        &pod(
            "gpu-job",
            "1",
            json!({}),
            json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&client, "gpu-job").await, "tainted");

    // Uncordoning is a node change that retries the waiting pod at once.
    Api::<Node>::all(client.clone())
        .patch(
            "cordoned",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    assert_eq!(wait_bound(&client, "app").await, "cordoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bound_pod_frees_its_room() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "only", "1", "4Gi", 110).await;
    let _scheduler = SchedulerProcess::start(&server, &[]);
    create_pod(&client, &pod("first", "1", json!({}), json!({}))).await;
    assert_eq!(wait_bound(&client, "first").await, "only");
    create_pod(&client, &pod("second", "1", json!({}), json!({}))).await;
    wait_failed_scheduling(
        &client,
        "second",
        "0/1 nodes are available: 1 Insufficient cpu.",
    )
    .await;
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete("first", &DeleteParams::immediate())
        .await
        .unwrap();
    assert_eq!(wait_bound(&client, "second").await, "only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_selectors_host_ports_and_pod_counts() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "ssd", "4", "8Gi", 2).await;
    add_node(&client, "hdd", "4", "8Gi", 110).await;
    Api::<Node>::all(client.clone())
        .patch(
            "ssd",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"disk": "ssd"}}})),
        )
        .await
        .unwrap();
    let _scheduler = SchedulerProcess::start(&server, &[]);
    let on_ssd_with_port = |name: &str| {
        pod(
            name,
            "",
            json!({}),
            json!({
                "nodeSelector": {"disk": "ssd"},
                "containers": [{"name": "c", "image": "registry.local/app:1",
                                "ports": [{"containerPort": 80, "hostPort": 8080}]}],
            }),
        )
    };
    create_pod(&client, &on_ssd_with_port("web-1")).await;
    assert_eq!(wait_bound(&client, "web-1").await, "ssd");
    create_pod(&client, &on_ssd_with_port("web-2")).await;
    wait_failed_scheduling(
        &client,
        "web-2",
        "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, \
         1 node(s) didn't match Pod's node affinity/selector.",
    )
    .await;

    // The ssd node takes 2 pods in all: one more without the port fits, then no more.
    let on_ssd = |name: &str| {
        pod(
            name,
            "",
            json!({}),
            json!({"nodeSelector": {"disk": "ssd"}}),
        )
    };
    create_pod(&client, &on_ssd("db-1")).await;
    assert_eq!(wait_bound(&client, "db-1").await, "ssd");
    create_pod(&client, &on_ssd("db-2")).await;
    wait_failed_scheduling(
        &client,
        "db-2",
        "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node affinity/selector.",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_for_another_scheduler_are_left_alone() {
    let server = start_apiserver();
    let client = client(&server);
    add_node(&client, "node-a", "4", "8Gi", 110).await;
    let _scheduler = SchedulerProcess::start(&server, &[]);
    create_pod(
        &client,
        &pod(
            "theirs",
            "",
            json!({}),
            json!({"schedulerName": "other-scheduler"}),
        ),
    )
    .await;
    create_pod(&client, &pod("ours", "", json!({}), json!({}))).await;
    assert_eq!(wait_bound(&client, "ours").await, "node-a");
    // "theirs" was created first and is still unbound, with no event.
    assert_eq!(node_of(&client, "theirs").await, "");
    assert!(events_about(&client, "theirs", "FailedScheduling")
        .await
        .is_empty());

    // A second scheduler by that name (its own lease) places it.
    let _other = SchedulerProcess::start(
        &server,
        &[
            "--scheduler-name=other-scheduler",
            "--leader-elect-resource-namespace=default",
        ],
    );
    assert_eq!(wait_bound(&client, "theirs").await, "node-a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bindings_never_overbook_a_node() {
    let server = start_apiserver();
    let client = client(&server);
    for i in 0..5 {
        add_node(&client, &format!("node-{i}"), "1", "4Gi", 110).await;
    }
    // Create all pods before the scheduler starts, so it places them back
    // to back with many bindings in flight at once.
    for i in 0..30 {
        create_pod(
            &client,
            &pod(&format!("quarter-{i:02}"), "250m", json!({}), json!({})),
        )
        .await;
    }
    let _scheduler = SchedulerProcess::start(&server, &[]);
    // 5 nodes × 4 quarters: exactly 20 fit.
    poll_until("20 pods bound and 10 reported unschedulable", || async {
        let all = pods(&client).await;
        let bound = all.iter().filter(|p| !p.spec.node_name.is_empty()).count();
        let mut told = 0;
        for p in all.iter().filter(|p| p.spec.node_name.is_empty()) {
            if pod_condition(p, "PodScheduled").is_some_and(|c| c.reason == "Unschedulable") {
                told += 1;
            }
        }
        if bound == 20 && told == 10 {
            Ok(())
        } else {
            Err(format!("{bound} bound, {told} unschedulable"))
        }
    })
    .await;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for p in pods(&client).await {
        if !p.spec.node_name.is_empty() {
            *per_node.entry(p.spec.node_name.clone()).or_default() += 1;
        }
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![4; 5]);
}
