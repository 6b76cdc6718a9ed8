//! Joining a node with a bootstrap token, end to end: a TLS apiserver (the
//! harness), the controller-manager with the cluster signing CA, the
//! scheduler, and a fake-runtime `tug-kubelet` given only `--master`,
//! `--token` and `--discovery-token-ca-cert-hash`. The node registers
//! Ready with its own `system:node:<name>` certificate and runs a
//! Deployment's pods; a wrong CA hash, an unknown token or an expired
//! one are refused; a node cannot get another node's certificate.
//!
//! Needs the built binaries: `cargo build -p tug-apiserver -p
//! tug-controller-manager -p tug-scheduler -p tug-kubelet`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use tug_api::apps::Deployment;
use tug_api::certificates::{CertificateSigningRequest, KUBE_APISERVER_CLIENT_KUBELET_SIGNER};
use tug_api::core::{Node, Pod};
use tug_api::pki;
use tug_client::bootstrap::{self, TokenOptions};
use tug_client::{Api, Client, Config, KubeconfigOptions, ListParams, PostParams};
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::bins::workspace_binary;
use tug_tests::net::{eventually, wait_for};

const WAIT: Duration = Duration::from_secs(60);

/// A child process killed (and reaped) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &str, args: &[String]) -> Proc {
    Proc(
        Command::new(workspace_binary(binary))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}")),
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The control plane: apiserver (TLS), controller-manager signing with the
/// cluster CA, scheduler; and an admin client.
struct ControlPlane {
    server: ApiServerProcess,
    admin: Client,
    _components: Vec<Proc>,
}

async fn control_plane() -> ControlPlane {
    let server = ApiServerProcess::start(&workspace_binary("tug-apiserver"), Store::Embedded)
        .expect("apiserver starts");
    let data = server.data_dir().to_path_buf();
    let admin = Client::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(server.admin_kubeconfig()),
        ..Default::default()
    })
    .expect("the admin kubeconfig works");
    let cm = spawn(
        "tug-controller-manager",
        &[
            "--kubeconfig".into(),
            path(&data.join("controller-manager.kubeconfig")),
            "--leader-elect=false".into(),
            "--cluster-signing-cert-file".into(),
            path(&data.join("pki/ca.crt")),
            "--cluster-signing-key-file".into(),
            path(&data.join("pki/ca.key")),
        ],
    );
    let scheduler = spawn(
        "tug-scheduler",
        &[
            "--kubeconfig".into(),
            path(&data.join("scheduler.kubeconfig")),
            "--leader-elect=false".into(),
        ],
    );
    ControlPlane {
        server,
        admin,
        _components: vec![cm, scheduler],
    }
}

/// A fake-runtime kubelet joining as `node` with `join_args`.
fn kubelet(root: &Path, node: &str, master: &str, join_args: &[String]) -> Command {
    let mut cmd = Command::new(workspace_binary("tug-kubelet"));
    cmd.args([
        "--runtime",
        "fake",
        "--node-name",
        node,
        "--fake-start-latency",
        "100ms",
        "--node-status-update-frequency",
        "1s",
        "--master",
        master,
        "--root-dir",
    ])
    .arg(root)
    .args(join_args)
    .env_remove("KUBECONFIG")
    .stdout(Stdio::null());
    cmd
}

fn token_args(token: &str, hash: &str) -> Vec<String> {
    vec![
        "--token".into(),
        token.into(),
        "--discovery-token-ca-cert-hash".into(),
        hash.into(),
    ]
}

