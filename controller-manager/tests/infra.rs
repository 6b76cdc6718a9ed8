//! The endpoints, node IPAM, node lifecycle, garbage collector and
//! namespace controllers against a real apiserver, each test running the
//! built `tug-controller-manager` with only the controllers it checks.
//! There is no kubelet and no scheduler: the tests write pod and node
//! status and renew node Leases by hand, as a kubelet would.

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::coordination::Lease;
use tug_api::core::{ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use tug_api::{MicroTime, Time};
use tug_client::{
    Api, Client, Config, DeleteParams, ListParams, Patch, PatchParams, PostParams,
    PropagationPolicy,
};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// How long any single expectation may take.
const WAIT: Duration = Duration::from_secs(40);

/// An apiserver and a controller-manager against it; both stopped on drop.
struct Cluster {
    server: ApiServerProcess,
    manager: Option<Child>,
    args: Vec<String>,
    client: Client,
}

impl Cluster {
    /// An apiserver, and a controller-manager started with `args`.
    fn start(args: &[&str]) -> Cluster {
        let mut c = Cluster::without_manager(args);
        c.start_manager();
        c
    }

    /// An apiserver only; [`Cluster::start_manager`] starts the rest.
    fn without_manager(args: &[&str]) -> Cluster {
        let binary = tug_tests::bins::workspace_binary("tug-apiserver");
        let server = ApiServerProcess::start(&binary, Store::Embedded).expect("apiserver starts");
        let client = Client::new(Config::new(&server.url).expect("config")).expect("client");
        Cluster {
            server,
            manager: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            client,
        }
    }

    fn start_manager(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_tug-controller-manager"))
            .args(["--master", &self.server.url, "--leader-elect=false"])
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tug-controller-manager starts");
        self.manager = Some(child);
    }

    fn kill_manager(&mut self) {
        if let Some(mut c) = self.manager.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn api<K: tug_api::Resource>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn api_in<K: tug_api::Resource>(&self, ns: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Messages of the events about `name` with `reason`.
    async fn events(&self, name: &str, reason: &str) -> Vec<String> {
        self.api::<Event>()
            .list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name == name && e.reason == reason)
            .map(|e| e.message)
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_manager();
    }
}

/// Poll `f` until it gives a value; panic after [`WAIT`].
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn obj<K: DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("fixture decodes")
}

fn pod(name: &str, labels: Value, node: &str, ports: Value) -> Pod {
    obj(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node,
                 "containers": [{"name": "c", "image": "registry.local/app:1", "ports": ports}]}
    }))
}

async fn create<K: tug_api::Resource>(api: &Api<K>, o: &K) -> K {
    api.create(&PostParams::default(), o).await.expect("create")
}

/// Write a pod's status as its kubelet would: running with `ip`, ready or not.
async fn set_pod_status(api: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    loop {
        let mut p = api.get(name).await.expect("get pod");
        p.status = obj(json!({
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                            "lastTransitionTime": Time::now()}]
        }));
        match api.replace_status(name, &PostParams::default(), &p).await {
            Ok(_) => return,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("pod status: {e}"),
        }
    }
}

