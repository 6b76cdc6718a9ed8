//! The cluster the stories run on (three runc nodes, each a network
//! namespace with its own kubelet and tug-proxy), `tugctl` as a user runs
//! it, and what the stories ask the API about the web pods.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tug_api::core::{is_pod_active, is_pod_ready, Pod, Service};
use tug_client::{Api, Client, ListParams, PostParams};
use tug_cluster::{Cluster, ClusterSpec, Runtime};
use tug_tests::host_state::{self, HostState};
pub use tug_tests::net::wait_for;

/// The node the client pod runs on.
pub const CLIENT_NODE: &str = "node-0";
/// The node the last story cuts off.
pub const LOST_NODE: &str = "node-2";
/// `replicas` of `manifests/web.yaml`.
pub const REPLICAS: usize = 6;
/// The NodePort of `manifests/nodeport.yaml`.
pub const NODE_PORT: u16 = 30080;

/// The running cluster and what the stories share.
pub struct E2e {
    pub cluster: Cluster,
    pub client: Client,
    /// The `tugctl` binary.
    pub tugctl: PathBuf,
    /// The machine before the cluster came up.
    pub before: HostState,
    /// Strings naming this cluster's things on the machine (state
    /// directory, namespaces, links, addresses, pod UIDs), to tell its
    /// leftovers from other programs' changes.
    pub markers: Mutex<BTreeSet<String>>,
    /// Scratch space: the image archive, edited manifests, and the
    /// cluster's state directory (its logs).
    pub work: WorkDir,
}

/// A temporary directory removed when dropped, except while a story
/// fails: then it is kept, with the cluster's logs, and named on stderr.
pub struct WorkDir(Option<tempfile::TempDir>);

impl WorkDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("present until dropped").path()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::thread::panicking() {
                eprintln!(
                    "e2e: failed; logs and state kept in {}",
                    dir.keep().display()
                );
            }
        }
    }
}

/// The repository's `manifests/` directory.
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

/// A pod range no other test cluster on this machine uses at once.
fn unique_cluster_cidr() -> String {
    format!("10.{}.0.0/16", 160 + std::process::id() % 40)
}

/// Node heartbeats and failure detection scaled down from Kubernetes'
/// defaults (Lease renewed every 10 s, NotReady after 40-50 s, pods
/// evicted 300 s later) by the same ratios, so losing a node takes
/// seconds: renew every 1 s, NotReady after 5 s without one (five missed
/// renewals), evict 5 s after the node is tainted.
fn fast_node_failure(spec: &mut ClusterSpec) {
    spec.extra_args.kubelet.extend(
        [
            "--node-lease-renew-interval=1s",
            "--node-lease-duration-seconds=5",
            "--node-status-update-frequency=1s",
        ]
        .map(String::from),
    );
    spec.extra_args.controller_manager.extend(
        [
            "--node-monitor-grace-period=5s",
            "--node-monitor-period=500ms",
            "--default-toleration-seconds=5s",
        ]
        .map(String::from),
    );
}

impl E2e {
    /// Bring up the three-node cluster with the demo images imported on
    /// every node, or say loudly why this machine cannot and return `None`.
    pub async fn start() -> Option<E2e> {
        if let Some(why) = tug_tests::prereq::missing_for_netns_cluster() {
            eprintln!("SKIP e2e user stories: they need root and real tools: {why}");
            return None;
        }
        let before = HostState::capture();
        let work = WorkDir(Some(tempfile::tempdir().expect("temp dir")));
        let archive = tug_tests::images::demo_archive(work.path());
        let bin_dir = tug_tests::bins::workspace_binary("tug-apiserver")
            .parent()
            .expect("binary has a directory")
            .to_path_buf();
        let tugctl = tug_tests::bins::workspace_binary("tugctl");

        let name = format!("e2e{}", std::process::id() % 100_000);
        let cidr = unique_cluster_cidr();
        let mut spec = ClusterSpec::new(&name).in_dir(work.path().join("cluster"));
        spec.nodes = 3;
        spec.runtime = Runtime::Runc;
        spec.bin_dir = Some(bin_dir);
        spec.image_archives = vec![archive];
        spec.ready_timeout = Duration::from_secs(120);
        spec.extra_args.controller_manager.extend([
            format!("--cluster-cidr={cidr}"),
            "--node-cidr-mask-size=24".to_string(),
        ]);
        // Test machines share big, fairly full disks: under the default
        // 10% the nodes would report DiskPressure and be tainted.
        spec.extra_args
            .kubelet
            .push("--eviction-hard=nodefs.available<1Gi".to_string());
        fast_node_failure(&mut spec);
        eprintln!("e2e: bringing up cluster {name} (3 runc nodes, pods in {cidr})");
        let cluster = match Cluster::up(spec).await {
            Ok(c) => c,
            Err(e) => panic!("the 3-node runc cluster did not come up: {e}"),
        };
        let client = cluster.client();
        let e2e = E2e {
            cluster,
            client,
            tugctl,
            before,
            markers: Mutex::new(BTreeSet::new()),
            work,
        };
        e2e.note_cluster_markers();
        Some(e2e)
    }

