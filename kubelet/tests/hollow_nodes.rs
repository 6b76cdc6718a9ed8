//! `tug-kubelet --runtime fake --hollow-nodes 3` against a real apiserver:
//! three Ready nodes with Leases; pods bound by hand (no scheduler, no
//! controller-manager: the test assigns the podCIDR itself) go through
//! their lives — ContainerCreating until the node has a podCIDR, Running
//! and Ready with an IP from it, a `fail` readiness probe that never lets
//! a pod be Ready, a crashing container restarted with CrashLoopBackOff,
//! `restartPolicy: Never` pods that end Failed or Succeeded, and deletion
//! confirmed by the kubelet. A restarted kubelet keeps its nodes and pods.
//! Probes and pulls: a failing liveness probe gets the container killed
//! and restarted, a startup probe holds readiness back, an image that
//! cannot be pulled waits in ErrImagePull then ImagePullBackOff, and an
//! exit the runtime calls OOMKilled is reported so.
//!
//! Needs the built binaries: `cargo build -p tug-apiserver -p tug-kubelet`.

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ipnet::IpNet;
use serde_json::json;
use tug_api::coordination::Lease;
use tug_api::core::{is_pod_ready, Event, Node, Pod};
use tug_client::{Api, Client, Config, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::bins::workspace_binary;
use tug_tests::net::eventually;

const WAIT: Duration = Duration::from_secs(30);
const NODES: [&str; 3] = ["hollow-0", "hollow-1", "hollow-2"];

/// A running `tug-kubelet`, killed on drop.
struct Kubelet(Child);

impl Kubelet {
    fn start(server: &str) -> Kubelet {
        let child = Command::new(workspace_binary("tug-kubelet"))
            .args(["--runtime", "fake", "--master", server])
            .args(["--node-name", "hollow", "--hollow-nodes", "3"])
            .args([
                "--fake-start-latency",
                "200ms",
                "--fake-crash-backoff",
                "1s",
            ])
            .args(["--node-lease-renew-interval", "1s"])
            .args(["--node-status-update-frequency", "1s"])
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting tug-kubelet");
        Kubelet(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_server() -> (ApiServerProcess, Client) {
    let server = ApiServerProcess::start(&workspace_binary("tug-apiserver"), Store::Embedded)
        .expect("starting tug-apiserver");
    let client = Client::new(Config::new(&server.url).unwrap()).unwrap();
    (server, client)
}

/// Poll `get` until it returns something `ok` accepts; panic with the
/// last thing seen when [`WAIT`] passes.
async fn wait_for<T, F, Fut>(what: &str, mut get: F, ok: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let ok = &ok;
    tug_tests::net::wait_for(what, WAIT, || {
        let got = get();
        async move {
            match got.await {
                Some(v) if ok(&v) => Ok(v),
                other => Err(format!("{other:#?}")),
            }
        }
    })
    .await
}

/// Poll the pod until `ok` holds.
async fn wait_pod(api: &Api<Pod>, name: &str, what: &str, ok: impl Fn(&Pod) -> bool) -> Pod {
    wait_for(
        &format!("pod {name} {what}"),
        || async { api.get_opt(name).await.ok().flatten() },
        ok,
    )
    .await
}

async fn all_nodes_ready(client: &Client) -> bool {
    let nodes: Api<Node> = Api::all(client.clone());
    let Ok(list) = nodes.list(&ListParams::default()).await else {
        return false;
    };
    NODES.iter().all(|n| {
        list.items
            .iter()
            .any(|node| node.metadata.name == *n && node.is_ready())
    })
}

async fn set_pod_cidr(client: &Client, node: &str, cidr: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})),
        )
        .await
        .expect("setting the podCIDR");
}

fn pod(name: &str, node: &str, extra: serde_json::Value) -> Pod {
    let mut body = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "registry.local/app:1"}]
        }
    });
    merge(&mut body, extra);
    serde_json::from_value(body).unwrap()
}

fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

fn ip_in(pod: &Pod, cidr: &str) -> bool {
    let net: IpNet = cidr.parse().unwrap();
    pod.status
        .pod_ip
        .parse::<IpAddr>()
        .is_ok_and(|ip| net.contains(&ip))
}