/// Run a kubelet expected to give up; its exit status and stderr.
fn run_to_failure(mut cmd: Command) -> (bool, String) {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .expect("the kubelet runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_token_joins_a_working_node() {
    let cp = control_plane().await;
    let hash = pki::ca_cert_hash(&cp.server.ca_pem().unwrap()).unwrap();
    let token = bootstrap::create_token(&cp.admin, &TokenOptions::default())
        .await
        .expect("token created");
    let root = tempfile::tempdir().unwrap();
    let node = format!("joiner-{}", std::process::id());
    let _kubelet = Proc(
        kubelet(
            root.path(),
            &node,
            &cp.server.secure_url,
            &token_args(&token.to_string(), &hash),
        )
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap(),
    );

    // The node registers and becomes Ready.
    let nodes: Api<Node> = Api::all(cp.admin.clone());
    wait_for("the joined node to be Ready", WAIT, || {
        let nodes = nodes.clone();
        let node = node.clone();
        async move {
            let n = nodes.get_opt(&node).await.map_err(|e| e.to_string())?;
            let ready = n.as_ref().is_some_and(|n| {
                n.status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            ready.then_some(()).ok_or_else(|| format!("{n:?}"))
        }
    })
    .await;

    // Its credential is its own, written privately.
    let kubeconfig = root.path().join("kubeconfig");
    let config = Config::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(kubeconfig.clone()),
        ..Default::default()
    })
    .unwrap();
    let identity = String::from_utf8(config.identity_pem.clone().unwrap()).unwrap();
    let der = first_cert_der(&identity);
    let subject = pki::cert_subject(&der).unwrap();
    assert_eq!(subject.common_name, format!("system:node:{node}"));
    assert_eq!(subject.organizations, vec!["system:nodes"]);
    for f in [
        kubeconfig.clone(),
        root.path().join("pki/kubelet-client-current.pem"),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }

    // A Deployment's pods run on it.
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "on-joined", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "on-joined"}},
            "template": {"metadata": {"labels": {"app": "on-joined"}},
                "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(cp.admin.clone(), "default")
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(cp.admin.clone(), "default");
    let running = eventually(WAIT, || {
        let pods = pods.clone();
        let node = node.clone();
        async move {
            pods.list(&ListParams::default().labels("app=on-joined"))
                .await
                .is_ok_and(|l| {
                    l.items.len() == 2
                        && l.items
                            .iter()
                            .all(|p| p.spec.node_name == node && p.status.phase == "Running")
                })
        }
    })
    .await;
    assert!(running, "the Deployment's pods run on the joined node");

    // The node's credential cannot get another node's certificate.
    let node_client = Client::new(config).unwrap();
    let (csr_pem, _key) =
        pki::new_client_csr("system:node:someone-else", &["system:nodes"]).unwrap();
    let mut csr = CertificateSigningRequest::default();
    csr.metadata.name = format!("steal-{}", std::process::id());
    csr.spec.request = base64::engine::general_purpose::STANDARD.encode(csr_pem);
    csr.spec.signer_name = KUBE_APISERVER_CLIENT_KUBELET_SIGNER.into();
    csr.spec.usages = vec!["digital signature".into(), "client auth".into()];
    let created = Api::<CertificateSigningRequest>::all(node_client)
        .create(&PostParams::default(), &csr)
        .await
        .expect("a node may create CSRs");
    assert_eq!(
        created.spec.username,
        format!("system:node:{node}"),
        "the requester is recorded, not claimed"
    );
    // Its own renewal request would be approved within a second or two;
    // this one must stay pending.
    let csrs: Api<CertificateSigningRequest> = Api::all(cp.admin.clone());
    let approved = eventually(Duration::from_secs(5), || {
        let csrs = csrs.clone();
        let name = csr.metadata.name.clone();
        async move { csrs.get(&name).await.is_ok_and(|c| c.is_approved()) }
    })
    .await;
    assert!(!approved, "a CSR for another node's name is not approved");
}

