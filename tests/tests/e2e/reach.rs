//! Story b: from a pod on node-0, 300 requests to the web ClusterIP reach
//! every backend pod on every node; the NodePort answers on each node's
//! address, from the host and from inside another node.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tug_tests::http::{self, Timeouts};
use tug_tests::netns::in_netns;

use crate::support::{names, nodes_of, wait_for, E2e, NODE_PORT, REPLICAS};
use crate::traffic::burst;

pub async fn every_backend_answers(e2e: &E2e, client_netns: &Path) {
    eprintln!("e2e story b: 300 requests from a pod on node-0 through the ClusterIP");
    let ip = e2e.cluster_ip("web").await;
    let target = SocketAddr::from((ip, 80));
    let pods = e2e.web_pods().await;
    assert_eq!(pods.len(), REPLICAS);
    let backends = names(&pods);
    let tally = wait_for(
        "300 requests through the ClusterIP to all succeed and reach all six pods",
        Duration::from_secs(60),
        || async {
            let tally = burst(client_netns, target, 300).await;
            let reached: BTreeSet<String> = tally.by_backend.keys().cloned().collect();
            if tally.failures.is_empty() && reached == backends {
                Ok(tally)
            } else {
                Err(tally.to_string())
            }
        },
    )
    .await;
    eprintln!("e2e: ClusterIP {target}: {tally}");
    assert_eq!(
        nodes_of(&pods).len(),
        3,
        "those backends are on all 3 nodes"
    );

    eprintln!("e2e story b: the NodePort on every node's address");
    let nodes = e2e.cluster.node_names();
    let from_node = e2e
        .cluster
        .node_netns(&nodes[1])
        .expect("a netns cluster node has a namespace");
    for node in &nodes {
        let node_ip = e2e.cluster.node_ip(node).expect("a netns node has an IP");
        let target = SocketAddr::from((node_ip, NODE_PORT));
        let from_host = wait_for(
            &format!("NodePort {target} ({node}) to answer from the host"),
            Duration::from_secs(30),
            || async {
                let r = tokio::task::spawn_blocking(move || {
                    http::get(target, "/", Timeouts::default())
                })
                .await
                .expect("the request thread");
                answered_by_a_backend(r, &backends)
            },
        )
        .await;
        let netns = from_node.clone();
        let from_inside = wait_for(
            &format!(
                "NodePort {target} ({node}) to answer from {}'s namespace",
                nodes[1]
            ),
            Duration::from_secs(30),
            || async {
                let netns = netns.clone();
                let r = tokio::task::spawn_blocking(move || {
                    in_netns(&netns, || http::get(target, "/", Timeouts::default()))
                })
                .await
                .expect("the request thread");
                answered_by_a_backend(r, &backends)
            },
        )
        .await;
        eprintln!(
            "e2e: NodePort {target}: {from_host} answered the host, {from_inside} answered {}",
            nodes[1]
        );
    }
}

/// The answering pod's name when `r` is a 200 from one of `backends`.
fn answered_by_a_backend(
    r: std::io::Result<http::Response>,
    backends: &BTreeSet<String>,
) -> Result<String, String> {
    match r {
        Ok(r) if r.status == 200 && backends.contains(r.body.trim()) => {
            Ok(r.body.trim().to_string())
        }
        Ok(r) => Err(format!("status {} body {:?}", r.status, r.body)),
        Err(e) => Err(e.to_string()),
    }
}
