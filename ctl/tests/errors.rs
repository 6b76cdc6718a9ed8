//! Every error path prints one readable line on stderr and exits non-zero.

mod common;

use common::{tugctl_command, Cluster};

const INVALID_SECOND_DOCUMENT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
data:
  a: \"1\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: nginx}]
";

#[test]
fn invalid_manifest_names_file_document_object_and_field() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yaml");
    std::fs::write(&path, INVALID_SECOND_DOCUMENT).unwrap();
    let file = path.to_str().unwrap();
    for verb in ["create", "apply"] {
        // Only the invalid document fails each time.
        c.tugctl(&["delete", "configmap", "fine", "--ignore-not-found"])
            .ok();
        let run = c.tugctl(&[verb, "-f", file]);
        assert_eq!(
            run.one_error_line(),
            format!(
                "{file}: document 2 (Deployment web): spec.replicas: Invalid value: -1: must be \
                 greater than or equal to 0"
            )
        );
    }
    // The valid first document was still applied.
    assert!(c.get("v1", "ConfigMap", "default", "fine").is_some());
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let line = c.tugctl(&["apply", "-f", file]).one_error_line();
    assert!(
        line.starts_with(&format!("{file}: document 1: line 5, column 2: ")),
        "{line}"
    );
}

#[test]
fn unknown_kind_in_a_manifest_names_its_origin() {
    let c = Cluster::start();
    let run = c.tugctl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Frob\nmetadata:\n  name: x\n",
    );
    assert_eq!(
        run.one_error_line(),
        "STDIN: document 1 (Frob x): no matches for kind \"Frob\" in version \"v1\""
    );
}

#[test]
fn not_found_is_kubectls_error_from_server() {
    let c = Cluster::start();
    for args in [
        &["get", "deploy", "nope"][..],
        &["get", "deployments.apps/nope"],
        &["delete", "deployment", "nope"],
        &["describe", "deploy", "nope"],
        &["scale", "deploy/nope", "--replicas=1"],
        &["rollout", "status", "deploy/nope"],
        &["label", "deploy", "nope", "a=b"],
    ] {
        let run = c.tugctl(args);
        assert_eq!(
            run.one_error_line(),
            "Error from server (NotFound): deployments.apps \"nope\" not found",
            "{args:?}"
        );
    }
    // Other names still get done.
    c.tugctl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: here\n",
    )
    .ok();
    let run = c.tugctl(&["get", "cm", "nope", "here", "-o", "name"]);
    assert_eq!(run.stdout, "configmap/here\n");
    assert_eq!(
        run.one_error_line(),
        "Error from server (NotFound): configmaps \"nope\" not found"
    );
}

#[test]
fn unknown_resource_type() {
    let c = Cluster::start();
    for args in [
        &["get", "foo"][..],
        &["delete", "foo", "x"],
        &["get", "pods,foo"],
    ] {
        let run = c.tugctl(args);
        assert_eq!(
            run.one_error_line(),
            "error: the server doesn't have a resource type \"foo\"",
            "{args:?}"
        );
    }
}

#[test]
fn connection_refused_names_the_server_and_how_to_start_one() {
    let port = tug_tests::net::free_port();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tugctl_command(home.path());
    cmd.args(["-s", &format!("http://127.0.0.1:{port}"), "get", "pods"]);
    let run = common::run(cmd, "");
    assert_eq!(
        run.one_error_line(),
        format!(
            "The connection to the server 127.0.0.1:{port} was refused - did you specify the right \
             host or port? Start one with: tugctl cluster up, or tug-apiserver --insecure-port {port}"
        )
    );
    // With no kubeconfig and no --server, tugctl talks to 127.0.0.1:8080
    // as kubectl does (checked only when nothing listens there).
    if std::net::TcpListener::bind("127.0.0.1:8080").is_ok() {
        let mut cmd = tugctl_command(home.path());
        cmd.args(["get", "pods"]);
        let line = common::run(cmd, "").one_error_line();
        assert!(
            line.starts_with("The connection to the server 127.0.0.1:8080 was refused"),
            "{line}"
        );
    }
}

#[test]
fn usage_errors_are_one_line() {
    let c = Cluster::start();
    let run = c.tugctl(&["get", "pods", "-o", "bogus"]);
    assert!(run
        .one_error_line()
        .starts_with("error: unable to match a printer suitable for the output format \"bogus\""));
    let run = c.tugctl(&["delete", "pods"]);
    assert_eq!(
        run.one_error_line(),
        "error: resource(s) were provided, but no name was specified"
    );
    let run = c.tugctl(&["apply", "-f", "/does/not/exist.yaml"]);
    assert_eq!(
        run.one_error_line(),
        "the path \"/does/not/exist.yaml\" does not exist"
    );
}
