//! The official Kubernetes Python client (`pip install kubernetes`)
//! against a running Tugboat cluster: `tests/python/deployment_lifecycle.py`
//! creates, lists, patches, watches and deletes a Deployment and its pods
//! with it, asserting what the client hands back; this test starts the
//! cluster, runs the script in a virtualenv and checks what is left.
//!
//! The virtualenv lives in the target directory (`python-venv/`) and is
//! made once, then reused. Run `cargo build --workspace --bins` first.

/// Starting hollow-node clusters (shared with the control-plane suite).
#[path = "../control_plane/support.rs"]
#[allow(dead_code)]
mod cluster;

use std::process::Stdio;
use std::time::Duration;

use tug_api::apps::{Deployment, ReplicaSet};
use tug_client::{Api, ListParams};

/// The client release the script is written against (Kubernetes 1.35).
const CLIENT_VERSION: &str = "35.0.0";
/// How long the whole script may take.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);
/// The steps the script reports, in order.
const STEPS: [&str; 11] = [
    "version",
    "create deployment",
    "list deployments",
    "watch pods until 3 ready",
    "list pods",
    "strategic merge patch deployment",
    "watch pods scale down",
    "json patch deployment",
    "watch deployment rollout",
    "delete pod (replaced by its ReplicaSet)",
    "delete deployment and its pods",
];

#[tokio::test(flavor = "multi_thread")]
async fn python_client_drives_a_deployment_and_its_pods() {
    let requirement = format!("kubernetes=={CLIENT_VERSION}");
    let Some(venv) = tug_tests::python::venv("python-venv", &[&requirement]) else {
        return;
    };
    let python = venv.join("bin/python");
    let tc = cluster::start(2, |_| {}).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/deployment_lifecycle.py");
    let name = "py-web";
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(tc.cluster.kubeconfig_path())
        .args(["default", name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let out = tokio::time::timeout(SCRIPT_DEADLINE, child.wait_with_output())
        .await
        .expect("the script finishes in time")
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the script failed:\n{stdout}\n{stderr}"
    );

    let done: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok: "))
        .collect();
    assert_eq!(done.len(), STEPS.len(), "every step passed: {done:?}");
    for (seen, step) in done.iter().zip(STEPS) {
        assert!(seen.starts_with(step), "step {step:?}, got {seen:?}");
    }

    // What the script deleted is gone from the server too.
    let selector = ListParams::default().labels(&format!("app={name}"));
    let deployments = Api::<Deployment>::namespaced(tc.client.clone(), "default");
    assert!(deployments.get(name).await.is_err_and(|e| e.is_not_found()));
    let rs = Api::<ReplicaSet>::namespaced(tc.client.clone(), "default")
        .list(&selector)
        .await
        .expect("list replicasets");
    assert!(rs.items.is_empty(), "no ReplicaSet left");
    assert!(
        cluster::pods_of(&tc.client, name).await.is_empty(),
        "no pod left"
    );
}
