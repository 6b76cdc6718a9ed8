//! Story d: scaled to zero, the ClusterIP refuses connections at once
//! (the proxies reject them rather than let them hang); scaled back to
//! six, it answers again.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tug_tests::http::{self, Timeouts};

use crate::support::{wait_for, E2e, REPLICAS};
use crate::traffic::{burst, one};

/// A refused connection is an RST or ICMP error: it comes back in
/// milliseconds. Longer means the packet was dropped and the client
/// waited for a timeout.
const QUICK: Duration = Duration::from_secs(1);

pub async fn scale_to_zero_refuses_then_answers_again(e2e: &E2e, client_netns: &Path) {
    let target = SocketAddr::from((e2e.cluster_ip("web").await, 80));
    eprintln!("e2e story d: tugctl scale deployment web --replicas 0");
    e2e.tugctl(&["scale", "deployment", "web", "--replicas", "0"])
        .await;
    // A connect timeout well above QUICK, so a dropped SYN shows as slow.
    let patient = Timeouts {
        connect: Duration::from_secs(3),
        read: Duration::from_secs(3),
    };
    wait_for(
        "the ClusterIP to refuse connections",
        Duration::from_secs(30),
        || async {
            match one(client_netns, target, patient).await {
                (Err(e), _) if http::is_refused(&e) => Ok(()),
                (r, took) => Err(format!("{r:?} after {took:?}")),
            }
        },
    )
    .await;
    for attempt in 0..5 {
        let (r, took) = one(client_netns, target, patient).await;
        match r {
            Err(e) if http::is_refused(&e) => assert!(
                took < QUICK,
                "attempt {attempt}: refused, but only after {took:?}"
            ),
            other => panic!("attempt {attempt}: with no endpoints, {other:?} after {took:?}"),
        }
        eprintln!("e2e: no endpoints: connection refused in {took:?}");
    }

    eprintln!("e2e story d: tugctl scale deployment web --replicas 6");
    e2e.tugctl(&["scale", "deployment", "web", "--replicas", "6"])
        .await;
    e2e.wait_web_settled(REPLICAS, "busybox:1.36", None, Duration::from_secs(180))
        .await;
    let tally = wait_for(
        "the ClusterIP to answer again",
        Duration::from_secs(30),
        || async {
            let tally = burst(client_netns, target, 30).await;
            if tally.failures.is_empty() {
                Ok(tally)
            } else {
                Err(tally.to_string())
            }
        },
    )
    .await;
    eprintln!("e2e: scaled back: {tally}");
}
