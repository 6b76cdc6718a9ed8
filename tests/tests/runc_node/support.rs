//! A one-node runc cluster with a local registry holding a busybox
//! image, pod builders, and what the tests look at on the host (the
//! pod's processes and namespaces).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};
use tug_api::core::{ContainerStatus, Pod};
use tug_client::{Api, Client, DeleteParams, PostParams};
use tug_cluster::{Cluster, ClusterSpec, NodeNetwork, Runtime};
use tug_tests::images::{build_busybox_image, busybox_available, ImageSpec};
pub use tug_tests::net::wait_for;
use tug_tests::prereq::{cni_plugins_installed, missing_as_root, on_path};
use tug_tests::registry::{registry_available, LocalRegistry};

/// At most two runc clusters at once (the machine may have two cores).
static CLUSTERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));
/// Numbers each cluster of this process: its bridge and pod range.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The image every test runs: busybox, `Cmd ["sh"]`.
pub const IMAGE_REPO: &str = "tugboat/busybox";

/// A running one-node runc cluster and the registry its images come from.
pub struct RuncNode {
    pub cluster: Cluster,
    pub client: Client,
    /// `127.0.0.1:<port>/tugboat/busybox:1.0`.
    pub image: String,
    /// The same image by digest (`...@sha256:...`).
    pub image_by_digest: String,
    /// The registry the images come from (stopped when dropped).
    _registry: LocalRegistry,
    /// The node's kubelet state directory.
    pub root_dir: PathBuf,
    /// The pod bridge of this cluster.
    pub bridge: String,
    /// The cgroup the node's pods live under (in every hierarchy).
    pub cgroup_root: String,
    /// Where the busybox OCI layout was built.
    pub layout: PathBuf,
    _dir: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

/// Why this machine cannot run the runc tests, if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    missing_as_root(&[
        (on_path("runc"), "runc"),
        (cni_plugins_installed(), "containernetworking-plugins"),
        (registry_available(), "docker-registry"),
        (busybox_available(), "busybox-static"),
    ])
}

/// Start a node, or say loudly why not and return `None`.
pub async fn start(test: &str) -> Option<RuncNode> {
    if let Some(why) = missing_prerequisite() {
        eprintln!("SKIP {test}: the runc node tests need root and real tools: {why}");
        return None;
    }
    Some(start_with(|_| {}).await)
}

/// [`start`] with the cluster spec adjusted by `configure`.
pub async fn start_with(configure: impl FnOnce(&mut ClusterSpec)) -> RuncNode {
    let permit = CLUSTERS.acquire().await.expect("semaphore never closes");
    let dir = tempfile::tempdir().expect("temp dir");
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let tag = std::process::id() % 1000 * 10 + n % 10;
    let bridge = format!("tugt{tag}");
    let cgroup_root = format!("/tugboat-test{tag}");
    // A pod range per cluster, so clusters side by side never clash.
    let cidr = format!("10.{}.{}.0/24", 180 + (tag / 256) % 60, tag % 256);

    let registry = LocalRegistry::start().expect("the local registry starts");
    let layout = dir.path().join("busybox-layout");
    build_busybox_image(
        &layout,
        ImageSpec {
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
        },
    )
    .expect("build the busybox image");
    let image = format!("{}/{IMAGE_REPO}:1.0", registry.host);
    let digest = registry
        .push(&layout, &format!("{IMAGE_REPO}:1.0"))
        .await
        .expect("push the busybox image");
    let image_by_digest = format!("{}/{IMAGE_REPO}@{digest}", registry.host);

    let bin_dir = tug_tests::bins::workspace_binary("tug-apiserver")
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    let name = format!("runc{tag}");
    let mut spec = ClusterSpec::new(&name).in_dir(dir.path().join("cluster"));
    spec.runtime = Runtime::Runc;
    // One node on the host network: the tests reach pod IPs from the host.
    spec.node_network = NodeNetwork::Host;
    spec.nodes = 1;
    spec.bin_dir = Some(bin_dir);
    spec.ready_timeout = Duration::from_secs(90);
    spec.extra_args.kubelet.extend([
        format!("--cni-bridge={bridge}"),
        format!("--insecure-registry={}", registry.host),
        format!("--cgroup-root={cgroup_root}"),
        // Test machines share big, fairly full disks: under the default
        // 10% the node would report DiskPressure and be tainted.
        "--eviction-hard=nodefs.available<1Gi".to_string(),
    ]);
    spec.extra_args.controller_manager.extend([
        format!("--cluster-cidr={cidr}"),
        "--node-cidr-mask-size=24".to_string(),
    ]);
    configure(&mut spec);
    let state_dir = spec.state_dir.clone();
    let cluster = match Cluster::up(spec).await {
        Ok(c) => c,
        Err(e) => panic!("the runc cluster did not come up: {e}"),
    };
    let client = cluster.client();
    RuncNode {
        root_dir: state_dir.join("nodes").join("node-0"),
        cluster,
        client,
        image,
        image_by_digest,
        _registry: registry,
        bridge,
        cgroup_root,
        layout,
        _dir: dir,
        _permit: permit,
    }
}

