//! The kubelet's HTTPS server in a whole chain: a real apiserver process
//! (with its generated cluster CA), a node agent in this process
//! (registration, status, pod workers) whose server listens on a loopback
//! port and is registered as the Node's kubelet endpoint, and `pods/log`
//! requests through the apiserver, which presents its kubelet client
//! certificate. Directly, an admin's certificate is served, a client
//! without one is refused at the handshake, and a plain user's is 403.
//!
//! The node runs its pods with the fake runtime (no root needed), whose
//! containers start, exit on schedule (`fake.tugboat.dev/exit-after`) and
//! restart as real ones do; the test plays the containers' output by
//! writing their CRI-format log files, which the runtime names through
//! `Runtime::container_log` as the runc runtime does for its own.
//!
//! Needs the built apiserver: `cargo build -p tug-apiserver`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clap::Parser;
use futures::StreamExt;
use serde_json::json;
use tug_api::core::{Container, Node, Pod, Probe};
use tug_client::{Api, Client, Config, LogParams, Patch, PatchParams, PostParams};
use tug_kubelet::clock::system_clock;
use tug_kubelet::flags::Flags;
use tug_kubelet::node::NodeCtx;
use tug_kubelet::runtime::fake::FakeRuntime;
use tug_kubelet::runtime::{
    ChangeNotifier, ProbeOutcome, Runtime, RuntimeError, RuntimePod, SandboxNetwork,
};
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::bins::workspace_binary;
use tug_tests::net::eventually;

const WAIT: Duration = Duration::from_secs(30);
const NODE: &str = "log-node";

/// The fake runtime, with log files under `dir` as
/// `<uid>/<container>/<attempt>.log`.
struct FileLogs {
    inner: FakeRuntime,
    dir: PathBuf,
}

#[async_trait]
impl Runtime for FileLogs {
    fn version(&self) -> String {
        self.inner.version()
    }
    async fn run_pod_sandbox(&self, pod: &Pod, net: SandboxNetwork) -> Result<(), RuntimeError> {
        self.inner.run_pod_sandbox(pod, net).await
    }
    async fn start_container(&self, pod: &Pod, c: &Container) -> Result<(), RuntimeError> {
        self.inner.start_container(pod, c).await
    }
    async fn stop_pod(&self, uid: &str, grace: Duration) {
        self.inner.stop_pod(uid, grace).await
    }
    async fn remove_pod(&self, uid: &str) {
        self.inner.remove_pod(uid).await
    }
    async fn pod_status(&self, uid: &str) -> Option<RuntimePod> {
        self.inner.pod_status(uid).await
    }
    async fn list_pods(&self) -> Vec<String> {
        self.inner.list_pods().await
    }
    async fn probe(&self, pod: &Pod, c: &Container, p: &Probe) -> ProbeOutcome {
        self.inner.probe(pod, c, p).await
    }
    async fn recover_pod(&self, pod: &Pod, net: SandboxNetwork) {
        self.inner.recover_pod(pod, net).await
    }
    async fn kill_container(&self, uid: &str, c: &str, grace: Duration) {
        self.inner.kill_container(uid, c, grace).await
    }
    fn set_change_notifier(&self, notify: ChangeNotifier) {
        self.inner.set_change_notifier(notify)
    }
    fn container_log(&self, uid: &str, container: &str, attempt: u32) -> Option<PathBuf> {
        Some(log_path(&self.dir, uid, container, attempt))
    }
}

fn log_path(dir: &std::path::Path, uid: &str, container: &str, attempt: u32) -> PathBuf {
    dir.join(uid).join(container).join(format!("{attempt}.log"))
}

/// Append CRI lines (`(stream, tag, text)`) to a log file, stamped now.
fn write_log(path: &std::path::Path, lines: &[(&str, &str, &str)]) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for (stream, tag, text) in lines {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        writeln!(f, "{now} {stream} {tag} {text}").unwrap();
    }
}

/// An HTTPS client presenting `identity` (certificate and key, PEM), not
/// verifying the kubelet's self-signed serving certificate (as the
/// apiserver does not).
fn https_client(identity: Option<&[u8]>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().danger_accept_invalid_certs(true);
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem).unwrap());
    }
    builder.build().unwrap()
}

