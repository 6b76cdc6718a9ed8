//! Starting clusters for the tests, building objects, and waiting on
//! conditions with deadlines.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Semaphore, SemaphorePermit};
use tug_api::apps::Deployment;
use tug_api::core::{is_pod_active, is_pod_ready, Event, Pod};
use tug_client::{Api, Client, Informer, ListParams, Patch, PatchParams, PostParams};
use tug_cluster::{Cluster, ClusterSpec};
pub use tug_tests::net::wait_for;

/// At most two clusters at once: each is half a dozen processes and the
/// machine may have two cores.
static CLUSTERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

/// A running cluster with its state in a temporary directory; dropping it
/// kills every process.
pub struct TestCluster {
    pub cluster: Cluster,
    pub client: Client,
    _dir: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

/// Flags that make failures and handovers take seconds instead of minutes.
pub fn fast_failover(spec: &mut ClusterSpec) {
    let le = [
        "--leader-elect-lease-duration=2s",
        "--leader-elect-renew-deadline=1500ms",
        "--leader-elect-retry-period=300ms",
    ];
    spec.extra_args.scheduler.extend(le.map(String::from));
    spec.extra_args
        .controller_manager
        .extend(le.map(String::from));
    spec.extra_args.controller_manager.extend(
        [
            "--node-monitor-grace-period=4s",
            "--node-monitor-period=500ms",
            "--default-toleration-seconds=2s",
        ]
        .map(String::from),
    );
    spec.extra_args
        .kubelet
        .extend(["--node-lease-renew-interval=1s"].map(String::from));
}

/// Start a cluster of `nodes` hollow nodes, adjusted by `configure`.
pub async fn start(nodes: usize, configure: impl FnOnce(&mut ClusterSpec)) -> TestCluster {
    let permit = CLUSTERS.acquire().await.expect("semaphore never closes");
    let dir = tempfile::tempdir().expect("temp dir");
    let bin_dir = tug_tests::bins::workspace_binary("tug-apiserver")
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    let name = format!("t{}", std::process::id() % 100_000);
    let mut spec = ClusterSpec::new(&name).in_dir(dir.path());
    spec.nodes = nodes;
    spec.bin_dir = Some(bin_dir);
    spec.ready_timeout = Duration::from_secs(90);
    spec.extra_args
        .kubelet
        .push("--fake-start-latency=200ms".to_string());
    configure(&mut spec);
    let cluster = match Cluster::up(spec).await {
        Ok(c) => c,
        Err(e) => panic!("cluster did not come up: {e}"),
    };
    let client = cluster.client();
    TestCluster {
        cluster,
        client,
        _dir: dir,
        _permit: permit,
    }
}

/// A Deployment of `replicas` pods labelled `app=<name>` running `image`.
pub fn deployment(
    name: &str,
    replicas: i32,
    image: &str,
    strategy: serde_json::Value,
) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .expect("a valid deployment")
}

pub async fn create_deployment(client: &Client, d: &Deployment) -> Deployment {
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), d)
        .await
        .expect("create deployment")
}

pub async fn scale(client: &Client, name: &str, replicas: i32) {
    Api::<Deployment>::namespaced(client.clone(), "default")
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("scale deployment");
}

pub async fn set_image(client: &Client, name: &str, image: &str) {
    Api::<Deployment>::namespaced(client.clone(), "default")
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": image}
            ]}}}})),
        )
        .await
        .expect("update the image");
}

/// The pods labelled `app=<app>`.
pub async fn pods_of(client: &Client, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// Wait until exactly `n` pods of `app` are active, Running and Ready
/// (and no other pod of it remains), returning them.
pub async fn wait_running(client: &Client, app: &str, n: usize, timeout: Duration) -> Vec<Pod> {
    wait_for(
        &format!("{n} running ready pods of {app}"),
        timeout,
        || async {
            let pods = pods_of(client, app).await;
            let ready = pods
                .iter()
                .filter(|p| is_pod_active(p) && p.status.phase == "Running" && is_pod_ready(p))
                .count();
            if ready == n && pods.len() == n {
                Ok(pods)
            } else {
                Err(format!("{} pods, {ready} running+ready", pods.len()))
            }
        },
    )
    .await
}

/// How many of `pods` run on each node.
pub fn per_node(pods: &[Pod]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in pods {
        *m.entry(p.spec.node_name.clone()).or_insert(0) += 1;
    }
    m
}

/// The Deployment's status once its controller has observed the latest
/// spec and `cond` holds.
pub async fn wait_deployment(
    client: &Client,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&Deployment) -> bool,
) -> Deployment {
    let api = Api::<Deployment>::namespaced(client.clone(), "default");
    wait_for(what, timeout, || async {
        let d = api.get(name).await.map_err(|e| e.to_string())?;
        let observed = d.status.observed_generation >= d.metadata.generation;
        if observed && cond(&d) {
            Ok(d)
        } else {
            Err(format!("{:?}", d.status))
        }
    })
    .await
}

/// A rollout fully done: every replica updated, ready and available.
pub fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.replicas.unwrap_or(1);
    d.status.updated_replicas == want
        && d.status.replicas == want
        && d.status.available_replicas == want
        && d.status.ready_replicas == want
}

/// Events whose reason is `reason`, in `namespace`.
pub async fn events(client: &Client, namespace: &str, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.reason == reason)
        .collect()
}

/// Watches the pods of one app and checks an invariant after every change
/// the API server reports, so a bound broken for one instant is caught.
pub struct PodWatcher {
    violations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodWatcher {
    /// Start watching `app`'s pods; `check` sees every pod after each event
    /// and returns a description of what is wrong, if anything.
    pub async fn start(
        client: &Client,
        app: &str,
        check: impl Fn(&[Pod]) -> Option<String> + Send + Sync + 'static,
    ) -> PodWatcher {
        let violations = Arc::new(Mutex::new(Vec::new()));
        let api = Api::<Pod>::namespaced(client.clone(), "default");
        let mut informer = Informer::new(api, ListParams::default().labels(&format!("app={app}")));
        let store = informer.store();
        let seen = violations.clone();
        let view = store.clone();
        informer.add_handler(move |_| {
            let pods: Vec<Pod> = view.list().iter().map(|p| (**p).clone()).collect();
            if let Some(v) = check(&pods) {
                seen.lock().unwrap().push(v);
            }
        });
        let task = tokio::spawn(informer.run());
        store.wait_synced().await;
        PodWatcher { violations, task }
    }

    /// Stop, returning every violation seen.
    pub fn finish(self) -> Vec<String> {
        self.task.abort();
        let v = self.violations.lock().unwrap().clone();
        v
    }
}