/// (ready IPs, not-ready IPs, "name/port" list) per subset.
fn summary(ep: &Endpoints) -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
    ep.subsets
        .iter()
        .map(|s| {
            (
                s.addresses.iter().map(|a| a.ip.clone()).collect(),
                s.not_ready_addresses.iter().map(|a| a.ip.clone()).collect(),
                s.ports
                    .iter()
                    .map(|p| format!("{}/{}", p.name, p.port))
                    .collect(),
            )
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn endpoints_follow_pod_readiness_and_named_ports() {
    let mut c = Cluster::start(&["--controllers", "endpoints"]);
    let services = c.api::<Service>();
    let endpoints = c.api::<Endpoints>();
    let pods = c.api::<Pod>();

    // A service without a selector and its hand-made endpoints.
    create(
        &services,
        &obj(json!({"metadata": {"name": "manual"},
        "spec": {"ports": [{"port": 80}]}})),
    )
    .await;
    let manual = create(
        &endpoints,
        &obj(json!({"metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})),
    )
    .await;

    create(
        &services,
        &obj(
            json!({"metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": 9090}]}}),
        ),
    )
    .await;
    create(
        &pods,
        &pod(
            "a",
            json!({"app": "web"}),
            "node-1",
            json!([{"name": "http", "containerPort": 8080}]),
        ),
    )
    .await;
    create(
        &pods,
        &pod(
            "b",
            json!({"app": "web"}),
            "node-1",
            json!([{"name": "http", "containerPort": 8081}]),
        ),
    )
    .await;
    create(
        &pods,
        &pod("other", json!({"app": "db"}), "node-1", json!([])),
    )
    .await;
    set_pod_status(&pods, "a", "10.244.0.10", true).await;
    set_pod_status(&pods, "b", "10.244.0.11", false).await;
    set_pod_status(&pods, "other", "10.244.0.12", true).await;

    let want = vec![
        (strs(&["10.244.0.10"]), vec![], strs(&["http/8080"])),
        (
            strs(&["10.244.0.10"]),
            strs(&["10.244.0.11"]),
            strs(&["metrics/9090"]),
        ),
        (vec![], strs(&["10.244.0.11"]), strs(&["http/8081"])),
    ];
    let ep = wait_for("web endpoints with a ready and a not-ready pod", || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        (summary(&ep) == want).then_some(ep)
    })
    .await;
    assert_eq!(
        ep.metadata.labels.get("tier").map(String::as_str),
        Some("front")
    );
    let a = &ep.subsets[0].addresses[0];
    assert_eq!(a.node_name.as_deref(), Some("node-1"));
    assert_eq!(
        a.target_ref
            .as_ref()
            .map(|r| (r.kind.as_str(), r.name.as_str())),
        Some(("Pod", "a"))
    );

    // b becomes ready: it moves to addresses.
    set_pod_status(&pods, "b", "10.244.0.11", true).await;
    let want = vec![
        (strs(&["10.244.0.10"]), vec![], strs(&["http/8080"])),
        (
            strs(&["10.244.0.10", "10.244.0.11"]),
            vec![],
            strs(&["metrics/9090"]),
        ),
        (strs(&["10.244.0.11"]), vec![], strs(&["http/8081"])),
    ];
    wait_for("b ready in the endpoints", || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        (summary(&ep) == want).then_some(())
    })
    .await;

    // a is deleted: terminating (its node has to confirm), so it leaves.
    pods.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(pods
        .get("a")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    let want = vec![(
        strs(&["10.244.0.11"]),
        vec![],
        strs(&["http/8081", "metrics/9090"]),
    )];
    let settled = wait_for("the terminating pod out of the endpoints", || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        (summary(&ep) == want).then_some(ep)
    })
    .await;

    // A restarted controller recomputes everything and writes nothing
    // that did not change. The probe service is synced after "web" was.
    c.kill_manager();
    c.start_manager();
    create(
        &services,
        &obj(json!({"metadata": {"name": "probe"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 1}]}})),
    )
    .await;
    wait_for("the probe service's endpoints", || async {
        endpoints.get_opt("probe").await.unwrap().map(|_| ())
    })
    .await;
    let again = endpoints.get("web").await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        settled.metadata.resource_version
    );

    // The service goes: so do its endpoints. The manual ones were never touched.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("web's endpoints deleted", || async {
        endpoints
            .get_opt("web")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let manual_now = endpoints.get("manual").await.unwrap();
    assert_eq!(
        manual_now.metadata.resource_version,
        manual.metadata.resource_version
    );
}

fn node(name: &str, pod_cidr: Option<&str>) -> Node {
    let mut n: Node = obj(json!({"metadata": {"name": name}}));
    if let Some(cidr) = pod_cidr {
        n.spec.pod_cidr = cidr.into();
    }
    n
}

