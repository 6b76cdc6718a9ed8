//! Rolling updates keep their bounds at every instant, Recreate never
//! overlaps, and a stuck rollout stops, reports, and rolls back.

use std::time::Duration;

use serde_json::json;
use tug_api::apps::Deployment;
use tug_api::core::{is_pod_active, is_pod_ready, Pod};
use tug_client::{Api, Patch, PatchParams};

use crate::support::*;

fn image_of(p: &Pod) -> &str {
    &p.spec.containers[0].image
}

/// Roll `replicas` pods from image A to B under `strategy` and check,
/// after every pod change, that active pods ≤ replicas + surge and ready
/// active pods ≥ replicas − unavailable.
async fn rolling_update_within_bounds(
    t: &TestCluster,
    app: &str,
    replicas: i32,
    strategy: serde_json::Value,
    surge: usize,
    unavailable: usize,
) {
    let c = &t.client;
    create_deployment(c, &deployment(app, replicas, "img:a", strategy)).await;
    let n = replicas as usize;
    wait_running(c, app, n, Duration::from_secs(60)).await;
    wait_deployment(
        c,
        app,
        "rolled out on A",
        Duration::from_secs(30),
        rolled_out,
    )
    .await;

    let watcher = PodWatcher::start(c, app, move |pods| {
        let active: Vec<&Pod> = pods.iter().filter(|p| is_pod_active(p)).collect();
        let ready = active.iter().filter(|p| is_pod_ready(p)).count();
        if active.len() > n + surge {
            Some(format!("{} active pods > {n} + {surge}", active.len()))
        } else if ready < n - unavailable {
            Some(format!("{ready} ready pods < {n} - {unavailable}"))
        } else {
            None
        }
    })
    .await;
    set_image(c, app, "img:b").await;
    wait_deployment(
        c,
        app,
        "rolled out on B",
        Duration::from_secs(90),
        rolled_out,
    )
    .await;
    let pods = wait_running(c, app, n, Duration::from_secs(30)).await;
    assert!(
        pods.iter().all(|p| image_of(p) == "img:b"),
        "every pod on B"
    );
    let violations = watcher.finish();
    assert!(violations.is_empty(), "bounds broken: {violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_hold_percentage_and_absolute_bounds() {
    let t = start(3, |_| {}).await;
    // 10 replicas, 25%/25%: surge rounds up to 3, unavailable down to 2.
    let percent = json!({"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    rolling_update_within_bounds(&t, "pct", 10, percent, 3, 2).await;
    // Absolute: one extra pod at most, never a missing one.
    let absolute = json!({"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    rolling_update_within_bounds(&t, "abs", 6, absolute, 1, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_never_runs_old_and_new_pods_together() {
    let t = start(3, |_| {}).await;
    let c = &t.client;
    create_deployment(
        c,
        &deployment("rec", 6, "img:a", json!({"type": "Recreate"})),
    )
    .await;
    wait_running(c, "rec", 6, Duration::from_secs(60)).await;
    wait_deployment(
        c,
        "rec",
        "rolled out on A",
        Duration::from_secs(30),
        rolled_out,
    )
    .await;

    // A new pod may exist only once every old pod is gone or finished.
    let watcher = PodWatcher::start(c, "rec", |pods| {
        let new = pods.iter().filter(|p| image_of(p) == "img:b").count();
        let old_alive = pods
            .iter()
            .filter(|p| image_of(p) == "img:a")
            .filter(|p| !matches!(p.status.phase.as_str(), "Succeeded" | "Failed"))
            .count();
        (new > 0 && old_alive > 0)
            .then(|| format!("{new} new pods while {old_alive} old pods remain"))
    })
    .await;
    set_image(c, "rec", "img:b").await;
    wait_deployment(
        c,
        "rec",
        "rolled out on B",
        Duration::from_secs(90),
        rolled_out,
    )
    .await;
    let pods = wait_running(c, "rec", 6, Duration::from_secs(30)).await;
    assert!(pods.iter().all(|p| image_of(p) == "img:b"));
    let violations = watcher.finish();
    assert!(violations.is_empty(), "Recreate overlapped: {violations:?}");
}

fn progressing_reason(d: &Deployment) -> Option<(&str, &str)> {
    d.status
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_rollout_reports_deadline_exceeded_and_undo_restores_the_old_template() {
    let t = start(3, |_| {}).await;
    let c = &t.client;
    let mut d = deployment(
        "stuck",
        4,
        "img:a",
        json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
    );
    d.spec.progress_deadline_seconds = Some(4);
    create_deployment(c, &d).await;
    let old: Vec<String> = wait_running(c, "stuck", 4, Duration::from_secs(60))
        .await
        .into_iter()
        .map(|p| p.metadata.name)
        .collect();
    wait_deployment(
        c,
        "stuck",
        "rolled out on A",
        Duration::from_secs(30),
        rolled_out,
    )
    .await;

    // The new template's pods never become ready (the fake runtime's
    // readiness hook: an exec probe running `fail`).
    Api::<Deployment>::namespaced(c.clone(), "default")
        .patch(
            "stuck",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{
                "name": "app", "image": "img:broken",
                "readinessProbe": {"exec": {"command": ["fail"]}, "periodSeconds": 1}
            }]}}}})),
        )
        .await
        .expect("update");
    let stuck = wait_deployment(
        c,
        "stuck",
        "Progressing=False ProgressDeadlineExceeded",
        Duration::from_secs(60),
        |d| progressing_reason(d) == Some(("False", "ProgressDeadlineExceeded")),
    )
    .await;
    assert_eq!(stuck.status.available_replicas, 4, "old pods keep serving");
    let pods = pods_of(c, "stuck").await;
    let ready_old = pods
        .iter()
        .filter(|p| is_pod_active(p) && is_pod_ready(p) && image_of(p) == "img:a")
        .count();
    assert_eq!(ready_old, 4, "all old pods still ready");
    assert!(old.iter().all(|n| pods
        .iter()
        .any(|p| &p.metadata.name == n && is_pod_active(p))));

    // `tugctl rollout undo` brings back the previous template.
    let out = std::process::Command::new(tug_tests::bins::workspace_binary("tugctl"))
        .arg("--kubeconfig")
        .arg(t.cluster.kubeconfig_path())
        .args(["rollout", "undo", "deployment/stuck"])
        .output()
        .expect("run tugctl");
    assert!(
        out.status.success(),
        "rollout undo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = wait_deployment(
        c,
        "stuck",
        "rolled back to A",
        Duration::from_secs(60),
        |d| rolled_out(d) && progressing_reason(d) == Some(("True", "NewReplicaSetAvailable")),
    )
    .await;
    assert_eq!(back.spec.template.spec.containers[0].image, "img:a");
    assert!(back.spec.template.spec.containers[0]
        .readiness_probe
        .is_none());
    let pods = wait_running(c, "stuck", 4, Duration::from_secs(30)).await;
    assert!(pods.iter().all(|p| image_of(p) == "img:a"));
    assert_eq!(
        back.metadata
            .annotations
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3"),
        "the restored template becomes the newest revision"
    );
}
