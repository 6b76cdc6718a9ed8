//! Unknown fields in what kubectl applies: rejected with the field named
//! under kubectl's default and `--validate=strict`, a warning under
//! `--validate=warn`, silently dropped under `--validate=false`.

use serde_json::Value;

use crate::support::{lines, Setup};

/// A Deployment `name` with two typos: `spec.replica` and a container's
/// `imagePullPolice`.
fn with_typos(name: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replica: 2
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: busybox:1.36
          imagePullPolice: Always
"
    )
}

const TYPOS: [&str; 2] = [
    "unknown field \"spec.replica\"",
    "unknown field \"spec.template.spec.containers[0].imagePullPolice\"",
];

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_are_rejected_warned_or_dropped() {
    let Some(s) = Setup::start("unknown_fields_are_rejected_warned_or_dropped").await else {
        return;
    };
    let k = &s.kubectl;

    for (name, flags) in [
        ("typo-default", vec![]),
        ("typo-strict", vec!["--validate=strict"]),
    ] {
        let file = s.write(&format!("{name}.yaml"), &with_typos(name));
        let mut args = vec!["apply", "-f", &file];
        args.extend(flags);
        let run = k.run(&args).await;
        assert!(!run.success(), "{args:?} must be rejected");
        for typo in TYPOS {
            assert!(run.stderr.contains(typo), "{typo} in {}", run.stderr);
        }
        assert!(
            s.deployments()
                .get(name)
                .await
                .is_err_and(|e| e.is_not_found()),
            "{name} must not be created"
        );
    }

    let file = s.write("typo-warn.yaml", &with_typos("typo-warn"));
    let run = k.run(&["apply", "--validate=warn", "-f", &file]).await;
    assert!(run.success(), "{}", run.stderr);
    assert_eq!(lines(&run.stdout), ["deployment.apps/typo-warn created"]);
    for typo in TYPOS {
        assert!(
            run.stderr.contains(&format!("Warning: {typo}")),
            "a warning names {typo}: {}",
            run.stderr
        );
    }
    let stored: Value = serde_json::from_str(
        &k.ok(&["get", "deployment", "typo-warn", "-o", "json"])
            .await,
    )
    .expect("JSON");
    assert_eq!(stored["spec"]["replicas"], 1, "the typo set nothing");
    assert!(stored["spec"]["replica"].is_null());

    let file = s.write("typo-ignore.yaml", &with_typos("typo-ignore"));
    let run = k.run(&["apply", "--validate=false", "-f", &file]).await;
    assert!(run.success(), "{}", run.stderr);
    assert!(!run.stderr.contains("unknown field"), "{}", run.stderr);
    assert!(s.deployments().get("typo-ignore").await.is_ok());
}
