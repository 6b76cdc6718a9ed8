//! Story e: node-2's kubelet and proxy die and its network is cut: the
//! node goes NotReady, its pods are replaced on the other nodes, and the
//! Service keeps answering from the pods that are left.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tug_api::core::Node;
use tug_client::Api;

use crate::support::{names, nodes_of, wait_for, E2e, LOST_NODE, REPLICAS};
use crate::traffic::burst;

pub async fn a_lost_node_is_replaced(e2e: &mut E2e, client_netns: &Path) {
    let target = SocketAddr::from((e2e.cluster_ip("web").await, 80));
    let on_lost: BTreeSet<String> = e2e
        .web_pods()
        .await
        .into_iter()
        .filter(|p| p.spec.node_name == LOST_NODE)
        .map(|p| p.metadata.name)
        .collect();
    assert!(
        !on_lost.is_empty(),
        "{LOST_NODE} runs some web pods before it is lost"
    );

    eprintln!("e2e story e: cutting off {LOST_NODE} (kubelet and proxy killed, link down); its pods: {on_lost:?}");
    e2e.cluster
        .cut_off_node(LOST_NODE)
        .unwrap_or_else(|e| panic!("cutting off {LOST_NODE}: {e}"));

    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let ready = wait_for(
        &format!("{LOST_NODE} to be marked not Ready"),
        Duration::from_secs(60),
        || async {
            let node = nodes.get(LOST_NODE).await.map_err(|e| e.to_string())?;
            match node.condition("Ready") {
                Some(c) if c.status != "True" => Ok(c.clone()),
                other => Err(format!("Ready: {other:?}")),
            }
        },
    )
    .await;
    eprintln!("e2e: {LOST_NODE} Ready={} ({})", ready.status, ready.reason);

    let replaced = e2e
        .wait_web_settled(
            REPLICAS,
            "busybox:1.36",
            Some(LOST_NODE),
            Duration::from_secs(120),
        )
        .await;
    assert!(
        !nodes_of(&replaced).contains(LOST_NODE) && names(&replaced).is_disjoint(&on_lost),
        "the lost node's pods were replaced elsewhere"
    );
    for p in e2e.web_pods().await {
        if on_lost.contains(&p.metadata.name) {
            assert!(
                p.metadata.deletion_timestamp.is_some(),
                "{} on the lost node is being deleted (evicted)",
                p.metadata.name
            );
        }
    }
    eprintln!(
        "e2e: {} web pods on {:?}",
        replaced.len(),
        nodes_of(&replaced)
    );

    let serving = names(&replaced);
    let tally = wait_for(
        "the ClusterIP to answer from every remaining pod, and only from them",
        Duration::from_secs(60),
        || async {
            let tally = burst(client_netns, target, 120).await;
            let reached: BTreeSet<String> = tally.by_backend.keys().cloned().collect();
            if tally.failures.is_empty() && reached == serving {
                Ok(tally)
            } else {
                Err(tally.to_string())
            }
        },
    )
    .await;
    eprintln!("e2e: after losing {LOST_NODE}: {tally}");
}
