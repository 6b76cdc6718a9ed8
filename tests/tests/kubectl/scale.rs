//! `kubectl scale` (through the scale subresource, with and without a
//! `--current-replicas` precondition) while `kubectl get -w` streams the
//! deployment's rows as its status follows.

use std::time::Duration;

use crate::cluster::pods_of;
use crate::output::Table;
use crate::support::{lines, manifest, Setup, WEB_REPLICAS};

/// The last streamed row of `name` (rows follow the header line).
fn last_row(printed: &[String], name: &str) -> Option<crate::output::Row> {
    if printed.is_empty() {
        return None;
    }
    Table::from_lines(printed)
        .rows
        .into_iter()
        .rfind(|r| r.get("NAME").map(String::as_str) == Some(name))
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_while_get_watch_streams_the_rows() {
    let Some(s) = Setup::start("scale_while_get_watch_streams_the_rows").await else {
        return;
    };
    let k = &s.kubectl;
    let web = manifest("web.yaml").display().to_string();
    k.ok(&["apply", "-f", &web]).await;
    s.wait_rolled_out("web", WEB_REPLICAS).await;

    let mut watch = k.stream(&["get", "deployment", "web", "--watch"]);
    let first = watch
        .wait_for(
            "the header and the current row",
            Duration::from_secs(30),
            |p| last_row(p, "web"),
        )
        .await;
    assert_eq!(
        Table::from_lines(&watch.lines()).columns,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(first["READY"], "6/6");

    let out = k.ok(&["scale", "deployment/web", "--replicas=2"]).await;
    assert_eq!(lines(&out), ["deployment.apps/web scaled"]);
    let row = watch
        .wait_for("a row with 2/2 ready", Duration::from_secs(60), |p| {
            last_row(p, "web").filter(|r| r["READY"] == "2/2")
        })
        .await;
    assert_eq!((&*row["UP-TO-DATE"], &*row["AVAILABLE"]), ("2", "2"));
    assert!(watch.running(), "get -w keeps watching");
    assert!(
        watch.lines().len() >= 3,
        "rows were streamed as the status changed: {:?}",
        watch.lines()
    );
    let d = s.wait_rolled_out("web", 2).await;
    assert_eq!(d.spec.replicas, Some(2));
    assert_eq!(pods_of(s.client(), "web").await.len(), 2);

    // A precondition that does not hold changes nothing.
    let run = k
        .run(&[
            "scale",
            "deployment/web",
            "--current-replicas=5",
            "--replicas=1",
        ])
        .await;
    assert!(!run.success(), "the precondition must fail");
    assert!(
        run.stderr.contains("Expected replicas to be 5, was 2"),
        "{}",
        run.stderr
    );
    let out = k
        .ok(&[
            "scale",
            "deployment/web",
            "--current-replicas=2",
            "--replicas=3",
        ])
        .await;
    assert_eq!(lines(&out), ["deployment.apps/web scaled"]);
    watch
        .wait_for("a row with 3/3 ready", Duration::from_secs(60), |p| {
            last_row(p, "web").filter(|r| r["READY"] == "3/3")
        })
        .await;
    assert_eq!(s.wait_rolled_out("web", 3).await.status.ready_replicas, 3);
}
