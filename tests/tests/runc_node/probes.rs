//! Probes and limits: a failing liveness probe restarts the container,
//! readiness drives the Ready condition, a memory hog is OOMKilled.

use std::time::Duration;

use serde_json::json;
use tug_api::core::is_pod_ready;

use crate::support::{container, pod, sh, start, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_liveness_probe_restarts_the_container() {
    let Some(node) = start("a_failing_liveness_probe_restarts_the_container").await else {
        return;
    };
    // Healthy for its first seconds (the file exists), then the file
    // goes and the exec probe fails.
    let mut c = sh(
        "app",
        &node.image,
        "touch /tmp/healthy; sleep 4; rm /tmp/healthy; sleep 3600",
    );
    c["livenessProbe"] = json!({
        "exec": {"command": ["cat", "/tmp/healthy"]},
        "periodSeconds": 1, "failureThreshold": 2
    });
    node.create(pod("liveness", json!([c]), json!({}))).await;
    node.wait_pod(
        "liveness",
        "restarted by its liveness probe",
        Duration::from_secs(60),
        |p| {
            let s = container(p, "app").ok_or("no status")?;
            if s.restart_count >= 1 {
                Ok(())
            } else {
                Err(format!("restarts {}", s.restart_count))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_toggles_the_ready_condition() {
    let Some(node) = start("readiness_toggles_the_ready_condition").await else {
        return;
    };
    // Ready while /tmp/ready exists: 3 s on, 3 s off, for ever. An HTTP
    // probe on the busybox httpd that serves it.
    let mut c = sh(
        "app",
        &node.image,
        "mkdir -p /www; httpd -p 8080 -h /www; \
         while true; do echo ok > /www/ready; sleep 3; rm -f /www/ready; sleep 3; done",
    );
    c["readinessProbe"] = json!({
        "httpGet": {"path": "/ready", "port": 8080},
        "periodSeconds": 1, "failureThreshold": 1, "successThreshold": 1
    });
    node.create(pod("readiness", json!([c]), json!({}))).await;
    let seen = &std::sync::Mutex::new(Vec::new());
    let node = &node;
    wait_for(
        "Ready to go True, False and True again",
        Duration::from_secs(60),
        || async move {
            let p = node
                .pods()
                .get("readiness")
                .await
                .map_err(|e| e.to_string())?;
            let mut seen = seen.lock().unwrap();
            if p.status.phase == "Running" {
                let ready = is_pod_ready(&p);
                if seen.last() != Some(&ready) {
                    seen.push(ready);
                }
            }
            if seen.windows(3).any(|w| w == [true, false, true]) {
                Ok(())
            } else {
                Err(format!("seen {seen:?}"))
            }
        },
    )
    .await;
    let p = node.pods().get("readiness").await.unwrap();
    assert_eq!(
        container(&p, "app").unwrap().restart_count,
        0,
        "readiness never restarts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_hog_is_oom_killed() {
    let Some(node) = start("a_memory_hog_is_oom_killed").await else {
        return;
    };
    // dd, the container's first process, asks for a 64 MiB buffer over
    // its 16 MiB limit. (Were it a child of a shell, the OOM killer would
    // end only the child and the container would go on, as in Kubernetes.)
    let mut c = sh(
        "hog",
        &node.image,
        "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
    );
    c["resources"] = json!({"limits": {"memory": "16Mi"}});
    node.create(pod("hog", json!([c]), json!({"restartPolicy": "Never"})))
        .await;
    let p = node
        .wait_pod("hog", "OOMKilled", Duration::from_secs(60), |p| {
            let t = container(p, "hog")
                .and_then(|s| s.state.terminated.clone())
                .ok_or("still running")?;
            Ok::<_, String>(()).and_then(|()| {
                if t.reason == "OOMKilled" {
                    Ok(())
                } else {
                    Err(format!("terminated with {} ({})", t.reason, t.exit_code))
                }
            })
        })
        .await;
    let t = container(&p, "hog")
        .unwrap()
        .state
        .terminated
        .clone()
        .unwrap();
    assert_eq!(t.exit_code, 137, "killed by SIGKILL");
}
