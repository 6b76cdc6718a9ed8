//! The real `tug-proxy` in nftables mode, as root, on a namespace node
//! with three pods (see `support`): ClusterIP reaches every endpoint,
//! NodePort answers on the node IP from outside, no endpoints → refused
//! at once, ClientIP affinity sticks, UDP works, `/healthz` and
//! `/metrics` answer, and `tug-proxy cleanup` removes the table.

mod support;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use support::*;
use tug_tests::http::{self, Timeouts};
use tug_tests::net::wait_for;

fn connect_error_from_node(topo: &Topology, addr: SocketAddr) -> Option<ErrorKind> {
    in_netns(&topo.node_path(), move || ask(addr).err().map(|e| e.kind()))
}

#[tokio::test(flavor = "multi_thread")]
async fn nftables_mode_serves_cluster_ips_node_ports_affinity_and_rejects() {
    if !prerequisites("nftables proxy", &["ip", "nft", "conntrack"]) {
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
    let affinity = serde_json::json!({
        "sessionAffinity": "ClientIP",
        "ports": [{"port": 81, "targetPort": 8080}],
    });
    let sticky = bed.service_on_all_pods("sticky", affinity, "TCP").await;
    let dns = bed
        .service_on_all_pods(
            "dns",
            serde_json::json!({"ports": [{"port": 53, "protocol": "UDP", "targetPort": 8080}]}),
            "UDP",
        )
        .await;

    let mut proxy = ProxyProcess::start(&bed, &["--metrics-bind-address", "127.0.0.1:10249"]);
    let health = proxy.wait_healthy().await;
    let health: serde_json::Value = serde_json::from_str(&health).expect("healthz JSON");
    assert!(health["lastUpdated"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(health["currentTime"].is_string());

    // ClusterIP: every endpoint answers.
    let cluster_ip: std::net::Ipv4Addr = web.spec.cluster_ip.parse().unwrap();
    let vip = SocketAddr::from((cluster_ip, 80));
    let counts = answers_from(&topo.node_path(), vip, 90);
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        vec!["pod-0", "pod-1", "pod-2"],
        "90 requests to the ClusterIP: {counts:?}"
    );

    // From a pod on the node: every pod answers, the sender itself too
    // (hairpin, masqueraded so the reply returns through the bridge and
    // conntrack).
    let counts = answers_from(&topo.pod_path(0), vip, 90);
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        vec!["pod-0", "pod-1", "pod-2"],
        "90 requests from pod-0 to the ClusterIP: {counts:?}"
    );

    // NodePort: answers on the node IP, from outside the node (the host).
    let node_port = web.spec.ports[0].node_port as u16;
    let np = SocketAddr::from((topo.node_ip, node_port));
    let answer = tokio::task::spawn_blocking(move || ask(np)).await.unwrap();
    assert!(
        answer.as_deref().is_ok_and(|a| a.starts_with("pod-")),
        "NodePort {np}: {answer:?}"
    );

    // ClientIP affinity: one client always reaches the same pod.
    let sticky_vip = SocketAddr::from((
        sticky
            .spec
            .cluster_ip
            .parse::<std::net::Ipv4Addr>()
            .unwrap(),
        81,
    ));
    let counts = answers_from(&topo.node_path(), sticky_vip, 20);
    assert_eq!(counts.len(), 1, "affinity: {counts:?}");
    assert!(counts.keys().all(|k| k.starts_with("pod-")), "{counts:?}");

    // UDP through the ClusterIP.
    let dns_vip = SocketAddr::from((
        dns.spec.cluster_ip.parse::<std::net::Ipv4Addr>().unwrap(),
        53,
    ));
    let udp_answer = in_netns(&topo.node_path(), move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(b"hi", dns_vip).unwrap();
        let mut buf = [0u8; 64];
        s.recv(&mut buf)
            .map(|n| String::from_utf8_lossy(&buf[..n]).trim().to_string())
    });
    assert!(
        udp_answer.as_deref().is_ok_and(|a| a.starts_with("pod-")),
        "UDP ClusterIP: {udp_answer:?}"
    );

    // Scale to zero: new connections are refused at once, not left hanging.
    set_endpoints(c, "web", &[], 8080, "TCP").await;
    let scaled = Instant::now();
    wait_for(
        "connection refused",
        Duration::from_secs(3),
        || async move {
            match connect_error_from_node(topo, vip) {
                Some(ErrorKind::ConnectionRefused) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(scaled.elapsed() < Duration::from_secs(3));
    let started = Instant::now();
    assert_eq!(
        connect_error_from_node(topo, vip),
        Some(ErrorKind::ConnectionRefused)
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the refusal is immediate, not a timeout"
    );
    let from_host = tokio::task::spawn_blocking(move || ask(np).err().map(|e| e.kind()))
        .await
        .unwrap();
    assert_eq!(
        from_host,
        Some(ErrorKind::ConnectionRefused),
        "NodePort without endpoints"
    );

    // And back: one endpoint answers again.
    set_endpoints(c, "web", &topo.pod_ips[1..2], 8080, "TCP").await;
    wait_for(
        "the ClusterIP answering again",
        Duration::from_secs(3),
        || async move {
            let counts = answers_from(&topo.node_path(), vip, 5);
            if counts.keys().eq(["pod-1"].iter()) {
                Ok(())
            } else {
                Err(format!("{counts:?}"))
            }
        },
    )
    .await;

    // Metrics report the syncs.
    let metrics = in_netns(&topo.node_path(), || {
        http::get(
            "127.0.0.1:10249".parse().unwrap(),
            "/metrics",
            Timeouts::default(),
        )
    });
    let http::Response { status, body: text } = metrics.expect("/metrics answers");
    assert_eq!(status, 200);
    assert!(
        text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count"),
        "{text}"
    );
    assert!(text.contains("kubeproxy_programmed_services 3"), "{text}");

    // SIGTERM leaves the table (as kube-proxy); cleanup removes it.
    assert!(proxy.terminate(), "tug-proxy exits 0 on SIGTERM");
    let table = topo.table();
    let listed = topo.run_in_node("nft", &["list", "table", "ip", &table]);
    assert!(listed.status.success(), "the table stays after SIGTERM");
    for _ in 0..2 {
        let out = topo.run_in_node(
            env!("CARGO_BIN_EXE_tug-proxy"),
            &["cleanup", "--table-name", &table],
        );
        assert!(
            out.status.success(),
            "cleanup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = topo.run_in_node("nft", &["list", "table", "ip", &table]);
    assert!(!listed.status.success(), "cleanup deleted the table");
}

/// The chain names in the node's table (empty if there is no table).
fn chains(topo: &Topology) -> Vec<String> {
    let out = topo.run_in_node("nft", &["list", "table", "ip", &topo.table()]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .map(|l| l.trim_end_matches(" {").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_proxy_removes_leftovers_and_full_syncs_repair_the_table() {
    if !prerequisites("nftables proxy restart", &["ip", "nft"]) {
        return;
    }
    let bed = TestBed::start(1);
    let (topo, c) = (&bed.topo, &bed.client);
    let gone = bed
        .service_on_all_pods("gone", serde_json::json!({"ports": [{"port": 80}]}), "TCP")
        .await;
    let kept = bed
        .service_on_all_pods(
            "kept",
            serde_json::json!({"ports": [{"port": 80, "targetPort": 8080}]}),
            "TCP",
        )
        .await;

    let extra = ["--sync-period", "1s"];
    let mut proxy = ProxyProcess::start(&bed, &extra);
    wait_for(
        "chains of both services",
        Duration::from_secs(20),
        || async move {
            let names = chains(topo);
            let n = names
                .iter()
                .filter(|c| c.starts_with("service-") && c.contains("default/"))
                .count();
            if n == 2 {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        },
    )
    .await;

    // While the proxy is down, a service goes away.
    assert!(proxy.terminate());
    tug_client::Api::<tug_api::core::Service>::namespaced(c.clone(), "default")
        .delete(&gone.metadata.name, &Default::default())
        .await
        .expect("deleting a service");
    let mut proxy = ProxyProcess::start(&bed, &extra);
    wait_for(
        "the deleted service's chains gone",
        Duration::from_secs(20),
        || async move {
            let names = chains(topo);
            let stale = names.iter().any(|c| c.contains("default/gone/"));
            let live = names.iter().any(|c| c.contains("default/kept/"));
            if !stale && live {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        },
    )
    .await;

    // Someone flushes the table: the next full sync (every second here)
    // puts the rules back.
    let vip = SocketAddr::from((
        kept.spec.cluster_ip.parse::<std::net::Ipv4Addr>().unwrap(),
        80,
    ));
    let flushed = topo.run_in_node("nft", &["flush", "table", "ip", &topo.table()]);
    assert!(flushed.status.success());
    wait_for(
        "the ClusterIP answering after a flush",
        Duration::from_secs(10),
        || async move {
            let counts = answers_from(&topo.node_path(), vip, 1);
            if counts.contains_key("pod-0") {
                Ok(())
            } else {
                Err(format!("{counts:?}"))
            }
        },
    )
    .await;
    assert!(proxy.terminate());
    let out = topo.run_in_node(
        env!("CARGO_BIN_EXE_tug-proxy"),
        &["cleanup", "--table-name", &topo.table()],
    );
    assert!(out.status.success());
}
