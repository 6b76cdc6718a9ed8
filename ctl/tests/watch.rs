//! `get -w` when the server no longer has the resourceVersion it was at
//! (410 Gone after compaction): it lists again and prints exactly what
//! changed meanwhile — modified, deleted and added objects, and nothing
//! for objects that did not change.

mod common;

use std::time::Duration;

use common::Cluster;
use futures::StreamExt;
use serde_json::json;
use tug_client::ListParams;
use tug_tests::proxy;

fn cm(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"}, "data": {"v": "0"}})
}

#[test]
fn watch_relists_after_410_and_prints_what_changed() {
    let c = Cluster::start_with(&[
        "--compaction-interval",
        "100ms",
        "--compaction-retain",
        "1",
        "--watch-cache-size",
        "1",
    ]);
    let old_rv = c.create(cm("keep"))["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    c.create(cm("gone"));
    c.create(cm("steady"));
    let proxy = c.rt.block_on(proxy::Proxy::start(&c.server.url));

    let mut w = c.spawn_via(&proxy.url, &["get", "cm", "-w"]);
    w.expect_line("header", |l| l.starts_with("NAME"));
    for name in ["gone", "keep", "steady"] {
        w.expect_line(name, |l| l.starts_with(&format!("{name} ")));
    }

    proxy.cut();
    for i in 0..20 {
        c.merge_patch(
            "v1",
            "ConfigMap",
            "default",
            "keep",
            false,
            json!({"data": {"v": i.to_string()}}),
        );
    }
    c.merge_patch(
        "v1",
        "ConfigMap",
        "default",
        "keep",
        false,
        json!({"data": {"w": "x"}}),
    );
    c.delete("v1", "ConfigMap", "default", "gone");
    c.create(cm("new"));
    // Wait until the server has compacted the old history away.
    let api = c.api("v1", "ConfigMap", Some("default"));
    common::eventually("the old resourceVersion to be compacted", || {
        c.rt.block_on(async {
            match api.watch(&ListParams::default(), &old_rv).await {
                Err(e) => e.is_gone(),
                Ok(mut events) => matches!(
                    tokio::time::timeout(Duration::from_millis(300), events.next()).await,
                    Ok(Some(Err(e))) if e.is_gone()
                ),
            }
        })
    });
    let before = w.seen.len();
    proxy.resume();

    let mut wanted = vec!["keep ", "gone ", "new "];
    while !wanted.is_empty() {
        let line = w.expect_line("a row after the relist", |l| {
            wanted.iter().any(|p| l.starts_with(p))
        });
        wanted.retain(|p| !line.starts_with(p));
    }
    c.create(cm("sentinel"));
    w.expect_line("sentinel", |l| l.starts_with("sentinel "));
    let after: Vec<&String> = w.seen[before..].iter().collect();
    assert!(
        !after.iter().any(|l| l.starts_with("steady ")),
        "unchanged objects are not printed again: {after:#?}"
    );
    let keeps: Vec<&&String> = after.iter().filter(|l| l.starts_with("keep ")).collect();
    assert_eq!(
        keeps.len(),
        1,
        "one row from the relist, not one per missed event: {after:#?}"
    );
    let keep = keeps[0];
    assert_eq!(
        common::cells(keep)[1],
        "2",
        "keep's last state (two keys): {keep}"
    );
    assert!(
        !after.iter().any(|l| l.starts_with("stderr:")),
        "{after:#?}"
    );
}
