//! `kubectl diff` and `apply --dry-run=server`: the server computes what
//! would change (a dry run of the patch or create) and stores nothing.

use crate::support::{lines, manifest, Setup, WEB_REPLICAS};

#[tokio::test(flavor = "multi_thread")]
async fn diff_and_server_dry_run_change_nothing() {
    let Some(s) = Setup::start("diff_and_server_dry_run_change_nothing").await else {
        return;
    };
    let k = &s.kubectl;
    let web = manifest("web.yaml").display().to_string();
    k.ok(&["apply", "-f", &web]).await;
    let before = s.wait_rolled_out("web", WEB_REPLICAS).await;

    let run = k.run(&["diff", "-f", &web]).await;
    assert_eq!(run.code, Some(0), "no difference: {run:?}");
    assert_eq!(run.stdout, "");

    let four = s.edited_web("web-4.yaml", "replicas: 6", "replicas: 4");
    let run = k.run(&["diff", "-f", &four]).await;
    assert_eq!(run.code, Some(1), "diff exits 1 on a difference: {run:?}");
    let changed = lines(&run.stdout);
    assert!(changed.contains(&"-  replicas: 6"), "{}", run.stdout);
    assert!(changed.contains(&"+  replicas: 4"), "{}", run.stdout);
    assert!(
        !changed
            .iter()
            .any(|l| l.contains("image:") && l.starts_with(['-', '+'])),
        "only what differs: {}",
        run.stdout
    );

    let nodeport = manifest("nodeport.yaml").display().to_string();
    let run = k.run(&["diff", "-f", &nodeport]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        lines(&run.stdout).contains(&"+  name: web-nodeport"),
        "{}",
        run.stdout
    );
    assert!(
        lines(&run.stdout).contains(&"+    nodePort: 30080"),
        "{}",
        run.stdout
    );

    let out = k
        .ok(&["apply", "--dry-run=server", "-f", &four, "-f", &nodeport])
        .await;
    assert!(
        lines(&out).contains(&"deployment.apps/web configured (server dry run)"),
        "{out}"
    );
    assert!(
        lines(&out).contains(&"service/web-nodeport created (server dry run)"),
        "{out}"
    );

    let after = s.deployments().get("web").await.expect("web");
    assert_eq!(after.spec.replicas, Some(WEB_REPLICAS));
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    let svc = k.run(&["get", "service", "web-nodeport"]).await;
    assert!(!svc.success(), "the dry run created nothing: {svc:?}");
    assert!(svc.stderr.contains("NotFound"), "{}", svc.stderr);
}
