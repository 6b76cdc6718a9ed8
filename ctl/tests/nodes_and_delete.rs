//! cordon/uncordon/drain on a Node made by hand, and delete in its forms,
//! with --wait.

mod common;

use common::Cluster;
use serde_json::{json, Value};

fn node(c: &Cluster, name: &str) -> Value {
    c.rt.block_on(c.api("v1", "Node", None).get(name))
        .expect("node")
}

fn pod_on(c: &Cluster, name: &str, node: &str, owner: Option<Value>) {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(o) = owner {
        pod["metadata"]["ownerReferences"] = json!([o]);
    }
    c.create(pod);
}

#[test]
fn cordon_uncordon_and_drain() {
    let c = Cluster::start();
    c.rt.block_on(c.api("v1", "Node", None).create(
        &Default::default(),
        &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
    ))
    .expect("node n1");

    assert_eq!(
        c.tugctl(&["cordon", "n1"]).ok().stdout,
        "node/n1 cordoned\n"
    );
    assert_eq!(node(&c, "n1")["spec"]["unschedulable"], true);
    assert_eq!(
        c.tugctl(&["cordon", "n1"]).ok().stdout,
        "node/n1 already cordoned\n"
    );
    assert_eq!(
        c.tugctl(&["uncordon", "n1"]).ok().stdout,
        "node/n1 uncordoned\n"
    );
    assert!(node(&c, "n1")["spec"]["unschedulable"].as_bool() != Some(true));
    assert_eq!(
        c.tugctl(&["uncordon", "n1"]).ok().stdout,
        "node/n1 already uncordoned\n"
    );
    let run = c.tugctl(&["cordon", "nope"]);
    assert_eq!(
        run.one_error_line(),
        "Error from server (NotFound): nodes \"nope\" not found"
    );

    let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
        "uid": "11111111-1111-1111-1111-111111111111", "controller": true});
    pod_on(&c, "managed", "n1", Some(owner));
    pod_on(&c, "bare", "n1", None);
    pod_on(&c, "elsewhere", "n2", None);

    let run = c.tugctl(&["drain", "n1", "--grace-period=0"]);
    assert_eq!(
        run.one_error_line(),
        "error: unable to drain node \"n1\": cannot delete Pods that declare no controller (use --force to override): default/bare"
    );
    assert_eq!(run.stdout, "node/n1 cordoned\n");
    assert!(
        c.get("v1", "Pod", "default", "managed").is_some(),
        "nothing deleted on refusal"
    );

    let run = c
        .tugctl(&[
            "drain",
            "n1",
            "--force",
            "--ignore-daemonsets",
            "--grace-period=0",
            "--timeout=30s",
        ])
        .ok();
    assert_eq!(
        run.stderr,
        "Warning: deleting Pods that declare no controller: default/bare\n"
    );
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"node/n1 already cordoned"));
    assert_eq!(lines.pop(), Some("node/n1 drained"));
    lines.sort();
    assert_eq!(
        lines,
        [
            "node/n1 already cordoned",
            "pod/bare deleted",
            "pod/managed deleted"
        ]
    );
    assert!(c.get("v1", "Pod", "default", "managed").is_none());
    assert!(c.get("v1", "Pod", "default", "bare").is_none());
    assert!(c.get("v1", "Pod", "default", "elsewhere").is_some());
}

#[test]
fn delete_by_name_selector_file_and_wait() {
    let c = Cluster::start();
    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        c.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": {"tier": tier}}}));
    }
    assert_eq!(
        c.tugctl(&["delete", "cm", "a"]).ok().stdout,
        "configmap \"a\" deleted\n"
    );
    assert_eq!(
        c.tugctl(&["delete", "cm", "-l", "tier=x"]).ok().stdout,
        "configmap \"b\" deleted\n"
    );
    assert_eq!(
        c.tugctl(&["delete", "configmap/c", "--dry-run=server"])
            .ok()
            .stdout,
        "configmap \"c\" deleted (server dry run)\n"
    );
    assert!(c.get("v1", "ConfigMap", "default", "c").is_some());
    assert_eq!(
        c.tugctl(&["delete", "cm", "--all"]).ok().stdout,
        "configmap \"c\" deleted\n"
    );
    assert_eq!(
        c.tugctl(&["delete", "cm", "a", "--ignore-not-found"])
            .ok()
            .stdout,
        ""
    );

    let web = common::workspace().join("manifests/web.yaml");
    let web = web.to_str().unwrap();
    c.tugctl(&["apply", "-f", web]).ok();
    assert_eq!(
        c.tugctl(&["delete", "-f", web]).ok().stdout,
        "deployment.apps \"web\" deleted\nservice \"web\" deleted\n"
    );
    let run = c.tugctl(&["delete", "-f", web]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines, [
        format!("{web}: document 1 (Deployment web): Error from server (NotFound): deployments.apps \"web\" not found"),
        format!("{web}: document 2 (Service web): Error from server (NotFound): services \"web\" not found"),
    ]);

    // A pod on a node is only marked for deletion until its kubelet
    // confirms; delete waits for that (here: the test plays the kubelet).
    pod_on(&c, "p", "n1", None);
    let mut w = c.spawn(&["delete", "pod", "p", "--timeout=60s"]);
    w.expect_line("the deleted line", |l| l == "pod \"p\" deleted");
    let pod = c
        .get("v1", "Pod", "default", "p")
        .expect("still there, terminating");
    assert!(pod["metadata"]["deletionTimestamp"].is_string());
    c.delete("v1", "Pod", "default", "p");
    assert_eq!(w.wait_exit(), 0, "{:#?}", w.seen);

    // ... and gives up at the deadline.
    pod_on(&c, "q", "n1", None);
    let run = c.tugctl(&["delete", "pod", "q", "--timeout=1s"]);
    assert_eq!(run.stdout, "pod \"q\" deleted\n");
    assert_eq!(
        run.one_error_line(),
        "error: timed out waiting for the condition on pods/q"
    );
    // --wait=false returns at once.
    c.delete("v1", "Pod", "default", "q");
    pod_on(&c, "r", "n1", None);
    assert_eq!(
        c.tugctl(&["delete", "pod", "r", "--wait=false"])
            .ok()
            .stdout,
        "pod \"r\" deleted\n"
    );
    // --force --grace-period=0 removes it at once.
    let run = c
        .tugctl(&["delete", "pod", "r", "--force", "--grace-period=0"])
        .ok();
    assert!(
        run.stderr
            .starts_with("Warning: Immediate deletion does not wait"),
        "{run:#?}"
    );
    assert!(c.get("v1", "Pod", "default", "r").is_none());
}
