//! Shared helpers for the scheduler's integration tests: a real
//! `tug-apiserver`, the built `tug-scheduler` against it, and Nodes and
//! Pods made by hand (no kubelet, no controller-manager).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tug_api::core::{Event, Node, Pod};
use tug_client::{Api, Client, Config, ListParams, Patch, PatchParams, PostParams};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// How long any single expectation may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// A fresh apiserver.
pub fn start_apiserver() -> ApiServerProcess {
    let binary: PathBuf = tug_tests::bins::workspace_binary("tug-apiserver");
    ApiServerProcess::start(&binary, Store::Embedded).expect("the apiserver starts")
}

/// A client for `server`.
pub fn client(server: &ApiServerProcess) -> Client {
    Client::new(Config::new(&server.url).expect("config")).expect("client")
}

/// A running `tug-scheduler`; killed (SIGKILL) on drop.
pub struct SchedulerProcess {
    child: Option<Child>,
}

impl SchedulerProcess {
    /// Start the scheduler against `server` with extra flags. Leader
    /// election stays on (as deployed), with short timings.
    pub fn start(server: &ApiServerProcess, extra: &[&str]) -> SchedulerProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_tug-scheduler"))
            .args(["--master", &server.url])
            .args([
                "--leader-elect-lease-duration=2s",
                "--leader-elect-renew-deadline=1500ms",
                "--leader-elect-retry-period=200ms",
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tug-scheduler starts");
        SchedulerProcess { child: Some(child) }
    }

    /// Kill it like a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SchedulerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Register a Ready node with this much allocatable (and capacity), as a
/// kubelet would: POST the Node, then its status.
pub async fn add_node(client: &Client, name: &str, cpu: &str, memory: &str, pods: u32) -> Node {
    add_node_with(client, name, cpu, memory, pods, json!({}), "True").await
}

/// The same with extra `spec` fields (taints, unschedulable), and the
/// Ready condition's status (`True`, `False`, `Unknown`).
pub async fn add_node_with(
    client: &Client,
    name: &str,
    cpu: &str,
    memory: &str,
    pods: u32,
    spec: serde_json::Value,
    ready: &str,
) -> Node {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
    }))
    .expect("node fixture");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
    let resources = json!({"cpu": cpu, "memory": memory, "pods": pods.to_string()});
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [{
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": "2025-01-01T00:00:00Z",
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }],
            }})),
        )
        .await
        .expect("node status set")
}

/// A pod in `default` requesting `cpu` (empty: nothing), with `extra`
/// merged into its spec and `meta` into its metadata.
pub fn pod(name: &str, cpu: &str, meta: serde_json::Value, extra: serde_json::Value) -> Pod {
    let mut container = json!({"name": "c", "image": "registry.local/app:1"});
    if !cpu.is_empty() {
        container["resources"] = json!({"requests": {"cpu": cpu}});
    }
    let mut spec = json!({"containers": [container]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let mut metadata = json!({"name": name, "namespace": "default"});
    if let (Some(m), Some(e)) = (metadata.as_object_mut(), meta.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({"metadata": metadata, "spec": spec})).expect("pod fixture")
}

/// Create `pod`.
pub async fn create_pod(client: &Client, pod: &Pod) -> Pod {
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), pod)
        .await
        .expect("pod created")
}

/// The pods in `default`.
pub async fn pods(client: &Client) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
}

/// The node the pod is bound to (empty while unbound).
pub async fn node_of(client: &Client, name: &str) -> String {
    Api::<Pod>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .expect("get pod")
        .spec
        .node_name
}

/// Poll `check` until it yields a value, failing the test with `what` and
/// the last observation after [`WAIT`].
pub async fn poll_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if std::time::Instant::now() >= deadline => {
                panic!("{what} did not happen within {WAIT:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Wait until the pod is bound; its node.
pub async fn wait_bound(client: &Client, name: &str) -> String {
    poll_until(&format!("binding of {name}"), || async {
        let node = node_of(client, name).await;
        if node.is_empty() {
            Err("unbound".to_string())
        } else {
            Ok(node)
        }
    })
    .await
}

/// The events in `default` about the pod `name` with `reason`.
pub async fn events_about(client: &Client, name: &str, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name == name && e.reason == reason)
        .collect()
}

/// Wait until a `FailedScheduling` event about `name` says `message`.
pub async fn wait_failed_scheduling(client: &Client, name: &str, message: &str) {
    poll_until(
        &format!("FailedScheduling {message:?} about {name}"),
        || async {
            let seen: Vec<String> = events_about(client, name, "FailedScheduling")
                .await
                .into_iter()
                .map(|e| e.message)
                .collect();
            if seen.iter().any(|m| m == message) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await
}
