//! scale, label/annotate, describe and rollout status/history/undo/
//! pause/resume/restart against Deployments and ReplicaSets made by hand
//! (no controller runs in these tests).

mod common;

use common::Cluster;
use serde_json::{json, Value};

fn template(image: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": "web"});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    json!({"metadata": {"labels": labels},
           "spec": {"containers": [{"name": "web", "image": image}]}})
}

/// Deployment `web` at revision 2 (nginx:1.26), with ReplicaSets for
/// revision 1 (nginx:1.25) and 2, owned by it.
fn deployment_with_history(c: &Cluster) -> Value {
    let d = c.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default",
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": template("nginx:1.26", None)}}));
    let owner = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
        "uid": d["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]);
    for (rev, image, cause, replicas) in [
        ("1", "nginx:1.25", "first", 0),
        ("2", "nginx:1.26", "second", 3),
    ] {
        let hash = format!("h{rev}");
        c.create(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{hash}"), "namespace": "default",
                         "labels": {"app": "web", "pod-template-hash": hash},
                         "annotations": {"deployment.kubernetes.io/revision": rev,
                                         "kubernetes.io/change-cause": cause},
                         "ownerReferences": owner},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": "web", "pod-template-hash": hash}},
                     "template": template(image, Some(&hash))}}));
    }
    d
}

fn live_deployment(c: &Cluster) -> Value {
    c.get("apps/v1", "Deployment", "default", "web")
        .expect("deployment web")
}

#[test]
fn rollout_history_and_undo() {
    let c = Cluster::start();
    deployment_with_history(&c);

    let out = c.tugctl(&["rollout", "history", "deploy/web"]).ok().stdout;
    assert_eq!(
        out,
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         first\n2         second\n\n"
    );
    let out = c
        .tugctl(&["rollout", "history", "deployment", "web", "--revision=1"])
        .ok()
        .stdout;
    assert!(
        out.starts_with("deployment.apps/web with revision #1\nPod Template:\n"),
        "{out}"
    );
    assert!(out.contains("nginx:1.25"), "{out}");

    let out = c
        .tugctl(&["rollout", "undo", "deploy/web", "--to-revision=2"])
        .ok()
        .stdout;
    assert_eq!(
        out,
        "deployment.apps/web skipped rollback (current template already matches revision 2)\n"
    );
    let run = c.tugctl(&["rollout", "undo", "deploy/web", "--to-revision=7"]);
    assert_eq!(
        run.one_error_line(),
        "error: unable to find specified revision 7 in history"
    );

    let out = c.tugctl(&["rollout", "undo", "deploy/web"]).ok().stdout;
    assert_eq!(out, "deployment.apps/web rolled back\n");
    let d = live_deployment(&c);
    let t = &d["spec"]["template"];
    assert_eq!(t["spec"]["containers"][0]["image"], "nginx:1.25");
    assert_eq!(
        t["metadata"]["labels"],
        json!({"app": "web"}),
        "hash label stripped"
    );
    let a = &d["metadata"]["annotations"];
    assert_eq!(
        a["deployment.kubernetes.io/revision"], "2",
        "the Deployment's revision stays"
    );
    assert_eq!(
        a["kubernetes.io/change-cause"], "first",
        "the revision's change cause comes back"
    );

    // Paused deployments are not rolled back.
    assert_eq!(
        c.tugctl(&["rollout", "pause", "deploy/web"]).ok().stdout,
        "deployment.apps/web paused\n"
    );
    let run = c.tugctl(&["rollout", "pause", "deploy/web"]);
    assert_eq!(
        run.one_error_line(),
        "error: deployments.apps \"web\" is already paused"
    );
    let run = c.tugctl(&["rollout", "undo", "deploy/web", "--to-revision=2"]);
    assert!(run
        .one_error_line()
        .starts_with("error: you cannot rollback a paused deployment"));
    let run = c.tugctl(&["rollout", "restart", "deploy/web"]);
    assert!(run
        .one_error_line()
        .contains("can't restart paused deployment"));
    assert_eq!(
        c.tugctl(&["rollout", "resume", "deploy/web"]).ok().stdout,
        "deployment.apps/web resumed\n"
    );
    assert!(live_deployment(&c)["spec"]["paused"].as_bool() != Some(true));

    assert_eq!(
        c.tugctl(&["rollout", "restart", "deploy/web"]).ok().stdout,
        "deployment.apps/web restarted\n"
    );
    let restarted = &live_deployment(&c)["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"];
    assert!(
        restarted
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        "{restarted}"
    );

    let run = c.tugctl(&["rollout", "history", "rs/web-h1"]);
    assert_eq!(
        run.one_error_line(),
        "error: no history viewer has been implemented for ReplicaSet.apps"
    );
}

