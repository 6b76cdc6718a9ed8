//! `kubectl logs` and `logs -f` on a real container (a one-node runc
//! cluster; root only): following prints lines as the container writes
//! them, and ends when the container does.

use std::time::Duration;

use serde_json::json;

use crate::kubectl::{kubectl_or_skip, Kubectl};
use crate::runc;
use crate::support::lines;

/// The `line <n>` numbers among `printed`, in order.
fn numbers(printed: &[String]) -> Vec<u32> {
    printed
        .iter()
        .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_streams_a_running_container() {
    let test = "logs_follow_streams_a_running_container";
    let Some(bin) = kubectl_or_skip(test) else {
        return;
    };
    let Some(node) = runc::start(test).await else {
        return;
    };
    let k = Kubectl::new(&bin, &node.cluster);
    let counter = runc::sh(
        "count",
        &node.image,
        "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done",
    );
    node.create(runc::pod("counter", json!([counter]), json!({})))
        .await;
    node.wait_running("counter").await;

    let mut follow = k.stream(&["logs", "-f", "counter"]);
    let first = follow
        .wait_for("the first lines", Duration::from_secs(30), |p| {
            numbers(p).first().copied()
        })
        .await;
    let later = follow
        .wait_for(
            "lines written after it started",
            Duration::from_secs(30),
            |p| numbers(p).last().copied().filter(|n| *n >= first + 10),
        )
        .await;
    assert!(later >= first + 10);
    let seen = numbers(&follow.lines());
    let expected: Vec<u32> = (seen[0]..seen[0] + seen.len() as u32).collect();
    assert_eq!(seen, expected, "every line once, in order");
    assert_eq!(seen[0], 0, "-f starts from the beginning of the log");
    assert!(follow.running(), "-f keeps following");

    let out = k.ok(&["logs", "counter", "--tail=3"]).await;
    let tail = lines(&out);
    assert_eq!(tail.len(), 3, "{out}");
    let last: Vec<u32> = tail
        .iter()
        .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
        .collect();
    assert_eq!(last.len(), 3, "{out}");
    assert!(last.windows(2).all(|w| w[1] == w[0] + 1), "{out}");

    // The container ends: so does -f.
    node.delete_and_wait("counter", 1, Duration::from_secs(60))
        .await;
    runc::wait_for("logs -f to end", Duration::from_secs(30), || {
        let running = follow.running();
        async move {
            if running {
                Err("still following".to_string())
            } else {
                Ok(())
            }
        }
    })
    .await;
}