fn container_running(pod: &Pod) -> bool {
    pod.status.phase == "Running"
        && pod
            .status
            .container_statuses
            .first()
            .is_some_and(|c| c.state.running.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_ready_nodes_with_leases_and_keeps_them_across_restarts() {
    let (mut server, client) = start_server();
    let mut kubelet = Kubelet::start(&server.url);
    assert!(
        eventually(WAIT, || all_nodes_ready(&client)).await,
        "three Ready nodes"
    );

    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get("hollow-1").await.unwrap();
    assert_eq!(node.metadata.labels["kubernetes.io/hostname"], "hollow-1");
    assert_eq!(node.metadata.labels["kubernetes.io/os"], "linux");
    assert_eq!(
        node.status.node_info.container_runtime_version,
        "fake://0.1"
    );
    assert_eq!(node.status.capacity["pods"].0, "110");
    assert_eq!(node.status.allocatable["memory"].0, "8Gi");
    let ip = node.internal_ip().unwrap().to_string();
    assert!(
        ip.starts_with("10.200."),
        "a synthesised InternalIP, got {ip}"
    );
    let other_ip = nodes
        .get("hollow-2")
        .await
        .unwrap()
        .internal_ip()
        .unwrap()
        .to_string();
    assert_ne!(ip, other_ip, "hollow nodes get distinct IPs");
    for type_ in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(node.condition(type_).unwrap().status, "False");
    }
    assert_eq!(node.condition("Ready").unwrap().reason, "KubeletReady");

    // Each node's Lease: held by it, owned by its Node, renewed.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut first_renewals = Vec::new();
    for name in NODES {
        let node = nodes.get(name).await.unwrap();
        let lease = wait_for(
            &format!("the lease of {name}"),
            || async { leases.get_opt(name).await.ok().flatten() },
            |l: &Lease| !l.metadata.owner_references.is_empty(),
        )
        .await;
        assert_eq!(lease.spec.holder_identity.as_deref(), Some(name));
        assert_eq!(lease.spec.lease_duration_seconds, Some(40));
        let owner = &lease.metadata.owner_references[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Node", node.metadata.uid.as_str())
        );
        first_renewals.push(lease.spec.renew_time.unwrap());
    }
    for (name, first) in NODES.iter().zip(first_renewals) {
        assert!(
            eventually(WAIT, || {
                let leases = leases.clone();
                async move {
                    leases
                        .get(name)
                        .await
                        .is_ok_and(|l| l.spec.renew_time.is_some_and(|t| t > first))
                }
            })
            .await,
            "the lease of {name} is renewed"
        );
    }

    // A restarted kubelet keeps its nodes (same uid).
    let uid_before = nodes.get("hollow-0").await.unwrap().metadata.uid;
    kubelet.kill();
    let _kubelet = Kubelet::start(&server.url);
    let renewed_after_restart = leases
        .get("hollow-0")
        .await
        .unwrap()
        .spec
        .renew_time
        .unwrap();
    assert!(
        eventually(WAIT, || {
            let leases = leases.clone();
            async move {
                leases
                    .get("hollow-0")
                    .await
                    .is_ok_and(|l| l.spec.renew_time.is_some_and(|t| t > renewed_after_restart))
            }
        })
        .await,
        "the restarted kubelet renews the lease"
    );
    assert_eq!(
        nodes.get("hollow-0").await.unwrap().metadata.uid,
        uid_before
    );
    assert!(all_nodes_ready(&client).await);

    // The apiserver goes away and comes back: the kubelet carries on.
    server.restart().unwrap();
    let after_server_restart = leases
        .get("hollow-2")
        .await
        .unwrap()
        .spec
        .renew_time
        .unwrap();
    assert!(
        eventually(WAIT, || {
            let leases = leases.clone();
            async move {
                leases
                    .get("hollow-2")
                    .await
                    .is_ok_and(|l| l.spec.renew_time.is_some_and(|t| t > after_server_restart))
            }
        })
        .await,
        "lease renewals resume after an apiserver restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_pods_through_their_lifecycle() {
    let (server, client) = start_server();
    let mut kubelet = Kubelet::start(&server.url);
    assert!(
        eventually(WAIT, || all_nodes_ready(&client)).await,
        "three Ready nodes"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let create = |p: Pod| {
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), &p).await.unwrap() }
    };

    // No podCIDR yet: the pod waits in ContainerCreating.
    create(pod("waiter", "hollow-1", json!({}))).await;
    let waiting = wait_pod(&pods, "waiter", "ContainerCreating", |p| {
        p.status
            .container_statuses
            .first()
            .and_then(|c| c.state.waiting.as_ref())
            .is_some_and(|w| w.reason == "ContainerCreating")
    })
    .await;
    assert_eq!(waiting.status.phase, "Pending");
    assert!(waiting.status.pod_ip.is_empty());
    assert!(!waiting.status.host_ip.is_empty());
    assert!(waiting.status.start_time.is_some());
    set_pod_cidr(&client, "hollow-1", "10.244.8.0/24").await;
    wait_pod(
        &pods,
        "waiter",
        "Running with an IP from its node's podCIDR",
        |p| container_running(p) && is_pod_ready(p) && ip_in(p, "10.244.8.0/24"),
    )
    .await;

    // A host-network pod needs no podCIDR: it runs with the node's IP.
    create(pod(
        "host-net",
        "hollow-2",
        json!({"spec": {"hostNetwork": true}}),
    ))
    .await;
    let host_net = wait_pod(&pods, "host-net", "Running", container_running).await;
    let node2 = Api::<Node>::all(client.clone())
        .get("hollow-2")
        .await
        .unwrap();
    assert_eq!(host_net.status.pod_ip, node2.internal_ip().unwrap());
    assert!(node2.spec.pod_cidr.is_empty());

    // A plain pod: Running and Ready with an IP from the CIDR.
    set_pod_cidr(&client, "hollow-0", "10.244.7.0/24").await;
    create(pod("web", "hollow-0", json!({}))).await;
    let web = wait_pod(&pods, "web", "Running and Ready", |p| {
        container_running(p) && is_pod_ready(p)
    })
    .await;
    assert!(
        ip_in(&web, "10.244.7.0/24"),
        "IP {} in 10.244.7.0/24",
        web.status.pod_ip
    );
    assert_eq!(web.status.pod_ips[0].ip, web.status.pod_ip);
    let node = Api::<Node>::all(client.clone())
        .get("hollow-0")
        .await
        .unwrap();
    assert_eq!(web.status.host_ip, node.internal_ip().unwrap());
    assert_eq!(web.status.qos_class, "BestEffort");
    for type_ in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        let c = web
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap();
        assert_eq!(c.status, "True", "{type_}");
    }

    // A readiness probe named "fail" never succeeds; one with a delay
    // becomes ready after it.
    let probe = |cmd: &str, delay: i32| {
        json!({"spec": {"containers": [{"name": "app", "image": "registry.local/app:1",
            "readinessProbe": {"exec": {"command": [cmd]}, "initialDelaySeconds": delay, "periodSeconds": 1}}]}})
    };
    create(pod("never-ready", "hollow-0", probe("fail", 0))).await;
    create(pod("slow-ready", "hollow-0", probe("true", 1))).await;
    let slow = wait_pod(&pods, "slow-ready", "Ready", is_pod_ready).await;
    let running_since = slow.status.container_statuses[0]
        .state
        .running
        .as_ref()
        .unwrap()
        .started_at
        .unwrap();
    let ready_since = tug_api::core::pod_ready_since(&slow).unwrap();
    assert!(
        ready_since >= running_since.0 + chrono::Duration::seconds(1),
        "ready after initialDelaySeconds"
    );
    let never = wait_pod(&pods, "never-ready", "Running", container_running).await;
    assert!(
        !is_pod_ready(&never),
        "the fail probe keeps the pod unready"
    );
    let ready = never
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, "ContainersNotReady");

    // A crashing container is restarted, with CrashLoopBackOff in between.
    let crash = json!({"metadata": {"annotations": {
        "fake.tugboat.dev/exit-after": "300ms", "fake.tugboat.dev/exit-code": "1"}}});
    create(pod("crasher", "hollow-0", crash.clone())).await;
    wait_pod(&pods, "crasher", "in CrashLoopBackOff", |p| {
        p.status
            .container_statuses
            .first()
            .and_then(|c| c.state.waiting.as_ref())
            .is_some_and(|w| w.reason == "CrashLoopBackOff")
    })
    .await;
    let crasher = wait_pod(&pods, "crasher", "restarted twice", |p| {
        p.status
            .container_statuses
            .first()
            .is_some_and(|c| c.restart_count >= 2)
    })
    .await;
    let last = crasher.status.container_statuses[0]
        .last_state
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!((last.exit_code, last.reason.as_str()), (1, "Error"));
    assert_eq!(crasher.status.phase, "Running");

    // restartPolicy Never: Failed for a non-zero exit, Succeeded for 0.
    let mut failing = crash.clone();
    merge(&mut failing, json!({"spec": {"restartPolicy": "Never"}}));
    create(pod("fails", "hollow-0", failing)).await;
    let failed = wait_pod(&pods, "fails", "Failed", |p| p.status.phase == "Failed").await;
    let t = failed.status.container_statuses[0]
        .state
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(t.exit_code, 1);
    assert_eq!(failed.status.container_statuses[0].restart_count, 0);
    let succeeding = json!({"metadata": {"annotations": {"fake.tugboat.dev/exit-after": "200ms"}},
        "spec": {"restartPolicy": "Never"}});
    create(pod("succeeds", "hollow-0", succeeding)).await;
    wait_pod(&pods, "succeeds", "Succeeded", |p| {
        p.status.phase == "Succeeded"
    })
    .await;

    // Deleting a pod (default 30 s grace): the kubelet stops it and
    // confirms the deletion at once.
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            let pods = pods.clone();
            async move { matches!(pods.get_opt("web").await, Ok(None)) }
        })
        .await,
        "the deleted pod is removed from the API well before its grace period"
    );

    // Live pods on a node never share an IP, and new pods get one too.
    create(pod("after-delete", "hollow-0", json!({}))).await;
    wait_pod(&pods, "after-delete", "Running", container_running).await;
    let list = pods
        .list(&ListParams::default().fields("spec.nodeName=hollow-0"))
        .await
        .unwrap();
    let live: Vec<&str> = list
        .items
        .iter()
        .filter(|p| p.status.phase == "Running" || p.status.phase == "Pending")
        .map(|p| p.status.pod_ip.as_str())
        .collect();
    let mut unique = live.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), live.len(), "pod IPs {live:?}");

    // A restarted kubelet finds its running pods again: same IP, same
    // container instance, still Ready.
    let before = wait_pod(&pods, "slow-ready", "Ready", is_pod_ready).await;
    kubelet.kill();
    let _kubelet = Kubelet::start(&server.url);
    let after_restart = Api::<Lease>::namespaced(client.clone(), "kube-node-lease");
    let renewed = after_restart
        .get("hollow-0")
        .await
        .unwrap()
        .spec
        .renew_time
        .unwrap();
    wait_for(
        "a lease renewal by the restarted kubelet",
        || async { after_restart.get_opt("hollow-0").await.ok().flatten() },
        |l: &Lease| l.spec.renew_time.is_some_and(|t| t > renewed),
    )
    .await;
    create(pod("after-restart", "hollow-0", json!({}))).await;
    let fresh = wait_pod(&pods, "after-restart", "Running", container_running).await;
    let after = pods.get("slow-ready").await.unwrap();
    assert!(is_pod_ready(&after));
    assert_eq!(after.status.pod_ip, before.status.pod_ip);
    assert_ne!(
        fresh.status.pod_ip, before.status.pod_ip,
        "the recovered IP stays taken"
    );
    assert_eq!(
        after.status.container_statuses[0].state.running,
        before.status.container_statuses[0].state.running,
        "the same container instance"
    );
    assert_eq!(after.status.container_statuses[0].restart_count, 0);
}