/// The DER of the first certificate of a PEM bundle.
fn first_cert_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
        .unwrap()
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hashes_and_bad_tokens_are_refused() {
    let cp = control_plane().await;
    let hash = pki::ca_cert_hash(&cp.server.ca_pem().unwrap()).unwrap();
    let token = bootstrap::create_token(&cp.admin, &TokenOptions::default())
        .await
        .unwrap();
    let master = cp.server.secure_url.clone();
    let fails = |name: &str, args: Vec<String>| {
        let root = tempfile::tempdir().unwrap();
        let (ok, stderr) = run_to_failure(kubelet(root.path(), name, &master, &args));
        assert!(!ok, "{name}: the kubelet must exit with an error");
        assert!(
            !root.path().join("kubeconfig").exists(),
            "{name}: no credential is written"
        );
        stderr
    };

    // A CA that is not the cluster's.
    let other = pki::new_ca("not-the-cluster").unwrap();
    let wrong = pki::ca_cert_hash(&other.cert_pem).unwrap();
    let stderr = fails("wrong-hash", token_args(&token.to_string(), &wrong));
    assert!(stderr.contains("refusing to trust it"), "{stderr}");
    assert!(
        stderr.contains(&hash),
        "the message names the CA's real hash: {stderr}"
    );

    // A token nobody created.
    let unknown = bootstrap::BootstrapToken::generate().to_string();
    let stderr = fails("unknown-token", token_args(&unknown, &hash));
    assert!(
        stderr.contains("Unauthorized") || stderr.contains("401"),
        "{stderr}"
    );

    // An expired token, and a deleted one.
    let expired = bootstrap::BootstrapToken::generate();
    let mut secret = bootstrap::token_secret(
        &expired,
        &TokenOptions::default(),
        chrono::Utc::now() - chrono::TimeDelta::days(2),
    )
    .unwrap();
    secret.metadata.resource_version.clear();
    Api::<tug_api::core::Secret>::namespaced(cp.admin.clone(), "kube-system")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let stderr = fails("expired-token", token_args(&expired.to_string(), &hash));
    assert!(
        stderr.contains("Unauthorized") || stderr.contains("401"),
        "{stderr}"
    );
    bootstrap::delete_token(&cp.admin, &token.id).await.unwrap();
    let stderr = fails("deleted-token", token_args(&token.to_string(), &hash));
    assert!(
        stderr.contains("Unauthorized") || stderr.contains("401"),
        "{stderr}"
    );

    // The token cleaner removes the expired token's Secret.
    let secrets: Api<tug_api::core::Secret> = Api::namespaced(cp.admin.clone(), "kube-system");
    let cleaned = eventually(WAIT, || {
        let secrets = secrets.clone();
        let name = expired.secret_name();
        async move { secrets.get_opt(&name).await.is_ok_and(|s| s.is_none()) }
    })
    .await;
    assert!(cleaned, "the expired token is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tugctl_token_create_prints_a_token_that_authenticates() {
    let cp = control_plane().await;
    let out = Command::new(workspace_binary("tugctl"))
        .args(["--kubeconfig"])
        .arg(cp.server.admin_kubeconfig())
        .args(["token", "create", "--print-join-command", "--ttl", "1h"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let hash = pki::ca_cert_hash(&cp.server.ca_pem().unwrap()).unwrap();
    assert!(
        line.contains(&format!("--discovery-token-ca-cert-hash {hash}")),
        "{line}"
    );
    assert!(
        line.contains(&format!("--master {}", cp.server.secure_url)),
        "{line}"
    );
    let token = line
        .split_whitespace()
        .skip_while(|w| *w != "--token")
        .nth(1)
        .unwrap()
        .to_string();
    // The token authenticates: as system:bootstrap:<id>, it may create CSRs.
    let ca = bootstrap::discover(&cp.server.secure_url, &bootstrap::CaPin::Hashes(vec![hash]))
        .await
        .unwrap();
    let mut config = Config::new(&cp.server.secure_url).unwrap();
    config.root_cert_pem = Some(ca.into_bytes());
    config.token = Some(token.clone());
    let client = Client::new(config).unwrap();
    let (csr_pem, _key) = pki::new_client_csr("system:node:via-tugctl", &["system:nodes"]).unwrap();
    let mut csr = CertificateSigningRequest::default();
    csr.metadata.generate_name = "csr-".into();
    csr.spec.request = base64::engine::general_purpose::STANDARD.encode(csr_pem);
    csr.spec.signer_name = KUBE_APISERVER_CLIENT_KUBELET_SIGNER.into();
    csr.spec.usages = vec!["digital signature".into(), "client auth".into()];
    let created = Api::<CertificateSigningRequest>::all(client)
        .create(&PostParams::default(), &csr)
        .await
        .expect("the bootstrap token authenticates");
    let id = token.split('.').next().unwrap();
    assert_eq!(created.spec.username, format!("system:bootstrap:{id}"));
    let listed = Command::new(workspace_binary("tugctl"))
        .args(["--kubeconfig"])
        .arg(cp.server.admin_kubeconfig())
        .args(["token", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&format!("{id}.<secret>")));
}
