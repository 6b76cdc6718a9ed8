//! `tugctl apply` against a real apiserver: the create → configure →
//! unchanged cycle, three-way merge semantics, dry runs, prune, and every
//! example in `manifests/`.

mod common;

use common::{edit, web_manifest, Cluster};
use serde_json::json;

#[test]
fn apply_creates_configures_and_leaves_unchanged() {
    let c = Cluster::start();
    let (_dir, path) = web_manifest();
    let file = path.to_str().unwrap();

    let run = c.tugctl(&["apply", "-f", file]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web created\nservice/web created\n"
    );
    let run = c.tugctl(&["apply", "-f", file]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web unchanged\nservice/web unchanged\n"
    );

    // What a controller would set: an annotation and the status.
    c.merge_patch(
        "apps/v1",
        "Deployment",
        "default",
        "web",
        false,
        json!({"metadata": {"annotations": {"controller.example/seen": "yes"}}}),
    );
    c.merge_patch(
        "apps/v1",
        "Deployment",
        "default",
        "web",
        true,
        json!({"status": {"observedGeneration": 1, "replicas": 3}}),
    );

    // The user changes replicas and drops the limits.
    edit(&path, "replicas: 6", "replicas: 2");
    edit(
        &path,
        "            limits:\n              memory: 128Mi\n",
        "",
    );
    let run = c.tugctl(&["apply", "-f", file]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web configured\nservice/web unchanged\n"
    );

    let live = c.get("apps/v1", "Deployment", "default", "web").unwrap();
    assert_eq!(live["spec"]["replicas"], 2);
    let resources = &live["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert!(
        resources.get("limits").is_none(),
        "limits removed: {resources}"
    );
    assert_eq!(resources["requests"]["cpu"], "100m");
    assert_eq!(
        live["metadata"]["annotations"]["controller.example/seen"],
        "yes"
    );
    assert_eq!(live["status"]["observedGeneration"], 1);
    assert_eq!(live["status"]["replicas"], 3);

    let run = c.tugctl(&["apply", "-f", file]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web unchanged\nservice/web unchanged\n"
    );
}

#[test]
fn dry_runs_change_nothing() {
    let c = Cluster::start();
    let (_dir, path) = web_manifest();
    let file = path.to_str().unwrap();
    let run = c.tugctl(&["apply", "-f", file, "--dry-run=client"]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web created (dry run)\nservice/web created (dry run)\n"
    );
    let run = c.tugctl(&["apply", "-f", file, "--dry-run=server"]).ok();
    assert_eq!(
        run.stdout,
        "deployment.apps/web created (server dry run)\nservice/web created (server dry run)\n"
    );
    assert!(c.get("apps/v1", "Deployment", "default", "web").is_none());

    c.tugctl(&["apply", "-f", file]).ok();
    edit(&path, "replicas: 6", "replicas: 5");
    for (flag, suffix) in [
        ("--dry-run=client", "(dry run)"),
        ("--dry-run=server", "(server dry run)"),
    ] {
        let run = c.tugctl(&["apply", "-f", file, flag]).ok();
        assert_eq!(
            run.stdout,
            format!("deployment.apps/web configured {suffix}\nservice/web unchanged {suffix}\n")
        );
    }
    let live = c.get("apps/v1", "Deployment", "default", "web").unwrap();
    assert_eq!(live["spec"]["replicas"], 6);
}

#[test]
fn stdin_directories_and_prune() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app: p\ndata:\n  k: v\n")
    };
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), cm("a")).unwrap();
    std::fs::write(dir.path().join("sub/b.yaml"), cm("b")).unwrap();
    let d = dir.path().to_str().unwrap();

    // Without -R the sub-directory is not read.
    let run = c.tugctl(&["apply", "-f", d]).ok();
    assert_eq!(run.stdout, "configmap/a created\n");
    let run = c
        .tugctl(&["apply", "-R", "-f", d, "--prune", "-l", "app=p"])
        .ok();
    assert_eq!(run.stdout, "configmap/a unchanged\nconfigmap/b created\n");

    // Made by hand (no last-applied annotation): never pruned.
    c.tugctl_stdin(&["create", "-f", "-"], &cm("manual")).ok();
    // From stdin.
    let run = c.tugctl_stdin(&["apply", "-f", "-"], &cm("c")).ok();
    assert_eq!(run.stdout, "configmap/c created\n");

    std::fs::remove_file(dir.path().join("sub/b.yaml")).unwrap();
    let run = c
        .tugctl(&["apply", "-R", "-f", d, "--prune", "-l", "app=p"])
        .ok();
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "configmap/a unchanged",
            "configmap/b pruned",
            "configmap/c pruned"
        ]
    );
    assert!(c.get("v1", "ConfigMap", "default", "b").is_none());
    assert!(c.get("v1", "ConfigMap", "default", "manual").is_some());

    let run = c.tugctl(&["apply", "-f", d, "--prune"]);
    assert!(run
        .one_error_line()
        .starts_with("error: all resources selected for prune without explicitly passing --all"));
}

/// CI applies every file in `manifests/` to a test apiserver: each must
/// apply cleanly and every object must then exist.
#[test]
fn every_example_manifest_applies() {
    let c = Cluster::start();
    let dir = common::workspace().join("manifests");
    let run = c.tugctl(&["apply", "-R", "-f", dir.to_str().unwrap()]).ok();
    assert_eq!(run.stderr, "", "{run:#?}");
    let loaded = tugctl::manifest::load(&[dir.to_str().unwrap()], true, &mut std::io::empty());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(!loaded.manifests.is_empty());
    for m in &loaded.manifests {
        let name = m.name().expect("example objects are named");
        let ns = m.namespace().unwrap_or("default");
        assert!(
            c.get(m.api_version(), m.kind(), ns, name).is_some(),
            "{} was not created",
            m.describe_origin()
        );
        assert!(run.stdout.contains(&format!("/{name} created")), "{run:#?}");
    }
}

#[test]
fn create_and_replace() {
    let c = Cluster::start();
    let cm = |v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"{v}\"\n")
    };
    assert_eq!(
        c.tugctl_stdin(&["create", "-f", "-"], &cm("1")).ok().stdout,
        "configmap/a created\n"
    );
    let run = c.tugctl_stdin(&["create", "-f", "-"], &cm("1"));
    assert_eq!(
        run.one_error_line(),
        "STDIN: document 1 (ConfigMap a): Error from server (AlreadyExists): configmaps \"a\" already exists"
    );
    c.merge_patch(
        "v1",
        "ConfigMap",
        "default",
        "a",
        false,
        json!({"metadata": {"labels": {"by": "hand"}}}),
    );
    assert_eq!(
        c.tugctl_stdin(&["replace", "-f", "-"], &cm("2"))
            .ok()
            .stdout,
        "configmap/a replaced\n"
    );
    let live = c.get("v1", "ConfigMap", "default", "a").unwrap();
    assert_eq!(live["data"]["k"], "2");
    assert!(
        live["metadata"].get("labels").is_none(),
        "replace sends the whole object"
    );

    let run = c.tugctl_stdin(
        &["replace", "-f", "-"],
        &cm("3").replace("name: a", "name: b"),
    );
    assert_eq!(
        run.one_error_line(),
        "STDIN: document 1 (ConfigMap b): Error from server (NotFound): configmaps \"b\" not found"
    );
    // generateName works with create.
    let run = c
        .tugctl_stdin(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n",
        )
        .ok();
    assert!(
        run.stdout.starts_with("configmap/gen-") && run.stdout.ends_with(" created\n"),
        "{run:#?}"
    );
}
