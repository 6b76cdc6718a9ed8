//! Watch: streams, resume from a resourceVersion, selectors, 410 Gone.

mod common;

use common::*;
use serde_json::json;

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn name(ev: &serde_json::Value) -> String {
    ev["object"]["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn watch_streams_changes_in_order() {
    let server = start();
    let api = Api::new(&server.url);
    let start_rv = api.get(CM).await.rv();
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={start_rv}"))
        .await;
    assert_eq!(w.code, 200);
    let created = api.post(CM, &configmap("a", json!({"k": "1"}))).await.ok();
    let mut upd = created.clone();
    upd["data"]["k"] = json!("2");
    api.put(&format!("{CM}/a"), &upd).await.ok();
    api.delete(&format!("{CM}/a")).await.ok();

    let e1 = w.next_change(WAIT).await.expect("ADDED");
    let e2 = w.next_change(WAIT).await.expect("MODIFIED");
    let e3 = w.next_change(WAIT).await.expect("DELETED");
    assert_eq!(
        (e1["type"].as_str(), name(&e1)),
        (Some("ADDED"), "a".into())
    );
    assert_eq!(e2["type"], "MODIFIED");
    assert_eq!(e2["object"]["data"]["k"], "2");
    assert_eq!(e3["type"], "DELETED");
    let rv = |e: &serde_json::Value| {
        e["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    assert!(rv(&e1) < rv(&e2) && rv(&e2) < rv(&e3));
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events() {
    let server = start();
    let api = Api::new(&server.url);
    let mut rvs = Vec::new();
    for i in 0..10 {
        rvs.push(
            api.post(CM, &configmap(&format!("c{i}"), json!({})))
                .await
                .rv(),
        );
    }
    // Resume after the 4th write: exactly c4..c9, in order, once each.
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={}", rvs[3]))
        .await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(name(&w.next_change(WAIT).await.expect("event")));
    }
    assert_eq!(got, ["c4", "c5", "c6", "c7", "c8", "c9"]);
    // Nothing else is pending.
    assert!(w
        .next_change(std::time::Duration::from_millis(300))
        .await
        .is_none());
}

#[tokio::test]
async fn resume_older_than_the_watch_cache_is_served_from_storage() {
    let server = start_with(&["--watch-cache-size", "3"]);
    let api = Api::new(&server.url);
    let mut rvs = Vec::new();
    for i in 0..20 {
        rvs.push(
            api.post(CM, &configmap(&format!("s{i:02}"), json!({})))
                .await
                .rv(),
        );
    }
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={}", rvs[1]))
        .await;
    let mut got = Vec::new();
    for _ in 0..18 {
        got.push(name(&w.next_change(WAIT).await.expect("event")));
    }
    let want: Vec<String> = (2..20).map(|i| format!("s{i:02}")).collect();
    assert_eq!(got, want);
    // And it goes on with live events.
    api.post(CM, &configmap("live", json!({}))).await.ok();
    assert_eq!(name(&w.next_change(WAIT).await.unwrap()), "live");
}

#[tokio::test]
async fn watch_without_resource_version_starts_with_current_state() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(CM, &configmap("x", json!({}))).await.ok();
    api.post(CM, &configmap("y", json!({}))).await.ok();
    let mut w = api.watch(&format!("{CM}?watch=true")).await;
    let a = w.next_change(WAIT).await.unwrap();
    let b = w.next_change(WAIT).await.unwrap();
    assert_eq!(
        (a["type"].as_str(), name(&a), name(&b)),
        (Some("ADDED"), "x".into(), "y".into())
    );
    api.post(CM, &configmap("z", json!({}))).await.ok();
    assert_eq!(name(&w.next_change(WAIT).await.unwrap()), "z");
}

#[tokio::test]
async fn selector_watch_sees_objects_enter_and_leave() {
    let server = start();
    let api = Api::new(&server.url);
    let rv = api.get(CM).await.rv();
    let mut w = api
        .watch(&format!(
            "{CM}?watch=true&resourceVersion={rv}&labelSelector=team%3Dblue"
        ))
        .await;
    let mut cm = configmap("m", json!({}));
    cm["metadata"]["labels"] = json!({"team": "red"});
    let created = api.post(CM, &cm).await.ok();
    let mut blue = created.clone();
    blue["metadata"]["labels"]["team"] = json!("blue");
    let blue = api.put(&format!("{CM}/m"), &blue).await.ok();
    let mut red = blue.clone();
    red["metadata"]["labels"]["team"] = json!("red");
    api.put(&format!("{CM}/m"), &red).await.ok();
    let enter = w.next_change(WAIT).await.unwrap();
    let leave = w.next_change(WAIT).await.unwrap();
    assert_eq!(enter["type"], "ADDED", "entering the selector is an ADDED");
    assert_eq!(
        leave["type"], "DELETED",
        "leaving the selector is a DELETED"
    );
}

#[tokio::test]
async fn namespaced_watch_sees_only_its_namespace() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
    )
    .await
    .ok();
    let rv = api.get(CM).await.rv();
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={rv}"))
        .await;
    api.post(
        "/api/v1/namespaces/other/configmaps",
        &configmap("o", json!({})),
    )
    .await
    .ok();
    api.post(CM, &configmap("d", json!({}))).await.ok();
    assert_eq!(name(&w.next_change(WAIT).await.unwrap()), "d");
}

