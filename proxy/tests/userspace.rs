//! The real `tug-proxy --mode userspace`, as root, on a namespace node
//! with three pods (see `support`): the ClusterIP goes on `lo`, its
//! listener relays round-robin to every endpoint, the NodePort answers
//! from outside the node, endpoint changes apply live, and SIGTERM takes
//! the ClusterIP off `lo` again. No nftables table is made.

mod support;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::*;
use tug_tests::net::wait_for;

fn lo_has(topo: &Topology, ip: Ipv4Addr) -> bool {
    let out = topo.run_in_node("ip", &["-4", "-o", "addr", "show", "dev", "lo"]);
    String::from_utf8_lossy(&out.stdout).contains(&format!("inet {ip}/32"))
}

#[tokio::test(flavor = "multi_thread")]
async fn userspace_mode_relays_round_robin_and_removes_its_addresses() {
    if !prerequisites("userspace proxy", &["ip"]) {
        return;
    }
    let bed = TestBed::start(3);
    let (topo, c) = (&bed.topo, &bed.client);
    let web = bed
        .service_on_all_pods(
            "web",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]}),
            "TCP",
        )
        .await;
    let cluster_ip: Ipv4Addr = web.spec.cluster_ip.parse().unwrap();
    let vip = SocketAddr::from((cluster_ip, 80));

    let mut proxy = ProxyProcess::start(&bed, &["--mode", "userspace"]);
    proxy.wait_healthy().await;
    assert!(lo_has(topo, cluster_ip), "the ClusterIP is on lo");

    // Round-robin: 30 connections, 10 per pod.
    let counts = answers_from(&topo.node_path(), vip, 30);
    let expected: BTreeMap<String, usize> = (0..3).map(|i| (format!("pod-{i}"), 10)).collect();
    assert_eq!(counts, expected);

    // NodePort from outside the node.
    let np = SocketAddr::from((topo.node_ip, web.spec.ports[0].node_port as u16));
    let answer = tokio::task::spawn_blocking(move || ask(np)).await.unwrap();
    assert!(
        answer.as_deref().is_ok_and(|a| a.starts_with("pod-")),
        "NodePort {np}: {answer:?}"
    );

    // Endpoint changes apply live.
    set_endpoints(c, "web", &topo.pod_ips[2..], 8080, "TCP").await;
    let node = topo.node_path();
    wait_for("only pod-2 answering", Duration::from_secs(5), || {
        let node = node.clone();
        async move {
            let answers: Vec<String> = in_netns(&node, move || {
                (0..4)
                    .map(|_| ask(vip).unwrap_or_else(|e| format!("error: {e}")))
                    .collect()
            });
            if answers.iter().all(|a| a == "pod-2") {
                Ok(())
            } else {
                Err(format!("{answers:?}"))
            }
        }
    })
    .await;

    assert!(proxy.terminate(), "tug-proxy exits 0 on SIGTERM");
    assert!(
        !lo_has(topo, cluster_ip),
        "SIGTERM took the ClusterIP off lo"
    );
    let listed = topo.run_in_node("nft", &["list", "table", "ip", &topo.table()]);
    assert!(
        !listed.status.success(),
        "userspace mode makes no nft table"
    );
}