impl RuncNode {
    /// The pods API of the default namespace.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Create a pod from its JSON form.
    pub async fn create(&self, pod: Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).expect("a valid pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create the pod")
    }

    /// Wait until pod `name` satisfies `cond` (which says what it saw
    /// otherwise).
    pub async fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&Pod) -> Result<(), String>,
    ) -> Pod {
        let api = self.pods();
        wait_for(&format!("pod {name}: {what}"), timeout, || async {
            let pod = api.get(name).await.map_err(|e| e.to_string())?;
            cond(&pod).map(|()| pod.clone()).map_err(|e| {
                format!(
                    "{e}; status: {}",
                    serde_json::to_string(&pod.status).unwrap_or_default()
                )
            })
        })
        .await
    }

    /// Wait until pod `name` runs with every container ready.
    pub async fn wait_running(&self, name: &str) -> Pod {
        self.wait_pod(name, "Running and Ready", Duration::from_secs(60), |p| {
            if p.status.phase == "Running" && tug_api::core::is_pod_ready(p) {
                Ok(())
            } else {
                Err(format!("phase {:?}", p.status.phase))
            }
        })
        .await
    }

    /// Delete pod `name` with `grace` seconds and wait until it is gone.
    pub async fn delete_and_wait(&self, name: &str, grace: u32, timeout: Duration) {
        let api = self.pods();
        let dp = DeleteParams {
            grace_period_seconds: Some(grace),
            ..Default::default()
        };
        api.delete(name, &dp).await.expect("delete the pod");
        wait_for(&format!("pod {name} gone"), timeout, || async {
            match api.get(name).await {
                Err(e) if e.is_not_found() => Ok(()),
                Ok(p) => Err(format!("still there: {:?}", p.status.phase)),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    /// A container's log through the apiserver (`pods/log`).
    pub async fn logs(&self, pod: &str, container: &str) -> String {
        let lp = tug_client::LogParams {
            container: Some(container.to_string()),
            ..Default::default()
        };
        self.pods()
            .logs(pod, &lp)
            .await
            .unwrap_or_else(|e| format!("<error: {e}>"))
    }
}

/// A pod named `name` with `containers` and further `spec` fields.
pub fn pod(name: &str, containers: Value, spec: Value) -> Value {
    let mut s = json!({"containers": containers, "terminationGracePeriodSeconds": 2});
    if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": s,
    })
}

/// A container running `script` with `sh -c` in `image`.
pub fn sh(name: &str, image: &str, script: &str) -> Value {
    json!({"name": name, "image": image, "command": ["sh", "-c", script]})
}

/// The status of container `name`.
pub fn container<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .container_statuses
        .iter()
        .chain(&pod.status.init_container_statuses)
        .find(|c| c.name == name)
}

/// The runtime's id of container `name` (`runc://<id>` without scheme).
pub fn container_id(pod: &Pod, name: &str) -> String {
    let id = &container(pod, name).expect("container status").container_id;
    id.split_once("://")
        .map(|(_, id)| id)
        .unwrap_or(id)
        .to_string()
}

/// Every process on the host whose cgroup path contains `needle`
/// (a pod's `pod<uid>`, a container's id).
pub fn processes_in_cgroup(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cgroups.lines().any(|l| l.contains(needle)) {
            pids.push(pid);
        }
    }
    pids
}

/// The first process of container `id` (its init: the lowest PID).
pub fn container_init_pid(id: &str) -> Option<u32> {
    processes_in_cgroup(&format!("/{id}")).into_iter().min()
}

/// The namespace `kind` (`net`, `mnt`, `uts`, `ipc`, `pid`) of `pid`.
pub fn namespace(pid: u32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