#[tokio::test]
async fn compacted_resource_version_answers_410_gone() {
    // A tiny watch cache so the resume point falls out of memory and the
    // request reaches compacted storage.
    let server = start_with(&[
        "--compaction-interval",
        "200ms",
        "--compaction-retain",
        "5",
        "--watch-cache-size",
        "5",
    ]);
    let api = Api::new(&server.url);
    let first = api.post(CM, &configmap("first", json!({}))).await.rv();
    for i in 0..30 {
        api.post(CM, &configmap(&format!("n{i}"), json!({})))
            .await
            .ok();
    }
    let mut expired = None;
    let ok = tug_tests::net::eventually(WAIT, || {
        let api = api.clone();
        async move {
            let mut w = api
                .watch(&format!("{CM}?watch=true&resourceVersion={}", first - 1))
                .await;
            match w.next(std::time::Duration::from_secs(2)).await {
                Some(ev) if ev["type"] == "ERROR" => ev["object"]["code"] == 410,
                _ => false,
            }
        }
    })
    .await;
    assert!(
        ok,
        "a watch from a compacted revision gets an ERROR event with 410"
    );
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={}", first - 1))
        .await;
    if let Some(ev) = w.next(WAIT).await {
        expired = Some(ev);
    }
    let ev = expired.unwrap();
    assert_eq!(ev["object"]["reason"], "Expired");
    // A fresh list + watch from its resourceVersion works.
    let rv = api.get(CM).await.rv();
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={rv}"))
        .await;
    api.post(CM, &configmap("after", json!({}))).await.ok();
    assert_eq!(name(&w.next_change(WAIT).await.unwrap()), "after");
}

#[tokio::test]
async fn bookmarks_carry_progress_and_timeout_ends_the_stream() {
    let server = start_with(&["--watch-bookmark-interval", "200ms"]);
    let api = Api::new(&server.url);
    let rv = api.post(CM, &configmap("b", json!({}))).await.rv();
    let mut w = api
        .watch(&format!(
            "{CM}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"
        ))
        .await;
    let bm = w.next(WAIT).await.expect("a bookmark");
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["metadata"]["resourceVersion"], rv.to_string());
    // The server closes the stream after timeoutSeconds.
    let mut ended = false;
    for _ in 0..50 {
        if w.next(std::time::Duration::from_secs(5)).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended);
}

#[tokio::test]
async fn many_watchers_each_see_every_event() {
    let server = start();
    let api = Api::new(&server.url);
    let rv = api.get(CM).await.rv();
    let mut watchers = Vec::new();
    for _ in 0..50 {
        watchers.push(
            api.watch(&format!("{CM}?watch=true&resourceVersion={rv}"))
                .await,
        );
    }
    for i in 0..5 {
        api.post(CM, &configmap(&format!("w{i}"), json!({})))
            .await
            .ok();
    }
    for w in &mut watchers {
        for i in 0..5 {
            assert_eq!(name(&w.next_change(WAIT).await.unwrap()), format!("w{i}"));
        }
    }
}
