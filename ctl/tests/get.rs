//! `tugctl get`: kubectl's columns for pods, deployments and services,
//! `-o name|jsonpath|wide`, `-A`, `--show-labels`, and `get -w` as objects
//! change, across an apiserver restart.

mod common;

use common::{cells, Cluster};
use serde_json::json;

/// A pod with two containers, one ready, three restarts in all.
fn make_pod(c: &Cluster) {
    c.create(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]}}));
    c.merge_patch(
        "v1",
        "Pod",
        "default",
        "web-1",
        true,
        json!({"status": {
        "phase": "Running", "podIP": "10.244.0.5",
        "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 1, "image": "nginx", "imageID": "",
             "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}},
            {"name": "b", "ready": false, "restartCount": 2, "image": "busybox", "imageID": "",
             "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}}),
    );
}

#[test]
fn tables_have_kubectls_columns() {
    let c = Cluster::start();
    make_pod(&c);
    let web = common::workspace().join("manifests/web.yaml");
    c.tugctl(&["apply", "-f", web.to_str().unwrap()]).ok();
    c.merge_patch("apps/v1", "Deployment", "default", "web", true,
        json!({"status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}}));

    let out = c.tugctl(&["get", "pods"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert_eq!(&cells(lines[1])[..4], ["web-1", "1/2", "Running", "3"]);
    assert_eq!(lines.len(), 2);

    let out = c.tugctl(&["get", "po", "-o", "wide"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    assert_eq!(
        &cells(lines[1])[5..],
        ["10.244.0.5", "<none>", "<none>", "<none>"]
    );

    let out = c.tugctl(&["get", "deployments"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(&cells(lines[1])[..4], ["web", "2/6", "3", "2"]);

    let out = c
        .tugctl(&["get", "deploy", "web", "-o", "wide"])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert_eq!(&cells(lines[1])[5..], ["web", "busybox:1.36", "app=web"]);

    let out = c.tugctl(&["get", "svc"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let row = cells(lines[1]);
    assert_eq!(
        (
            row[0].as_str(),
            row[1].as_str(),
            row[3].as_str(),
            row[4].as_str()
        ),
        ("web", "ClusterIP", "<none>", "80/TCP")
    );
    assert!(row[2].starts_with("10."), "{row:?}");

    // -A adds NAMESPACE first; --show-labels adds LABELS last.
    let out = c
        .tugctl(&["get", "pods", "-A", "--show-labels"])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "LABELS"
        ]
    );
    assert_eq!(cells(lines[1])[0], "default");
    assert_eq!(cells(lines[1])[6], "app=web");

    // Several kinds: one table each, names qualified by kind.
    let out = c.tugctl(&["get", "deploy,svc"]).ok().stdout;
    assert!(out.contains("\ndeployment.apps/web "), "{out}");
    assert!(out.contains("\nservice/web "), "{out}");
    assert!(
        out.contains("\n\nNAME "),
        "tables are separated by a blank line: {out}"
    );
}

#[test]
fn name_jsonpath_yaml_and_empty_lists() {
    let c = Cluster::start();
    let run = c.tugctl(&["get", "configmaps"]).ok();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "No resources found in default namespace.\n");
    let run = c.tugctl(&["get", "nodes"]).ok();
    assert_eq!(run.stderr, "No resources found\n");

    for name in ["a", "b"] {
        c.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": {"set": name}},
            "data": {"k": name}}));
    }
    assert_eq!(
        c.tugctl(&["get", "cm", "-o", "name"]).ok().stdout,
        "configmap/a\nconfigmap/b\n"
    );
    assert_eq!(
        c.tugctl(&["get", "cm", "-l", "set=b", "-o", "name"])
            .ok()
            .stdout,
        "configmap/b\n"
    );
    assert_eq!(
        c.tugctl(&[
            "get",
            "cm",
            "--field-selector",
            "metadata.name=a",
            "-o",
            "name"
        ])
        .ok()
        .stdout,
        "configmap/a\n"
    );
    assert_eq!(
        c.tugctl(&["get", "cm", "-o", "jsonpath={.items[*].metadata.name}"])
            .ok()
            .stdout,
        "a b"
    );
    assert_eq!(
        c.tugctl(&["get", "configmap/b", "-o", "jsonpath={.data.k}"])
            .ok()
            .stdout,
        "b"
    );
    let yaml = c.tugctl(&["get", "cm", "a", "-o", "yaml"]).ok().stdout;
    assert!(
        yaml.starts_with("apiVersion: v1\ndata:\n  k: a\nkind: ConfigMap\n"),
        "{yaml}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&c.tugctl(&["get", "cm", "-o", "json"]).ok().stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[test]
fn watch_prints_a_row_per_change_and_survives_a_restart() {
    let mut c = Cluster::start();
    let cm = |name: &str, v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"}, "data": {"v": v}})
    };
    c.create(cm("first", "1"));

    let mut w = c.spawn(&["get", "configmaps", "-w"]);
    let header = w.expect_line("header", |l| l.starts_with("NAME"));
    assert_eq!(cells(&header), ["NAME", "DATA", "AGE"]);
    w.expect_line("the listed object", |l| {
        cells(l).first().map(String::as_str) == Some("first")
    });

    c.create(cm("second", "1"));
    w.expect_line("second added", |l| l.starts_with("second "));
    c.merge_patch(
        "v1",
        "ConfigMap",
        "default",
        "second",
        false,
        json!({"data": {"w": "2"}}),
    );
    let row = w.expect_line("second modified", |l| l.starts_with("second "));
    assert_eq!(cells(&row)[1], "2", "DATA counts both keys: {row}");
    c.delete("v1", "ConfigMap", "default", "second");
    w.expect_line("second deleted", |l| l.starts_with("second "));

    c.server.restart().expect("the apiserver restarts");
    c.create(cm("third", "1"));
    w.expect_line("a row after the restart", |l| l.starts_with("third "));
    c.merge_patch(
        "v1",
        "ConfigMap",
        "default",
        "first",
        false,
        json!({"data": {"x": "y"}}),
    );
    w.expect_line("first modified after the restart", |l| {
        l.starts_with("first ")
    });
    assert!(
        !w.seen.iter().any(|l| l.starts_with("stderr:")),
        "nothing on stderr: {:#?}",
        w.seen
    );

    // --watch-only prints changes only: nothing until "first" changes
    // (changed again and again until the watch, started meanwhile, sees it).
    let mut w = c.spawn(&["get", "cm", "--watch-only"]);
    let deadline = std::time::Instant::now() + common::WAIT;
    let mut n = 0;
    let first = loop {
        n += 1;
        c.merge_patch(
            "v1",
            "ConfigMap",
            "default",
            "first",
            false,
            json!({"data": {"n": n.to_string()}}),
        );
        if let Some(line) = w.line_within(std::time::Duration::from_millis(200)) {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "--watch-only printed nothing"
        );
    };
    assert!(first.starts_with("NAME"), "{first}");
    let row = w.expect_line("a row", |_| true);
    assert!(row.starts_with("first "), "{row}");
}
