//! logs (the exact pods/log request, against a stand-in server, and the
//! real apiserver's answer today), version, api-resources, config and
//! completion.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{cells, Cluster};
use serde_json::json;

/// A stand-in API server that answers GET of pod `p` (containers a, b)
/// and of its log, recording every request target.
fn fake_log_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            record.lock().unwrap().push(target.clone());
            let (content_type, body) = if target.contains("/log") {
                ("text/plain", "line 1\nline 2\n".to_string())
            } else {
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "namespace": "default"},
                    "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
                ("application/json", pod.to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
            let _ = stream.read(&mut [0u8; 1]);
        }
    });
    (url, seen)
}

#[test]
fn logs_asks_for_the_log_subresource_and_streams_it() {
    let (url, seen) = fake_log_server();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::tugctl_command(home.path());
    cmd.args([
        "-s", &url, "logs", "p", "-c", "b", "-f", "-p", "--tail", "5",
    ]);
    let run = common::run(cmd, "").ok();
    assert_eq!(run.stdout, "line 1\nline 2\n");
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        "/api/v1/namespaces/default/pods/p/log?container=b&follow=true&previous=true&tailLines=5"
    );

    let mut cmd = common::tugctl_command(home.path());
    cmd.args(["-s", &url, "logs", "pod/p"]);
    let run = common::run(cmd, "").ok();
    assert_eq!(run.stderr, "Defaulted container \"a\" out of: a, b\n");
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        "/api/v1/namespaces/default/pods/p/log?container=a"
    );

    let mut cmd = common::tugctl_command(home.path());
    cmd.args(["-s", &url, "logs", "p", "-c", "zz"]);
    assert_eq!(
        common::run(cmd, "").one_error_line(),
        "error: container zz is not valid for pod p"
    );
}

#[test]
fn logs_of_an_unscheduled_or_missing_pod_say_why() {
    let c = Cluster::start();
    c.create(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    );
    let line = c.tugctl(&["logs", "p"]).one_error_line();
    assert_eq!(
        line,
        "Error from server (BadRequest): pod p does not have a host assigned"
    );
    let line = c.tugctl(&["logs", "nope"]).one_error_line();
    assert_eq!(
        line,
        "Error from server (NotFound): pods \"nope\" not found"
    );
}

#[test]
fn version_and_api_resources() {
    let c = Cluster::start();
    let out = c.tugctl(&["version"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("Client Version: v{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(lines[1].starts_with("Server Version: v1."), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&c.tugctl(&["version", "-o", "json"]).ok().stdout).unwrap();
    assert!(v["serverVersion"]["gitVersion"].is_string());

    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::tugctl_command(home.path());
    cmd.args([
        "-s",
        &format!("http://127.0.0.1:{}", tug_tests::net::free_port()),
        "version",
    ]);
    let run = common::run(cmd, "");
    assert!(run.stdout.starts_with("Client Version: "));
    assert!(run
        .one_error_line()
        .starts_with("The connection to the server 127.0.0.1:"));

    let out = c.tugctl(&["api-resources"]).ok().stdout;
    let rows: Vec<Vec<String>> = out.lines().map(cells).collect();
    assert_eq!(
        rows[0],
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert!(rows.contains(&vec![
        "deployments".into(),
        "deploy".into(),
        "apps/v1".into(),
        "true".into(),
        "Deployment".into()
    ]));
    assert!(rows.contains(&vec![
        "nodes".into(),
        "no".into(),
        "v1".into(),
        "false".into(),
        "Node".into()
    ]));
    let names = c
        .tugctl(&["api-resources", "--namespaced=false", "-o", "name"])
        .ok()
        .stdout;
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names[..2], ["namespaces", "nodes"], "core first");
    for cluster_scoped in [
        "certificatesigningrequests.certificates.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
    ] {
        assert!(names.contains(&cluster_scoped), "{names:?}");
    }
    assert!(!names
        .iter()
        .any(|n| n.starts_with("pods") || n.starts_with("roles")));
}

const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: SERVER
- name: secure
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Q0EgZGF0YQ==
contexts:
- name: a
  context:
    cluster: local
    user: admin
- name: b
  context:
    cluster: local
    user: admin
    namespace: kube-system
current-context: a
preferences: {}
users:
- name: admin
  user:
    token: s3cret
";

#[test]
fn config_view_and_use_context() {
    let c = Cluster::start();
    let path = c.home.path().join("config");
    std::fs::write(&path, KUBECONFIG.replace("SERVER", &c.server.url)).unwrap();
    let file = path.to_str().unwrap();
    let tug = |args: &[&str]| {
        let mut cmd = c.command();
        cmd.arg("--kubeconfig").arg(file).args(args);
        common::run(cmd, "")
    };
    let view = tug(&["config", "view"]).ok().stdout;
    assert!(
        view.contains("certificate-authority-data: DATA+OMITTED\n"),
        "{view}"
    );
    assert!(view.contains("token: REDACTED\n"), "{view}");
    assert!(!view.contains("s3cret"));
    assert!(view.contains("current-context: a\n"), "{view}");
    assert!(tug(&["config", "view", "--raw"])
        .ok()
        .stdout
        .contains("token: s3cret"));
    let minified = tug(&["config", "view", "--minify", "--context", "b"])
        .ok()
        .stdout;
    assert!(
        minified.contains("name: b\n") && !minified.contains("name: a\n"),
        "{minified}"
    );

    assert_eq!(tug(&["config", "current-context"]).ok().stdout, "a\n");
    assert_eq!(
        tug(&["config", "use-context", "b"]).ok().stdout,
        "Switched to context \"b\".\n"
    );
    assert_eq!(tug(&["config", "current-context"]).ok().stdout, "b\n");
    assert!(
        std::fs::read_to_string(&path).unwrap().contains("s3cret"),
        "the rest is kept"
    );
    let run = tug(&["config", "use-context", "nope"]);
    assert_eq!(
        run.one_error_line(),
        "error: no context exists with the name: \"nope\""
    );

    // The context's namespace and server are used.
    c.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sys", "namespace": "kube-system"}}));
    assert_eq!(
        tug(&["get", "cm", "-o", "name"]).ok().stdout,
        "configmap/sys\n"
    );
    assert_eq!(
        tug(&[
            "--context",
            "a",
            "get",
            "cm",
            "sys",
            "-o",
            "name",
            "-n",
            "kube-system"
        ])
        .ok()
        .stdout,
        "configmap/sys\n"
    );
}

#[test]
fn completion_scripts() {
    let home = tempfile::tempdir().unwrap();
    for (shell, marker) in [("bash", "_tugctl()"), ("zsh", "#compdef tugctl")] {
        let mut cmd = common::tugctl_command(home.path());
        cmd.args(["completion", shell]);
        let run = common::run(cmd, "").ok();
        assert!(run.stdout.contains(marker), "{shell}");
        assert!(run.stdout.contains("rollout"), "{shell}");
    }
}
