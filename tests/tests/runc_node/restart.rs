//! A kubelet killed with SIGKILL and started again: running containers
//! keep running (same PID), their logs and exit codes are intact.

use std::time::Duration;

use serde_json::json;
use tug_cluster::Role;

use crate::support::{container, container_id, container_init_pid, pod, sh, start};

#[tokio::test(flavor = "multi_thread")]
async fn a_kubelet_restart_keeps_containers_logs_and_exit_codes() {
    let Some(mut node) = start("a_kubelet_restart_keeps_containers_logs_and_exit_codes").await
    else {
        return;
    };
    let talker = sh(
        "talker",
        &node.image,
        "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done",
    );
    // Exits with 7 a few seconds in: while the kubelet is down.
    let quitter = sh("quitter", &node.image, "echo bye; sleep 4; exit 7");
    node.create(pod(
        "survivor",
        json!([talker, quitter]),
        json!({"restartPolicy": "Never"}),
    ))
    .await;
    let before = node
        .wait_pod(
            "survivor",
            "both containers running",
            Duration::from_secs(60),
            |p| {
                let running = ["talker", "quitter"]
                    .iter()
                    .all(|c| container(p, c).is_some_and(|s| s.state.running.is_some()));
                running.then_some(()).ok_or("not yet".into())
            },
        )
        .await;
    let talker_id = container_id(&before, "talker");
    let pid = container_init_pid(&talker_id).expect("the talker's process");
    let early_log = node.logs("survivor", "talker").await;
    assert!(early_log.contains("line 0"), "{early_log}");

    let kubelet = node.cluster.components_of(Role::Kubelet)[0].clone();
    node.cluster.kill(&kubelet).expect("kill -9 the kubelet");
    // The quitter exits while no kubelet watches.
    tug_tests::net::wait_for("the quitter to exit", Duration::from_secs(20), || async {
        match container_init_pid(&container_id(&before, "quitter")) {
            None => Ok(()),
            Some(p) => Err(format!("pid {p} still runs")),
        }
    })
    .await;
    node.cluster
        .restart(&kubelet)
        .await
        .expect("restart the kubelet");

    let after = node
        .wait_pod(
            "survivor",
            "the quitter's exit code reported",
            Duration::from_secs(60),
            |p| {
                let t = container(p, "quitter").and_then(|s| s.state.terminated.clone());
                match t {
                    Some(t) if t.exit_code == 7 => Ok(()),
                    other => Err(format!("quitter: {other:?}")),
                }
            },
        )
        .await;
    let talker = container(&after, "talker").unwrap();
    assert!(talker.state.running.is_some(), "the talker still runs");
    assert_eq!(talker.restart_count, 0, "and was not restarted");
    assert_eq!(
        container_id(&after, "talker"),
        talker_id,
        "the same container"
    );
    assert_eq!(
        container_init_pid(&talker_id),
        Some(pid),
        "the same process"
    );
    let log = node.logs("survivor", "talker").await;
    assert!(
        log.starts_with("line 0\n"),
        "the log from before the restart is intact"
    );
    assert!(
        log.lines().count() > early_log.lines().count(),
        "and it grew"
    );
    assert!(node.logs("survivor", "quitter").await.contains("bye"));
}