#[test]
fn rollout_status_follows_progress_until_done() {
    let c = Cluster::start();
    deployment_with_history(&c);
    let status = |s: Value| {
        c.merge_patch(
            "apps/v1",
            "Deployment",
            "default",
            "web",
            true,
            json!({"status": s}),
        );
    };
    let mut w = c.spawn(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    w.expect_line("not observed", |l| {
        l == "Waiting for deployment spec update to be observed..."
    });
    status(json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1}));
    w.expect_line("updated", |l| {
        l == "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated..."
    });
    status(json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 3}));
    w.expect_line("old pending", |l| {
        l == "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination..."
    });
    status(
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 1}),
    );
    w.expect_line("available", |l| {
        l == "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas are available..."
    });
    status(
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}),
    );
    w.expect_line("done", |l| {
        l == "deployment \"web\" successfully rolled out"
    });
    assert_eq!(w.wait_exit(), 0, "{:#?}", w.seen);

    // A rollout past its deadline fails.
    status(
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1,
        "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                        "message": "too slow"}]}),
    );
    let run = c.tugctl(&["rollout", "status", "deploy/web"]);
    assert_eq!(
        run.one_error_line(),
        "error: deployment \"web\" exceeded its progress deadline"
    );

    // --timeout gives up.
    status(json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "conditions": []}));
    let run = c.tugctl(&["rollout", "status", "deploy/web", "--timeout=1s"]);
    assert_eq!(
        run.one_error_line(),
        "error: timed out waiting for the condition"
    );
}

#[test]
fn scale_label_annotate() {
    let c = Cluster::start();
    deployment_with_history(&c);
    assert_eq!(
        c.tugctl(&["scale", "deploy/web", "--replicas=5"])
            .ok()
            .stdout,
        "deployment.apps/web scaled\n"
    );
    assert_eq!(live_deployment(&c)["spec"]["replicas"], 5);
    assert_eq!(
        c.tugctl(&["scale", "rs", "web-h1", "--replicas=2"])
            .ok()
            .stdout,
        "replicaset.apps/web-h1 scaled\n"
    );
    assert_eq!(
        c.get("apps/v1", "ReplicaSet", "default", "web-h1").unwrap()["spec"]["replicas"],
        2
    );
    let run = c.tugctl(&[
        "scale",
        "deploy/web",
        "--current-replicas=3",
        "--replicas=1",
    ]);
    assert_eq!(
        run.one_error_line(),
        "error: Expected replicas to be 3, was 5"
    );
    let run = c.tugctl(&["scale", "svc/web", "--replicas=1"]);
    assert_eq!(
        run.one_error_line(),
        "error: cannot scale services: it has no scale subresource"
    );

    assert_eq!(
        c.tugctl(&["label", "deploy", "web", "tier=front"])
            .ok()
            .stdout,
        "deployment.apps/web labeled\n"
    );
    let run = c.tugctl(&["label", "deploy", "web", "tier=back"]);
    assert_eq!(
        run.one_error_line(),
        "error: 'tier' already has a value (front), and --overwrite is false"
    );
    c.tugctl(&["label", "deploy/web", "tier=back", "--overwrite"])
        .ok();
    assert_eq!(live_deployment(&c)["metadata"]["labels"]["tier"], "back");
    assert_eq!(
        c.tugctl(&["label", "deploy/web", "tier=back"]).ok().stdout,
        "deployment.apps/web not labeled\n"
    );
    c.tugctl(&["label", "deploy/web", "tier-"]).ok();
    assert!(live_deployment(&c)["metadata"]["labels"]
        .get("tier")
        .is_none());

    assert_eq!(
        c.tugctl(&["annotate", "deploy", "web", "note=hello"])
            .ok()
            .stdout,
        "deployment.apps/web annotated\n"
    );
    let run = c.tugctl(&["annotate", "deploy", "web", "note=bye"]);
    assert_eq!(
        run.one_error_line(),
        "error: 'note' already has a value (hello), and --overwrite is false"
    );
    c.tugctl(&["annotate", "deploy", "web", "note-"]).ok();
    let a = &live_deployment(&c)["metadata"]["annotations"];
    assert!(a.get("note").is_none());
    assert_eq!(a["deployment.kubernetes.io/revision"], "2");
}

