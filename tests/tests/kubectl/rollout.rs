//! `kubectl rollout status | history | undo`: a new image rolled out by
//! `apply`, its revisions listed from the ReplicaSets' annotations, and an
//! undo that brings the old template back as a new revision.

use crate::output::Table;
use crate::support::{lines, manifest, Setup, WEB_REPLICAS};

/// The REVISION column of `rollout history`.
fn revisions(history: &str) -> Vec<String> {
    // The first line names the deployment; the table follows.
    let table = history.split_once('\n').map_or("", |(_, t)| t);
    Table::parse(table)
        .rows
        .iter()
        .map(|r| r["REVISION"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rollout_status_history_and_undo() {
    let Some(s) = Setup::start("rollout_status_history_and_undo").await else {
        return;
    };
    let k = &s.kubectl;
    let status = ["rollout", "status", "deployment/web", "--timeout=90s"];
    let done = "deployment \"web\" successfully rolled out";

    let web = manifest("web.yaml").display().to_string();
    k.ok(&["apply", "-f", &web]).await;
    let out = k.ok(&status).await;
    assert_eq!(lines(&out).last(), Some(&done), "{out}");

    // A new image: a second revision.
    let v2 = s.edited_web("web-v2.yaml", "image: busybox:1.36", "image: busybox:1.37");
    let out = k.ok(&["apply", "-f", &v2]).await;
    assert!(
        lines(&out).contains(&"deployment.apps/web configured"),
        "{out}"
    );
    let out = k.ok(&status).await;
    assert_eq!(lines(&out).last(), Some(&done), "{out}");
    let d = s.wait_rolled_out("web", WEB_REPLICAS).await;
    assert_eq!(d.spec.template.spec.containers[0].image, "busybox:1.37");

    let out = k.ok(&["rollout", "history", "deployment/web"]).await;
    assert_eq!(lines(&out)[0], "deployment.apps/web");
    assert_eq!(revisions(&out), ["1", "2"]);
    let out = k
        .ok(&["rollout", "history", "deployment/web", "--revision=1"])
        .await;
    assert!(
        out.contains("busybox:1.36"),
        "revision 1 has the old image: {out}"
    );

    // undo: revision 1's template comes back as revision 3.
    let out = k.ok(&["rollout", "undo", "deployment/web"]).await;
    assert_eq!(lines(&out), ["deployment.apps/web rolled back"]);
    let out = k.ok(&status).await;
    assert_eq!(lines(&out).last(), Some(&done), "{out}");
    let d = s.wait_rolled_out("web", WEB_REPLICAS).await;
    assert_eq!(d.spec.template.spec.containers[0].image, "busybox:1.36");
    assert_eq!(
        d.metadata
            .annotations
            .get("deployment.kubernetes.io/revision"),
        Some(&"3".to_string())
    );
    let out = k.ok(&["rollout", "history", "deployment/web"]).await;
    assert_eq!(revisions(&out), ["2", "3"]);

    // undo to a revision that does not exist changes nothing.
    let run = k
        .run(&["rollout", "undo", "deployment/web", "--to-revision=7"])
        .await;
    assert!(!run.success());
    assert!(
        run.stderr.contains("unable to find specified revision 7"),
        "{}",
        run.stderr
    );
}
