//! `tugctl logs -f` streams a running container's output as it is
//! written, through the apiserver's `pods/log` and the kubelet.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::{pod, sh, start};

#[tokio::test(flavor = "multi_thread")]
async fn tugctl_logs_follow_streams_new_lines() {
    let Some(node) = start("tugctl_logs_follow_streams_new_lines").await else {
        return;
    };
    let c = sh(
        "ticker",
        &node.image,
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done",
    );
    node.create(pod("ticker", json!([c]), json!({}))).await;
    node.wait_running("ticker").await;

    let mut child = Command::new(tug_tests::bins::workspace_binary("tugctl"))
        .arg("--kubeconfig")
        .arg(node.cluster.kubeconfig_path())
        .args(["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tugctl logs -f");
    let stdout = child.stdout.take().expect("stdout");
    // Read on a thread: the stream never ends by itself.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a first line");
    let first_n: u64 = first
        .strip_prefix("tick ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {first:?}"));
    // Lines keep coming while the stream is open: at least 5 more, in order.
    let mut last = first_n;
    for _ in 0..5 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a line streamed");
        let n: u64 = line
            .strip_prefix("tick ")
            .and_then(|n| n.parse().ok())
            .expect("a tick");
        assert_eq!(n, last + 1, "lines in order, none lost");
        last = n;
    }
    let _ = child.kill();
    let _ = child.wait();
}