#[test]
fn describe_shows_the_summary_and_events() {
    let c = Cluster::start();
    deployment_with_history(&c);
    c.create(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-h2-abcde", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.26",
                 "ports": [{"containerPort": 80, "name": "http"}]}]}}));
    c.merge_patch("v1", "Pod", "default", "web-h2-abcde", true, json!({"status": {
        "phase": "Running", "podIP": "10.244.1.7", "hostIP": "10.0.0.1",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "web", "ready": true, "restartCount": 2, "image": "nginx:1.26",
            "imageID": "", "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}}));
    c.create(json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-h2-abcde.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-h2-abcde", "namespace": "default"},
        "reason": "Pulled", "message": "Container image already present", "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"}, "count": 1,
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"}));

    let out = c.tugctl(&["describe", "pod", "web-h2-abcde"]).ok().stdout;
    for want in [
        "Name:             web-h2-abcde\n",
        "Namespace:        default\n",
        "Node:             node-1/10.0.0.1\n",
        "Status:           Running\n",
        "IP:               10.244.1.7\n",
        "Containers:\n  web:\n",
        "    Image:          nginx:1.26\n",
        "    Port:           80/TCP (http)\n",
        "    State:          Running\n",
        "    Ready:          True\n",
        "    Restart Count:  2\n",
        "Conditions:\n",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    let conditions: Vec<Vec<String>> = out
        .split_once("Conditions:\n")
        .unwrap()
        .1
        .lines()
        .take(3)
        .map(common::cells)
        .collect();
    assert_eq!(
        conditions,
        [["Type", "Status"], ["----", "------"], ["Ready", "True"]]
    );
    let events = out.split_once("Events:\n").expect("an Events table").1;
    let rows: Vec<Vec<String>> = events.lines().map(common::cells).collect();
    assert_eq!(rows[0], ["Type", "Reason", "Age", "From", "Message"]);
    assert_eq!(rows[2][0..2], ["Normal", "Pulled"]);
    assert_eq!(
        rows[2][3..],
        ["kubelet, node-1", "Container image already present"]
    );

    let out = c.tugctl(&["describe", "deploy/web"]).ok().stdout;
    for want in [
        "Name:                   web\n",
        "Selector:               app=web\n",
        "Replicas:               3 desired | 0 updated | 0 total | 0 available | 0 unavailable\n",
        "StrategyType:           RollingUpdate\n",
        "Pod Template:\n  Labels:  app=web\n",
        "NewReplicaSet:",
        "web-h2 (0/3 replicas created)",
        "Events:",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    let out = c.tugctl(&["describe", "rs", "web-h1"]).ok().stdout;
    assert!(out.contains("Controlled By:  Deployment/web\n"), "{out}");
    assert!(
        out.contains("Pods Status:    0 Running / 0 Waiting / 0 Succeeded / 0 Failed\n"),
        "{out}"
    );
}
