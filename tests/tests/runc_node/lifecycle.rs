//! Restarts as Kubernetes makes them: CrashLoopBackOff with a growing
//! back-off, OnFailure and Never, init containers first and in order.

use std::time::Duration;

use serde_json::json;

use crate::support::{container, pod, sh, start, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_container_loops_with_growing_back_off() {
    let Some(node) = start("a_crashing_container_loops_with_growing_back_off").await else {
        return;
    };
    let c = sh("crash", &node.image, "echo starting; exit 3");
    node.create(pod("crasher", json!([c]), json!({}))).await;
    let messages = &std::sync::Mutex::new(Vec::new());
    let node = &node;
    wait_for(
        "CrashLoopBackOff with a back-off that grows",
        Duration::from_secs(90),
        || async move {
            let p = node
                .pods()
                .get("crasher")
                .await
                .map_err(|e| e.to_string())?;
            let mut messages = messages.lock().unwrap();
            let s = container(&p, "crash").ok_or("no status yet")?;
            if let Some(w) = &s.state.waiting {
                if w.reason == "CrashLoopBackOff" && !messages.contains(&w.message) {
                    messages.push(w.message.clone());
                }
            }
            let grew = messages.iter().any(|m| m.contains("back-off 10s"))
                && messages.iter().any(|m| m.contains("back-off 20s"));
            if grew && s.restart_count >= 2 {
                let last = s.last_state.terminated.as_ref().ok_or("no last state")?;
                assert_eq!(last.exit_code, 3);
                assert_eq!(last.reason, "Error");
                Ok(())
            } else {
                Err(format!(
                    "restarts {}, messages {messages:?}",
                    s.restart_count
                ))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_failure_and_never_end_the_pod_as_kubernetes_does() {
    let Some(node) = start("on_failure_and_never_end_the_pod_as_kubernetes_does").await else {
        return;
    };
    let ok = sh("job", &node.image, "echo done");
    node.create(pod(
        "onfailure-ok",
        json!([ok]),
        json!({"restartPolicy": "OnFailure"}),
    ))
    .await;
    let fail = sh("job", &node.image, "exit 4");
    node.create(pod(
        "never-fails",
        json!([fail]),
        json!({"restartPolicy": "Never"}),
    ))
    .await;
    let done = node
        .wait_pod("onfailure-ok", "Succeeded", Duration::from_secs(60), |p| {
            (p.status.phase == "Succeeded")
                .then_some(())
                .ok_or("not yet".into())
        })
        .await;
    let t = container(&done, "job")
        .unwrap()
        .state
        .terminated
        .clone()
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_str()), (0, "Completed"));
    assert_eq!(container(&done, "job").unwrap().restart_count, 0);

    let failed = node
        .wait_pod("never-fails", "Failed", Duration::from_secs(60), |p| {
            (p.status.phase == "Failed")
                .then_some(())
                .ok_or("not yet".into())
        })
        .await;
    let s = container(&failed, "job").unwrap();
    assert_eq!(s.restart_count, 0, "Never does not restart");
    assert_eq!(s.state.terminated.as_ref().unwrap().exit_code, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_containers_run_first_and_a_failing_one_blocks_the_pod() {
    let Some(node) = start("init_containers_run_first_and_a_failing_one_blocks_the_pod").await
    else {
        return;
    };
    // Two init containers append to a shared emptyDir in order; the app
    // container prints what they wrote.
    let volumes = json!({"volumes": [{"name": "work", "emptyDir": {}}]});
    let mount = json!([{"name": "work", "mountPath": "/work"}]);
    let mut first = sh("first", &node.image, "echo first >> /work/order");
    first["volumeMounts"] = mount.clone();
    let mut second = sh("second", &node.image, "echo second >> /work/order");
    second["volumeMounts"] = mount.clone();
    let mut app = sh("app", &node.image, "cat /work/order; sleep 3600");
    app["volumeMounts"] = mount;
    let mut spec = volumes.clone();
    spec["initContainers"] = json!([first, second]);
    node.create(pod("inits", json!([app]), spec)).await;
    node.wait_running("inits").await;
    let log = node.logs("inits", "app").await;
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        vec!["first", "second"],
        "{log}"
    );

    // A failing init container keeps the app from starting.
    let bad = sh("setup", &node.image, "exit 1");
    let app = sh("app", &node.image, "sleep 3600");
    node.create(pod(
        "blocked",
        json!([app]),
        json!({"initContainers": [bad], "restartPolicy": "Never"}),
    ))
    .await;
    let p = node
        .wait_pod(
            "blocked",
            "Failed by its init container",
            Duration::from_secs(60),
            |p| {
                (p.status.phase == "Failed")
                    .then_some(())
                    .ok_or("not yet".into())
            },
        )
        .await;
    let app = container(&p, "app").unwrap();
    assert!(app.state.running.is_none() && app.last_state.terminated.is_none());
    assert!(
        app.state.terminated.is_none()
            || app.state.terminated.as_ref().unwrap().started_at.is_none(),
        "the app container never started"
    );
}