async fn read_all<T: AsRef<[u8]>, E: std::fmt::Debug>(
    mut s: impl futures::Stream<Item = Result<T, E>> + Unpin,
) -> String {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(chunk.unwrap().as_ref());
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_served_through_the_apiserver_from_the_kubelet() {
    let server = ApiServerProcess::start(&workspace_binary("tug-apiserver"), Store::Embedded)
        .expect("apiserver starts");
    let client = Client::new(Config::new(&server.url).unwrap()).unwrap();
    let logs_dir = tempfile::tempdir().unwrap();

    // The node: fake runtime, its server on a free loopback port.
    let flags = Flags::try_parse_from([
        "tug-kubelet",
        "--runtime",
        "fake",
        "--node-name",
        NODE,
        "--node-ip",
        "127.0.0.1",
        "--fake-start-latency",
        "0s",
        "--fake-crash-backoff",
        "1s",
        "--node-status-update-frequency",
        "1s",
    ])
    .unwrap();
    let mut config = flags.node_configs().unwrap().remove(0);
    let listener = tug_kubelet::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    config.kubelet_port = listener.local_addr().unwrap().port();
    let port = config.kubelet_port;
    let ca_pem = server.ca_pem().unwrap();
    let serving = tug_api::pki::self_signed_serving(
        NODE,
        &[NODE.to_string()],
        &["127.0.0.1".parse().unwrap()],
        Duration::from_secs(3600),
    )
    .unwrap();
    let tls = tug_kubelet::server::tls::server_config(&serving, &ca_pem).unwrap();
    let runtime = Arc::new(FileLogs {
        inner: FakeRuntime::new(flags.fake_config()),
        dir: logs_dir.path().to_path_buf(),
    });
    let ctx = Arc::new(NodeCtx::new(
        config,
        client.clone(),
        runtime,
        system_clock(),
    ));
    let agent = tokio::spawn(tug_kubelet::node::run(ctx.clone()));
    let http = tokio::spawn(tug_kubelet::server::serve(listener, ctx.clone(), tls));

    // The node registers with its kubelet endpoint; give it a podCIDR.
    let nodes: Api<Node> = Api::all(client.clone());
    let registered = eventually(WAIT, || {
        let nodes = nodes.clone();
        async move {
            nodes.get_opt(NODE).await.ok().flatten().is_some_and(|n| {
                n.status.daemon_endpoints.kubelet_endpoint.map(|e| e.port) == Some(i32::from(port))
            })
        }
    })
    .await;
    assert!(registered, "the node reports its kubelet port");
    nodes
        .patch(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"podCIDR": "10.77.0.0/24", "podCIDRs": ["10.77.0.0/24"]}}),
            ),
        )
        .await
        .unwrap();

    // A container that runs 6 s at a time and is restarted.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "talker", "annotations": {"fake.tugboat.dev/exit-after": "6s"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "busybox"}]}
    }))
    .unwrap();
    let uid = pods
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
        .metadata
        .uid;
    let running_attempt = |want: i32| {
        let pods = pods.clone();
        async move {
            pods.get("talker").await.ok().is_some_and(|p| {
                p.status.container_statuses.first().is_some_and(|c| {
                    c.restart_count == want
                        && c.state.running.is_some()
                        && !c.container_id.is_empty()
                })
            })
        }
    };
    assert!(
        eventually(WAIT, || running_attempt(0)).await,
        "the pod runs"
    );
    let first = log_path(logs_dir.path(), &uid, "app", 0);
    write_log(
        &first,
        &[("stdout", "F", "hello"), ("stderr", "F", "warming up")],
    );

    // The kubelet's own endpoints, with the admin's certificate.
    let base = format!("https://127.0.0.1:{port}");
    let admin = Config::from_kubeconfig(&tug_client::KubeconfigOptions {
        kubeconfig: Some(server.admin_kubeconfig()),
        ..Default::default()
    })
    .unwrap();
    let http_client = https_client(admin.identity_pem.as_deref());
    let health = http_client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let list: serde_json::Value = http_client
        .get(format!("{base}/pods"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"][0]["metadata"]["name"], "talker");
    let missing = http_client
        .get(format!("{base}/containerLogs/default/nobody/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["kind"], "Status");

    // No certificate: the handshake is refused. A user of the cluster CA
    // that RBAC does not let `get nodes/proxy`: 403.
    let anonymous = https_client(None)
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(anonymous.is_err(), "no client certificate, no connection");
    let ca = tug_api::pki::Ca::from_pem(
        &ca_pem,
        &std::fs::read_to_string(server.data_dir().join("pki/ca.key")).unwrap(),
    )
    .unwrap();
    let jane = ca
        .issue_client("jane", &["developers"], Duration::from_secs(3600))
        .unwrap();
    let jane_pem = format!("{}{}", jane.cert_pem, jane.key_pem);
    let denied = https_client(Some(jane_pem.as_bytes()))
        .get(format!("{base}/containerLogs/default/talker/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    let status: serde_json::Value = denied.json().await.unwrap();
    assert_eq!(
        status["message"],
        "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy)"
    );

    // Through the apiserver: the whole log, the tail, with timestamps.
    let all = pods.logs("talker", &LogParams::default()).await.unwrap();
    assert_eq!(all, "hello\nwarming up\n");
    let tail = LogParams {
        tail_lines: Some(1),
        timestamps: true,
        ..Default::default()
    };
    let last = pods.logs("talker", &tail).await.unwrap();
    let (stamp, text) = last.split_once(' ').unwrap();
    assert_eq!(text, "warming up\n");
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "{last:?}"
    );

    // Follow: lines arrive as written, and the stream ends once the
    // container has exited and its file is drained.
    let follow = LogParams {
        follow: true,
        ..Default::default()
    };
    let mut stream = pods.log_stream("talker", &follow).await.unwrap();
    let mut seen = String::new();
    while seen != "hello\nwarming up\n" {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    write_log(
        &first,
        &[("stdout", "P", "half a "), ("stdout", "F", "line")],
    );
    while seen != "hello\nwarming up\nhalf a line\n" {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the new line arrives while the container runs")
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let rest = tokio::time::timeout(WAIT, read_all(stream))
        .await
        .expect("the follow ends when the container exits");
    assert_eq!(rest, "");

    // Restarted: the previous instance's log, and the new one's.
    assert!(
        eventually(WAIT, || running_attempt(1)).await,
        "the container restarted"
    );
    let previous = LogParams {
        previous: true,
        ..Default::default()
    };
    assert_eq!(
        pods.logs("talker", &previous).await.unwrap(),
        "hello\nwarming up\nhalf a line\n"
    );
    write_log(
        &log_path(logs_dir.path(), &uid, "app", 1),
        &[("stdout", "F", "second life")],
    );
    assert_eq!(
        pods.logs("talker", &LogParams::default()).await.unwrap(),
        "second life\n"
    );

    // The kubelet refusing a request: its 400 passes through as a Status.
    let e = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/namespaces/default/pods/talker/log?limitBytes=0",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(e.status().as_u16(), 400);
    let status: serde_json::Value = e.json().await.unwrap();
    assert_eq!(status["message"], "limitBytes must be greater than 0");

    agent.abort();
    http.abort();
}