/// The waiting reason of the pod's first app container.
fn waiting_reason(pod: &Pod) -> Option<&str> {
    pod.status
        .container_statuses
        .first()
        .and_then(|c| c.state.waiting.as_ref())
        .map(|w| w.reason.as_str())
}

/// Wait for an event about pod `name` with `reason` whose message
/// contains `message`.
async fn wait_event(client: &Client, name: &str, reason: &str, message: &str) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    wait_for(
        &format!("a {reason} event about {name} saying {message:?}"),
        || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items.into_iter().find(|e| {
                e.involved_object.name == name && e.reason == reason && e.message.contains(message)
            })
        },
        |_| true,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_image_pulls_and_exit_reasons() {
    let (server, client) = start_server();
    let _kubelet = Kubelet::start(&server.url);
    assert!(
        eventually(WAIT, || all_nodes_ready(&client)).await,
        "three Ready nodes"
    );
    set_pod_cidr(&client, "hollow-0", "10.244.9.0/24").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let create = |p: Pod| {
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), &p).await.unwrap() }
    };

    // A liveness probe that fails after one success: the container is
    // killed and restarted — under OnFailure too, though the fake's
    // process exits 0 on SIGTERM (a probe kill is a failure).
    create(pod(
        "unhealthy",
        "hollow-0",
        json!({"spec": {"restartPolicy": "OnFailure", "containers": [{
            "name": "app", "image": "registry.local/app:1",
            "livenessProbe": {"exec": {"command": ["fail-after", "1"]},
                              "periodSeconds": 1, "failureThreshold": 1}}]}}),
    ))
    .await;

    // A startup probe that passes on its third run: running but neither
    // started nor ready until then.
    create(pod(
        "slow-start",
        "hollow-0",
        json!({"spec": {"containers": [{
            "name": "app", "image": "registry.local/app:1",
            "startupProbe": {"exec": {"command": ["succeed-after", "2"]},
                             "periodSeconds": 1, "failureThreshold": 10}}]}}),
    ))
    .await;

    // An image that never pulls.
    create(pod(
        "no-image",
        "hollow-0",
        json!({"spec": {"containers": [{"name": "app", "image": "registry.local/app:fail-pull"}]}}),
    ))
    .await;

    // A container the runtime reports OOMKilled.
    create(pod(
        "oom",
        "hollow-0",
        json!({"metadata": {"annotations": {
                "fake.tugboat.dev/exit-after": "300ms",
                "fake.tugboat.dev/exit-code": "137",
                "fake.tugboat.dev/exit-reason": "OOMKilled"}},
               "spec": {"restartPolicy": "Never"}}),
    ))
    .await;

    let starting = wait_pod(&pods, "slow-start", "running", container_running).await;
    let cs = &starting.status.container_statuses[0];
    assert_eq!(cs.started, Some(false), "the startup probe has not passed");
    assert!(!cs.ready && !is_pod_ready(&starting));
    let started = wait_pod(&pods, "slow-start", "Ready", is_pod_ready).await;
    let cs = &started.status.container_statuses[0];
    assert_eq!(cs.started, Some(true));
    assert_eq!(cs.restart_count, 0, "startup failures below the threshold");
    let running_since = cs.state.running.as_ref().unwrap().started_at.unwrap();
    let ready_since = tug_api::core::pod_ready_since(&started).unwrap();
    assert!(
        ready_since >= running_since.0 + chrono::Duration::seconds(2),
        "ready only after the startup probe passed ({running_since:?} -> {ready_since:?})"
    );

    let pulling = wait_pod(&pods, "no-image", "in ErrImagePull", |p| {
        waiting_reason(p) == Some("ErrImagePull")
    })
    .await;
    let w = pulling.status.container_statuses[0]
        .state
        .waiting
        .as_ref()
        .unwrap();
    assert!(w.message.contains("not found"), "{}", w.message);
    assert_eq!(pulling.status.phase, "Pending");
    let backing_off = wait_pod(&pods, "no-image", "in ImagePullBackOff", |p| {
        waiting_reason(p) == Some("ImagePullBackOff")
    })
    .await;
    assert_eq!(
        backing_off.status.container_statuses[0]
            .state
            .waiting
            .as_ref()
            .unwrap()
            .message,
        "Back-off pulling image \"registry.local/app:fail-pull\""
    );
    wait_event(
        &client,
        "no-image",
        "Failed",
        "Failed to pull image \"registry.local/app:fail-pull\": ",
    )
    .await;
    wait_event(
        &client,
        "no-image",
        "BackOff",
        "Back-off pulling image \"registry.local/app:fail-pull\"",
    )
    .await;

    let restarted = wait_pod(&pods, "unhealthy", "restarted twice", |p| {
        p.status
            .container_statuses
            .first()
            .is_some_and(|c| c.restart_count >= 2)
    })
    .await;
    assert_eq!(restarted.status.phase, "Running");
    wait_event(&client, "unhealthy", "Unhealthy", "Liveness probe failed").await;
    let killing = wait_event(
        &client,
        "unhealthy",
        "Killing",
        "Container app failed liveness probe, will be restarted",
    )
    .await;
    assert_eq!(killing.type_, "Normal");

    let oom = wait_pod(&pods, "oom", "Failed", |p| p.status.phase == "Failed").await;
    let t = oom.status.container_statuses[0]
        .state
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_str()), (137, "OOMKilled"));
}
