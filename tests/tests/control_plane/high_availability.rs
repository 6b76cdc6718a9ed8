//! Two schedulers and two controller-managers: killing the leaders loses
//! nothing and creates nothing twice.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tug_cluster::Role;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leaders_loses_nothing_and_duplicates_nothing() {
    let mut t = start(3, |spec| {
        spec.schedulers = 2;
        spec.controller_managers = 2;
        fast_failover(spec);
    })
    .await;
    let c = t.client.clone();

    // Every pod name ever created for the app, to prove none was extra.
    let created = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = created.clone();
    let watcher = PodWatcher::start(&c, "ha", move |pods| {
        let mut s = seen.lock().unwrap();
        s.extend(pods.iter().map(|p| p.metadata.name.clone()));
        (s.len() > 12).then(|| format!("{} pods created for 12 replicas", s.len()))
    })
    .await;

    create_deployment(&c, &deployment("ha", 12, "img:a", json!({}))).await;
    // Kill both leaders while the pods are being created and bound.
    let sched = t
        .cluster
        .leader(Role::Scheduler)
        .await
        .unwrap()
        .expect("a scheduler leads");
    let cm = t
        .cluster
        .leader(Role::ControllerManager)
        .await
        .unwrap()
        .expect("a controller-manager leads");
    wait_for("the first pods", Duration::from_secs(30), || async {
        let n = pods_of(&c, "ha").await.len();
        if n > 0 {
            Ok(())
        } else {
            Err("none yet".into())
        }
    })
    .await;
    t.cluster.kill(&sched).unwrap();
    t.cluster.kill(&cm).unwrap();

    // The standbys take over and finish the job.
    let pods = wait_running(&c, "ha", 12, Duration::from_secs(90)).await;
    let new_sched = t.cluster.leader(Role::Scheduler).await.unwrap();
    let new_cm = t.cluster.leader(Role::ControllerManager).await.unwrap();
    assert!(
        new_sched.is_some_and(|s| s != sched),
        "the other scheduler leads"
    );
    assert!(
        new_cm.is_some_and(|s| s != cm),
        "the other controller-manager leads"
    );
    wait_deployment(
        &c,
        "ha",
        "12 available",
        Duration::from_secs(30),
        rolled_out,
    )
    .await;

    // No extra pod ever existed.
    let violations = watcher.finish();
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(
        created.lock().unwrap().len(),
        12,
        "exactly 12 pods ever created"
    );
    assert_eq!(pods.len(), 12);
}