async fn pod_cidr_of(nodes: &Api<Node>, name: &str) -> Option<String> {
    let n = nodes.get(name).await.unwrap();
    Some(n.spec.pod_cidr).filter(|c| !c.is_empty())
}

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs_even_across_restarts() {
    let mut c = Cluster::without_manager(&[
        "--controllers",
        "nodeipam",
        "--cluster-cidr",
        "10.200.0.0/22",
        "--node-cidr-mask-size",
        "24",
    ]);
    let nodes = c.nodes();
    // Assigned before this controller-manager ever ran.
    create(&nodes, &node("old", Some("10.200.0.0/24"))).await;
    c.start_manager();
    for name in ["n1", "n2", "n3"] {
        create(&nodes, &node(name, None)).await;
    }
    let mut cidrs = Vec::new();
    for name in ["n1", "n2", "n3"] {
        let cidr = wait_for("a podCIDR", || pod_cidr_of(&nodes, name)).await;
        let n = nodes.get(name).await.unwrap();
        assert_eq!(n.spec.pod_cidrs, vec![cidr.clone()]);
        cidrs.push(cidr);
    }
    cidrs.push("10.200.0.0/24".into());
    cidrs.sort();
    assert_eq!(
        cidrs,
        strs(&[
            "10.200.0.0/24",
            "10.200.1.0/24",
            "10.200.2.0/24",
            "10.200.3.0/24"
        ])
    );

    // The range is full.
    create(&nodes, &node("n4", None)).await;
    let msg = wait_for("CIDRNotAvailable", || async {
        c.events("n4", "CIDRNotAvailable").await.into_iter().next()
    })
    .await;
    assert_eq!(msg, "Node n4 status is now: CIDRNotAvailable");
    assert_eq!(pod_cidr_of(&nodes, "n4").await, None);

    // A deleted node frees its block for the waiting one.
    let freed = pod_cidr_of(&nodes, "n2").await.unwrap();
    nodes.delete("n2", &DeleteParams::default()).await.unwrap();
    let got = wait_for("n4's podCIDR", || pod_cidr_of(&nodes, "n4")).await;
    assert_eq!(got, freed);

    // A restarted allocator rebuilds its map from the nodes: still full.
    c.kill_manager();
    c.start_manager();
    create(&nodes, &node("n5", None)).await;
    wait_for("CIDRNotAvailable after the restart", || async {
        (!c.events("n5", "CIDRNotAvailable").await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(pod_cidr_of(&nodes, "n5").await, None);
}

/// A node as a kubelet registers it: Ready, with a fresh heartbeat.
fn ready_node(name: &str) -> Node {
    obj(json!({"metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "lastHeartbeatTime": Time::now(), "lastTransitionTime": Time::now()}]}}))
}

/// Renew a node's Lease (creating it the first time), as its kubelet does.
async fn renew_lease(client: &Client, node: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease: Lease = obj(
        json!({"metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": MicroTime::now()}}),
    );
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {
            let patch = Patch::Merge(json!({"spec": {"renewTime": MicroTime::now()}}));
            leases
                .patch(node, &PatchParams::default(), &patch)
                .await
                .expect("renew lease");
        }
        Err(e) => panic!("lease: {e}"),
    }
}

/// A kubelet's heartbeat loop: renew the Lease every 500 ms.
fn heartbeat(client: Client, node: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            renew_lease(&client, node).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

fn has_taint(n: &Node, key: &str, effect: &str) -> bool {
    n.spec
        .taints
        .iter()
        .any(|t| t.key == key && t.effect == effect)
}

#[tokio::test]
async fn a_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted() {
    let c = Cluster::start(&[
        "--controllers",
        "nodelifecycle",
        "--node-monitor-grace-period",
        "3s",
        "--node-monitor-period",
        "500ms",
        "--default-toleration-seconds",
        "2s",
    ]);
    let nodes = c.nodes();
    let pods = c.api::<Pod>();
    create(&nodes, &ready_node("alive")).await;
    create(&nodes, &ready_node("dying")).await;
    let alive = heartbeat(c.client.clone(), "alive");
    renew_lease(&c.client, "dying").await;

    let tolerate = |seconds: Option<i64>| {
        json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                "effect": "NoExecute", "tolerationSeconds": seconds}])
    };
    for (name, node, tolerations) in [
        ("safe", "alive", json!([])),
        ("default-toleration", "dying", json!([])),
        ("forever", "dying", tolerate(None)),
        ("an-hour", "dying", tolerate(Some(3600))),
    ] {
        let mut p = pod(name, json!({"app": "x"}), node, json!([]));
        p.spec.tolerations = obj(tolerations);
        create(&pods, &p).await;
        set_pod_status(&pods, name, "10.244.9.9", true).await;
    }

    // "dying" never renews its lease again.
    let dead = wait_for("the silent node to be Unknown and tainted", || async {
        let n = nodes.get("dying").await.unwrap();
        let ready = n.condition("Ready")?.clone();
        (ready.status == "Unknown"
            && has_taint(&n, "node.kubernetes.io/unreachable", "NoExecute")
            && has_taint(&n, "node.kubernetes.io/unreachable", "NoSchedule"))
        .then_some((n, ready))
    })
    .await;
    let (n, ready) = dead;
    assert_eq!(ready.reason, "NodeStatusUnknown");
    assert_eq!(ready.message, "Kubelet stopped posting node status.");
    for ty in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            n.condition(ty).map(|c| c.status.as_str()),
            Some("Unknown"),
            "{ty}"
        );
    }
    let tainted_at = n
        .spec
        .taints
        .iter()
        .find(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute")
        .and_then(|t| t.time_added)
        .expect("timeAdded")
        .0;
    let msg = wait_for("NodeNotReady", || async {
        c.events("dying", "NodeNotReady").await.into_iter().next()
    })
    .await;
    assert_eq!(msg, "Node dying status is now: NodeNotReady");

    // The pods of the dead node are no longer ready.
    for name in ["forever", "an-hour"] {
        wait_for("pods marked not ready", || async {
            let p = pods.get(name).await.unwrap();
            let ready = tug_api::core::pod_condition(&p, "Ready")?;
            (ready.status == "False").then_some(())
        })
        .await;
    }

    // The pod without a toleration goes after the default 2 s.
    let evicted = wait_for("the eviction", || async {
        let p = pods.get_opt("default-toleration").await.unwrap();
        match p {
            None => Some(None),
            Some(p) if p.metadata.deletion_timestamp.is_some() => Some(Some(p)),
            Some(_) => None,
        }
    })
    .await;
    if let Some(p) = evicted {
        // Deleted with its 30 s grace period: asked at deletionTimestamp - 30 s.
        let asked = p.metadata.deletion_timestamp.unwrap().0 - chrono::Duration::seconds(30);
        assert!(
            asked >= tainted_at + chrono::Duration::seconds(1),
            "evicted at {asked}, tainted at {tainted_at}"
        );
        let cond = tug_api::core::pod_condition(&p, "DisruptionTarget").expect("DisruptionTarget");
        assert_eq!(cond.reason, "DeletionByTaintManager");
    }
    let msg = wait_for("TaintManagerEviction", || async {
        c.events("default-toleration", "TaintManagerEviction")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(msg, "Marking for deletion Pod default/default-toleration");
    for name in ["forever", "an-hour", "safe"] {
        let p = pods.get(name).await.unwrap();
        assert!(p.metadata.deletion_timestamp.is_none(), "{name} must stay");
    }
    let healthy = nodes.get("alive").await.unwrap();
    assert_eq!(healthy.condition("Ready").unwrap().status, "True");
    assert!(healthy.spec.taints.is_empty());

    // The node comes back: taints go, the pending eviction is cancelled.
    let mut back = nodes.get("dying").await.unwrap();
    for cond in back.status.conditions.iter_mut() {
        cond.status = if cond.type_ == "Ready" {
            "True"
        } else {
            "False"
        }
        .into();
        cond.last_heartbeat_time = Some(Time::now());
    }
    nodes
        .replace_status("dying", &PostParams::default(), &back)
        .await
        .unwrap();
    let revived = heartbeat(c.client.clone(), "dying");
    wait_for("the taints to go", || async {
        let n = nodes.get("dying").await.unwrap();
        let clean = !n
            .spec
            .taints
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable");
        (clean && n.condition("Ready")?.status == "True").then_some(())
    })
    .await;
    let msg = wait_for("the cancelled eviction", || async {
        c.events("an-hour", "TaintManagerEviction")
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(msg, "Cancelling deletion of Pod default/an-hour");
    assert!(pods
        .get("an-hour")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
    alive.abort();
    revived.abort();
}

fn replicaset(name: &str, owner: Option<&Deployment>) -> ReplicaSet {
    let mut rs: ReplicaSet = obj(json!({"metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"rs": name}},
            "template": {"metadata": {"labels": {"rs": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.local/app:1"}]}}}}));
    if let Some(d) = owner {
        rs.metadata.owner_references = vec![tug_api::OwnerReference::controller_of(d)];
    }
    rs
}

fn owned_pod(name: &str, owner: &ReplicaSet) -> Pod {
    let mut p = pod(name, json!({"rs": owner.metadata.name}), "", json!([]));
    p.metadata.owner_references = vec![tug_api::OwnerReference::controller_of(owner)];
    p
}

async fn names<K: tug_api::Resource>(api: &Api<K>) -> Vec<String> {
    let mut v: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| o.meta().name.clone())
        .collect();
    v.sort();
    v
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..Default::default()
    }
}

#[tokio::test]
async fn garbage_collection_follows_the_propagation_policy() {
    let c = Cluster::start(&["--controllers", "garbagecollector"]);
    let (rss, pods, deps) = (c.api::<ReplicaSet>(), c.api::<Pod>(), c.api::<Deployment>());
    let cms = c.api::<ConfigMap>();

    // Background (the default): the owner goes at once, then its dependents.
    let bg = create(&rss, &replicaset("bg", None)).await;
    create(&pods, &owned_pod("bg-1", &bg)).await;
    create(&pods, &owned_pod("bg-2", &bg)).await;
    // Orphan: the dependents stay, without the reference.
    let keep = create(&rss, &replicaset("keep", None)).await;
    create(&pods, &owned_pod("keep-1", &keep)).await;
    create(&pods, &owned_pod("keep-2", &keep)).await;

    rss.delete("bg", &DeleteParams::default()).await.unwrap();
    rss.delete("keep", &delete_with(PropagationPolicy::Orphan))
        .await
        .unwrap();
    wait_for("background and orphan deletions", || async {
        let left = (names(&pods).await, names(&rss).await);
        (left == (strs(&["keep-1", "keep-2"]), vec![])).then_some(())
    })
    .await;
    for p in pods.list(&ListParams::default()).await.unwrap().items {
        assert!(
            p.metadata.owner_references.is_empty(),
            "{} orphaned",
            p.metadata.name
        );
    }

    // Foreground: deployment → replicaset → pods; the owners go last.
    let d: Deployment = create(
        &deps,
        &obj(json!({"metadata": {"name": "fg"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "fg"}},
            "template": {"metadata": {"labels": {"app": "fg"}},
                "spec": {"containers": [{"name": "c", "image": "registry.local/app:1"}]}}}})),
    )
    .await;
    let rs = create(&rss, &replicaset("fg-rs", Some(&d))).await;
    create(&pods, &owned_pod("fg-1", &rs)).await;
    create(&pods, &owned_pod("fg-2", &rs)).await;
    deps.delete("fg", &delete_with(PropagationPolicy::Foreground))
        .await
        .unwrap();
    wait_for("the foreground deletion", || async {
        let dep = deps.get_opt("fg").await.unwrap();
        let rs_left = rss.get_opt("fg-rs").await.unwrap().is_some();
        let pods_left = names(&pods).await.iter().any(|n| n.starts_with("fg-"));
        if dep.is_none() || !rs_left {
            assert!(!pods_left, "an owner went before its dependents");
        }
        if dep.is_none() {
            assert!(!rs_left, "the deployment went before its replicaset");
            return Some(());
        }
        let dep = dep.unwrap();
        assert!(dep
            .metadata
            .finalizers
            .iter()
            .any(|f| f == "foregroundDeletion"));
        None
    })
    .await;

    // A reference to an owner that never existed.
    let mut stray: ConfigMap = obj(json!({"metadata": {"name": "stray"}}));
    stray.metadata.owner_references = vec![tug_api::OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "ghost".into(),
        uid: "00000000-0000-0000-0000-000000000000".into(),
        ..Default::default()
    }];
    create(&cms, &stray).await;
    // Two owners: losing one keeps the object, minus that reference.
    let a = create(&cms, &obj(json!({"metadata": {"name": "owner-a"}}))).await;
    let b = create(&cms, &obj(json!({"metadata": {"name": "owner-b"}}))).await;
    let mut shared: ConfigMap = obj(json!({"metadata": {"name": "shared"}}));
    shared.metadata.owner_references = vec![
        tug_api::OwnerReference::controller_of(&a),
        tug_api::OwnerReference {
            controller: None,
            ..tug_api::OwnerReference::controller_of(&b)
        },
    ];
    create(&cms, &shared).await;
    cms.delete("owner-a", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the stray deleted and the shared one trimmed", || async {
        let stray_gone = cms.get_opt("stray").await.unwrap().is_none();
        let shared = cms.get("shared").await.unwrap();
        let refs: Vec<String> = shared
            .metadata
            .owner_references
            .iter()
            .map(|r| r.name.clone())
            .collect();
        (stray_gone && refs == strs(&["owner-b"])).then_some(())
    })
    .await;
    // And when the last owner goes, so does the dependent.
    cms.delete("owner-b", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the shared one deleted", || async {
        cms.get_opt("shared").await.unwrap().is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_empties_and_then_removes_it() {
    let c = Cluster::start(&["--controllers", "namespace"]);
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    create(&namespaces, &obj(json!({"metadata": {"name": "doomed"}}))).await;
    let cms = c.api_in::<ConfigMap>("doomed");
    let secrets = c.api_in::<Secret>("doomed");
    let services = c.api_in::<Service>("doomed");
    let pods = c.api_in::<Pod>("doomed");
    create(&cms, &obj(json!({"metadata": {"name": "plain"}}))).await;
    create(
        &cms,
        &obj(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})),
    )
    .await;
    create(
        &secrets,
        &obj(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}})),
    )
    .await;
    create(
        &services,
        &obj(json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}})),
    )
    .await;
    create(&pods, &pod("p", json!({}), "", json!([]))).await;
    // A running pod: its deletion waits for its kubelet (played below).
    create(&pods, &pod("running", json!({}), "node-1", json!([]))).await;
    set_pod_status(&pods, "running", "10.244.0.7", true).await;

    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the running pod to be terminating", || async {
        let p = pods.get("running").await.unwrap();
        p.metadata.deletion_timestamp.map(|_| ())
    })
    .await;
    pods.delete("running", &DeleteParams::immediate())
        .await
        .unwrap();
    let ns = wait_for("the content deleted but for the held object", || async {
        let everything_else_gone = names(&secrets).await.is_empty()
            && names(&services).await.is_empty()
            && names(&pods).await.is_empty()
            && names(&cms).await == strs(&["held"]);
        let ns = namespaces.get("doomed").await.unwrap();
        let waiting = ns
            .status
            .conditions
            .iter()
            .any(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True");
        (everything_else_gone && waiting).then_some(ns)
    })
    .await;
    assert_eq!(ns.status.phase, "Terminating");
    let cond = ns
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "NamespaceFinalizersRemaining")
        .unwrap();
    assert_eq!(
        cond.message,
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    assert!(cms
        .get("held")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());

    // Whoever holds the finalizer lets go: the namespace goes too.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    wait_for("the namespace deleted", || async {
        namespaces
            .get_opt("doomed")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}
