//! Leader election against a real apiserver: one of two candidates leads;
//! when the leader dies the other takes over within the lease duration;
//! a graceful release hands over at once; a leader that loses the Lease
//! is told to stop.

mod common;

use std::time::Duration;

use common::{client, start, WAIT};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tug_api::coordination::Lease;
use tug_api::MicroTime;
use tug_client::{Api, Client, LeaderElectionConfig, LeaderElector, PostParams};

fn elector(client: &Client, lease: &str, id: &str, timing: (u64, u64, u64)) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        LeaderElectionConfig::new("default", lease, id).with_timing(
            Duration::from_millis(timing.0),
            Duration::from_millis(timing.1),
            Duration::from_millis(timing.2),
        ),
    )
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases.get(name).await.unwrap().spec.holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_candidate_takes_over_when_the_leader_dies() {
    let server = start();
    let c = client(&server);
    let leases: Api<Lease> = Api::namespaced(c.clone(), "default");
    // Lease 2 s, renew deadline 1.5 s, retry every 200 ms.
    let timing = (2000, 1500, 200);
    let a = elector(&c, "lock", "a", timing);
    let b = elector(&c, "lock", "b", timing);

    // A leads, in a task we can kill.
    let (led_tx, led_rx) = oneshot::channel();
    let a_task = tokio::spawn(async move {
        let leadership = a.acquire().await;
        let _ = led_tx.send(());
        std::future::pending::<()>().await;
        drop(leadership);
    });
    tokio::time::timeout(WAIT, led_rx).await.unwrap().unwrap();
    assert_eq!(holder(&leases, "lock").await.as_deref(), Some("a"));
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "B cannot take a held lease"
    );

    let b_task = tokio::spawn({
        let b = b.clone();
        async move { b.acquire().await }
    });
    // A keeps renewing past its lease duration, and B keeps waiting.
    let first = leases.get("lock").await.unwrap().spec;
    let acquired = first.acquire_time.unwrap().0;
    let deadline = Instant::now() + WAIT;
    loop {
        let spec = leases.get("lock").await.unwrap().spec;
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        let held = spec.renew_time.unwrap().0 - acquired;
        if held > chrono::TimeDelta::milliseconds(2500) {
            break;
        }
        assert!(Instant::now() < deadline, "A stopped renewing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!b_task.is_finished());

    // Kill A without releasing: B must take over once the lease runs out.
    a_task.abort();
    let killed = Instant::now();
    let b_leads = tokio::time::timeout(WAIT, b_task).await.unwrap().unwrap();
    let took = killed.elapsed();
    assert!(b_leads.is_leading());
    assert!(
        took <= Duration::from_millis(2000 + 2 * 200 + 500),
        "takeover took {took:?} with a 2 s lease"
    );
    let spec = leases.get("lock").await.unwrap().spec;
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_release_hands_over_at_once() {
    let server = start();
    let c = client(&server);
    let leases: Api<Lease> = Api::namespaced(c.clone(), "default");
    // A long lease: only a release explains a quick takeover.
    let timing = (30_000, 20_000, 100);
    let a = elector(&c, "release", "a", timing);
    let b = elector(&c, "release", "b", timing);
    let a_leads = a.acquire().await;
    let b_task = tokio::spawn(async move { b.acquire().await });
    assert!(!b_task.is_finished());

    let released = Instant::now();
    a_leads.release().await.unwrap();
    let b_leads = tokio::time::timeout(WAIT, b_task).await.unwrap().unwrap();
    let took = released.elapsed();
    assert!(b_leads.is_leading());
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    let spec = leases.get("release").await.unwrap().spec;
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));

    // B releases too: the lease is free, and A takes it at its first try.
    b_leads.release().await.unwrap();
    assert_eq!(holder(&leases, "release").await, None);
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert_eq!(
        leases.get("release").await.unwrap().spec.lease_transitions,
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_stops() {
    let server = start();
    let c = client(&server);
    let leases: Api<Lease> = Api::namespaced(c.clone(), "default");
    let a = elector(&c, "stolen", "a", (2000, 1500, 100));
    let leadership = a.acquire().await;
    let mut signal = leadership.signal();
    assert!(*signal.borrow());

    // Someone else writes the Lease (with its resourceVersion, as any
    // candidate would).
    let mut lease = leases.get("stolen").await.unwrap();
    lease.spec.holder_identity = Some("intruder".into());
    lease.spec.renew_time = Some(MicroTime::now());
    leases
        .replace("stolen", &PostParams::default(), &lease)
        .await
        .unwrap();

    tokio::time::timeout(WAIT, leadership.lost())
        .await
        .expect("leadership lost");
    assert!(!leadership.is_leading());
    tokio::time::timeout(WAIT, signal.wait_for(|leading| !*leading))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder(&leases, "stolen").await.as_deref(), Some("intruder"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stops_after_the_renew_deadline() {
    let mut server = start();
    let c = client(&server);
    let a = elector(&c, "unreachable", "a", (3000, 1000, 200));
    let leadership = a.acquire().await;
    assert!(leadership.is_leading());

    tokio::task::block_in_place(|| server.kill());
    let killed = Instant::now();
    tokio::time::timeout(WAIT, leadership.lost())
        .await
        .expect("leadership lost");
    let took = killed.elapsed();
    assert!(
        took < Duration::from_millis(1000 + 2 * 200 + 500),
        "gave up after {took:?} with a 1 s renew deadline"
    );
    assert!(!leadership.is_leading());
}