    /// Remember what names this cluster's things on the machine: its
    /// state directory, bridge, veths, namespaces, node addresses and
    /// cgroup root.
    fn note_cluster_markers(&self) {
        let mut m = self.markers.lock().unwrap();
        m.extend(host_state::cluster_markers(&self.cluster));
    }

    /// Run `tugctl --kubeconfig <cluster's> args...` and return its
    /// stdout; panics with its stderr when it fails.
    pub async fn tugctl(&self, args: &[&str]) -> String {
        let out = tokio::time::timeout(
            Duration::from_secs(300),
            tokio::process::Command::new(&self.tugctl)
                .arg("--kubeconfig")
                .arg(self.cluster.kubeconfig_path())
                .args(args)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("tugctl {args:?} did not finish in 5 minutes"))
        .expect("running tugctl");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "tugctl {args:?} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("$ tugctl {}\n{}", args.join(" "), stdout.trim_end());
        stdout
    }

    /// The pods of the web Deployment, terminating ones included.
    pub async fn web_pods(&self) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("listing the web pods");
        let mut m = self.markers.lock().unwrap();
        for p in &list.items {
            m.insert(p.metadata.uid.clone());
        }
        list.items
    }

    /// Wait until the web Deployment has settled at `replicas` pods, all
    /// Running and Ready with `image`, none terminating; pods on
    /// `ignore_node` (a node that is gone, whose pods can never finish
    /// terminating) are left out. Returns the ready pods.
    pub async fn wait_web_settled(
        &self,
        replicas: usize,
        image: &str,
        ignore_node: Option<&str>,
        timeout: Duration,
    ) -> Vec<Pod> {
        let what = format!("{replicas} web pods Running and Ready with {image}, no others");
        wait_for(&what, timeout, || async {
            let pods: Vec<Pod> = self
                .web_pods()
                .await
                .into_iter()
                .filter(|p| Some(p.spec.node_name.as_str()) != ignore_node)
                .collect();
            let summary = summarize(&pods);
            let settled = pods.len() == replicas
                && pods.iter().all(|p| {
                    is_pod_active(p)
                        && p.status.phase == "Running"
                        && is_pod_ready(p)
                        && p.spec.containers.first().map(|c| c.image.as_str()) == Some(image)
                });
            if settled {
                Ok(pods)
            } else {
                Err(summary)
            }
        })
        .await
    }

    /// The ClusterIP of Service `name`.
    pub async fn cluster_ip(&self, name: &str) -> std::net::Ipv4Addr {
        let services: Api<Service> = Api::namespaced(self.client.clone(), "default");
        let svc = services.get(name).await.expect("getting the service");
        svc.spec
            .cluster_ip
            .parse()
            .unwrap_or_else(|_| panic!("service {name} has no IPv4 ClusterIP: {:?}", svc.spec))
    }

    /// Start a busybox pod sleeping on `node` (pinned with `nodeName`)
    /// and return the path of its network namespace (the kubelet's pin).
    pub async fn client_pod(&self, node: &str) -> PathBuf {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "labels": {"app": "client"}},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "client",
                    "image": "busybox:1.36",
                    "command": ["sleep", "86400"],
                }],
            },
        }))
        .expect("a valid pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("creating the client pod");
        let pod = wait_for("the client pod to run", Duration::from_secs(90), || async {
            let p = pods.get("client").await.map_err(|e| e.to_string())?;
            if p.status.phase == "Running" && is_pod_ready(&p) {
                Ok(p)
            } else {
                Err(format!("phase {:?}", p.status.phase))
            }
        })
        .await;
        self.markers
            .lock()
            .unwrap()
            .insert(pod.metadata.uid.clone());
        let netns = tug_tests::netns::pod_netns(
            &tug_cluster::paths::node_dir(self.cluster.state_dir(), node),
            &pod.metadata.uid,
        );
        assert!(
            netns.exists(),
            "the kubelet pins the client pod's network namespace at {}",
            netns.display()
        );
        netns
    }
}

/// `name@node phase ready image` of each pod, for timeout messages.
pub fn summarize(pods: &[Pod]) -> String {
    let parts: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{}@{} {}{}{} {}",
                p.metadata.name,
                p.spec.node_name,
                p.status.phase,
                if is_pod_ready(p) { " ready" } else { "" },
                if is_pod_active(p) { "" } else { " terminating" },
                p.spec
                    .containers
                    .first()
                    .map(|c| c.image.as_str())
                    .unwrap_or("")
            )
        })
        .collect();
    format!("{} pods: {}", pods.len(), parts.join(", "))
}

/// The names of `pods`.
pub fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().map(|p| p.metadata.name.clone()).collect()
}

/// The nodes `pods` run on.
pub fn nodes_of(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().map(|p| p.spec.node_name.clone()).collect()
}
