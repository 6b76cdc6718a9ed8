//! Two schedulers and two controller-managers: killing the leaders loses
//! nothing and creates nothing twice.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tug_cluster::{ComponentId, Role};

use crate::support::*;

async fn new_leader(t: &TestCluster, role: Role, old: &ComponentId) -> ComponentId {
    wait_for(
        &format!("a new {role:?} leader"),
        Duration::from_secs(30),
        || async {
            match t.cluster.leader(role).await {
                Ok(Some(id)) if &id != old => Ok(id),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leaders_loses_nothing_and_duplicates_nothing() {
    let mut t = start(3, |spec| {
        spec.schedulers = 2;
        spec.controller_managers = 2;
        fast_failover(spec);
    })
    .await;
    let c = t.client.clone();

    // Every pod name ever created for the app, against the replicas wanted
    // at the time: a pod created twice would show as one too many.
    let created = Arc::new(Mutex::new(BTreeSet::new()));
    let allowed = Arc::new(AtomicUsize::new(12));
    let (seen, limit) = (created.clone(), allowed.clone());
    let watcher = PodWatcher::start(&c, "ha", move |pods| {
        let mut s = seen.lock().unwrap();
        s.extend(pods.iter().map(|p| p.metadata.name.clone()));
        let limit = limit.load(Ordering::SeqCst);
        (s.len() > limit).then(|| format!("{} pods created for {limit} replicas", s.len()))
    })
    .await;

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
    create_deployment(&c, &deployment("ha", 12, "img:a", json!({}))).await;
    // Kill both leaders while the pods are being created and bound.
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

    // The standbys take over and finish the job...
    new_leader(&t, Role::Scheduler, &sched).await;
    new_leader(&t, Role::ControllerManager, &cm).await;
    wait_running(&c, "ha", 12, Duration::from_secs(90)).await;
    wait_deployment(
        &c,
        "ha",
        "12 available",
        Duration::from_secs(30),
        rolled_out,
    )
    .await;

    // ...and keep working: 8 more pods are created and bound by them.
    allowed.store(20, Ordering::SeqCst);
    scale(&c, "ha", 20).await;
    wait_running(&c, "ha", 20, Duration::from_secs(60)).await;
    let violations = watcher.finish();
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(
        created.lock().unwrap().len(),
        20,
        "exactly 20 pods ever created"
    );
}
