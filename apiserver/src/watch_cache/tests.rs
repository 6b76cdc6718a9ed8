use super::*;
use crate::registry::{ObjectAttrs, Registry};
use crate::storage::SqliteStorage;
use std::time::Duration;

/// A watch cache of `plural` over a fresh embedded store.
struct Fixture {
    _dir: tempfile::TempDir,
    storage: Arc<dyn Storage>,
    cache: Arc<WatchCache>,
}

async fn fixture(plural: &str, capacity: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir.path().join("db")).unwrap());
    let registry = Registry::new(crate::registry::all_kinds());
    let handler = registry.get("", "v1", plural).unwrap().clone();
    let cache = WatchCache::start(handler, storage.clone(), capacity)
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        storage,
        cache,
    }
}

impl Fixture {
    fn watchers(&self) -> usize {
        self.cache.state.lock().unwrap().watchers.len()
    }
}

fn selector(s: &str) -> FieldSelector {
    FieldSelector::parse(s).unwrap()
}

fn configmap(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_watcher_is_cut_off_and_others_see_everything() {
    let f = fixture("configmaps", 16).await;
    let (storage, cache) = (f.storage.clone(), f.cache.clone());
    let start = storage.current_revision().await.unwrap();

    let mut slow = cache.watch(start, &FieldSelector::everything()).await;
    let mut fast = cache.watch(start, &FieldSelector::everything()).await;
    let total = WATCHER_BACKLOG + 100;
    let writer = {
        let storage = storage.clone();
        tokio::spawn(async move {
            for i in 0..total {
                let key = format!("/registry/configmaps/default/c{i}");
                storage
                    .create(&key, configmap(&format!("c{i}")))
                    .await
                    .unwrap();
            }
        })
    };
    // The fast watcher keeps up and sees every write in order.
    let mut last = start;
    for _ in 0..total {
        let ev = tokio::time::timeout(Duration::from_secs(30), fast.next())
            .await
            .expect("fast watcher is never starved")
            .expect("stream open")
            .expect("fast watcher is not cut off");
        assert!(ev.revision > last);
        last = ev.revision;
    }
    writer.await.unwrap();
    // The slow one never read: it is told it was closed, after at most
    // its backlog.
    let mut delivered = 0;
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.next()).await {
            Ok(Some(Ok(_))) => delivered += 1,
            Ok(Some(Err(end))) => break end,
            other => panic!("slow watcher neither cut off nor served: {other:?}"),
        }
    };
    assert!(matches!(end, WatchEnd::Interrupted(_)), "{end:?}");
    assert!(delivered <= WATCHER_BACKLOG, "{delivered}");
    assert!(
        slow.next().await.is_none(),
        "the stream ends after the cut-off"
    );
    assert_eq!(
        f.watchers(),
        1,
        "the cut-off watcher is no longer dispatched to"
    );
    drop((slow, fast));
    assert_eq!(f.watchers(), 0, "dropped watchers are forgotten");
}

fn pod(name: &str, node: &str, phase: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]},
        "status": {"phase": phase},
    }))
    .unwrap()
}

fn pod_key(name: &str) -> String {
    format!("/registry/pods/default/{name}")
}

/// Pod writes a scheduler and kubelets make, and a pod moving between
/// nodes (which the API forbids, but the index must not rely on that).
/// Returns their revisions, in order.
async fn pod_story(storage: &Arc<dyn Storage>) -> Vec<i64> {
    let mut revs = Vec::new();
    let mut put = |rev: i64| {
        revs.push(rev);
        rev
    };
    let p1 = put(storage
        .create(&pod_key("p1"), pod("p1", "", "Pending"))
        .await
        .unwrap());
    let p2 = put(storage
        .create(&pod_key("p2"), pod("p2", "", "Pending"))
        .await
        .unwrap());
    let p3 = put(storage
        .create(&pod_key("p3"), pod("p3", "node-a", "Pending"))
        .await
        .unwrap());
    let upd = |name: &'static str, node: &'static str, phase: &'static str, rev: i64| {
        let storage = storage.clone();
        async move {
            storage
                .update(&pod_key(name), pod(name, node, phase), rev)
                .await
                .unwrap()
        }
    };
    let p1 = put(upd("p1", "node-a", "Pending", p1).await); // bound
    put(upd("p2", "node-b", "Pending", p2).await); // bound
    put(upd("p1", "node-a", "Running", p1).await); // status
    put(storage.delete(&pod_key("p1"), None).await.unwrap().1);
    put(storage.delete(&pod_key("p2"), None).await.unwrap().1);
    put(upd("p3", "node-c", "Pending", p3).await); // moved away
    revs
}

async fn next_event(w: &mut CacheWatch) -> Arc<CacheEvent> {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("not cut off")
}

/// What a watcher with field selector `sel` makes of `ev`: (type, pod name).
fn seen(ev: &CacheEvent, sel: &FieldSelector) -> Option<Seen> {
    let matches = |a: &ObjectAttrs| sel.matches(|f| a.fields.get(f).cloned());
    let (t, obj) = ev.as_seen_by(&matches)?;
    let obj: serde_json::Value = serde_json::from_slice(obj).unwrap();
    Some((
        t.as_str(),
        obj["metadata"]["name"].as_str().unwrap().to_string(),
    ))
}

/// Read exactly the events at `revs` (indexes into the story's
/// revisions) and check nothing else is queued; returns what the watcher
/// makes of them.
async fn read_exactly(w: &mut CacheWatch, sel: &str, story: &[i64], revs: &[usize]) -> Vec<Seen> {
    let sel = selector(sel);
    let mut out = Vec::new();
    for &i in revs {
        let ev = next_event(w).await;
        assert_eq!(ev.revision, story[i], "{sel}: event #{i} of the story");
        out.extend(seen(&ev, &sel));
    }
    // Drained up to the newest revision: nothing more was queued for it.
    assert_eq!(w.bookmark_revision(), story.last().copied(), "{sel}");
    out
}

/// An event as a watcher sees it: (type, pod name).
type Seen = (&'static str, String);

fn ev(t: &'static str, name: &str) -> Seen {
    (t, name.to_string())
}

/// The events of [`pod_story`] each kind of pod watcher is handed (story
/// indexes) and what it sees of them.
fn expectations() -> Vec<(&'static str, Vec<usize>, Vec<Seen>)> {
    vec![
        (
            "spec.nodeName=node-a",
            vec![2, 3, 5, 6, 8],
            vec![
                ev("ADDED", "p3"),
                ev("ADDED", "p1"),
                ev("MODIFIED", "p1"),
                ev("DELETED", "p1"),
                ev("DELETED", "p3"),
            ],
        ),
        (
            "spec.nodeName=node-b",
            vec![4, 7],
            vec![ev("ADDED", "p2"), ev("DELETED", "p2")],
        ),
        ("spec.nodeName=node-c", vec![8], vec![ev("ADDED", "p3")]),
        // The scheduler's unscheduled pods: bound pods leave it.
        (
            "spec.nodeName=",
            vec![0, 1, 3, 4],
            vec![
                ev("ADDED", "p1"),
                ev("ADDED", "p2"),
                ev("DELETED", "p1"),
                ev("DELETED", "p2"),
            ],
        ),
        // Pinning another field as well still narrows by node.
        (
            "spec.nodeName=node-a,status.phase=Running",
            vec![2, 3, 5, 6, 8],
            vec![ev("ADDED", "p1"), ev("DELETED", "p1")],
        ),
        // Not pinned by `=`: the general path, every event.
        (
            "spec.nodeName!=",
            (0..9).collect(),
            vec![
                ev("ADDED", "p3"),
                ev("ADDED", "p1"),
                ev("ADDED", "p2"),
                ev("MODIFIED", "p1"),
                ev("DELETED", "p1"),
                ev("DELETED", "p2"),
                ev("MODIFIED", "p3"),
            ],
        ),
        (
            "",
            (0..9).collect(),
            vec![
                ev("ADDED", "p1"),
                ev("ADDED", "p2"),
                ev("ADDED", "p3"),
                ev("MODIFIED", "p1"),
                ev("MODIFIED", "p2"),
                ev("MODIFIED", "p1"),
                ev("DELETED", "p1"),
                ev("DELETED", "p2"),
                ev("MODIFIED", "p3"),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_watchers_get_exactly_their_pods_events() {
    let f = fixture("pods", 64).await;
    let start = f.storage.current_revision().await.unwrap();
    let mut watches = Vec::new();
    for (sel, revs, want) in expectations() {
        watches.push((sel, revs, want, f.cache.watch(start, &selector(sel)).await));
    }
    let node_d = f
        .cache
        .watch(start, &selector("spec.nodeName=node-d"))
        .await;
    assert_eq!(f.watchers(), watches.len() + 1);
    let story = pod_story(&f.storage).await;

    // The general watcher is handed each event before the next is
    // dispatched to anyone, so once it has the last one, every watcher has
    // all of its own.
    for (sel, revs, want, w) in watches.iter_mut().rev() {
        assert_eq!(read_exactly(w, sel, &story, revs).await, *want, "{sel}");
    }
    // A node nothing ran on was woken for nothing, and its bookmark
    // still moves on.
    assert_eq!(node_d.bookmark_revision(), story.last().copied());

    drop(watches);
    assert_eq!(f.watchers(), 1);
    drop(node_d);
    assert_eq!(
        f.watchers(),
        0,
        "every watcher is forgotten when it goes away"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_node_watch_replays_only_its_events_from_the_cache() {
    let f = fixture("pods", 64).await;
    let start = f.storage.current_revision().await.unwrap();
    let story = pod_story(&f.storage).await;
    // Let the cache catch up with storage.
    let mut general = f.cache.watch(start, &FieldSelector::everything()).await;
    read_exactly(&mut general, "", &story, &(0..9).collect::<Vec<_>>()).await;

    for (sel, revs, want) in expectations() {
        let mut w = f.cache.watch(start, &selector(sel)).await;
        assert_eq!(
            read_exactly(&mut w, sel, &story, &revs).await,
            want,
            "{sel}"
        );
    }
    // Resuming mid-story: only what came after.
    let mut w = f
        .cache
        .watch(story[3], &selector("spec.nodeName=node-a"))
        .await;
    let got = read_exactly(&mut w, "spec.nodeName=node-a", &story, &[5, 6, 8]).await;
    assert_eq!(
        got,
        [
            ev("MODIFIED", "p1"),
            ev("DELETED", "p1"),
            ev("DELETED", "p3")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_watcher_is_cut_off_and_forgotten() {
    let f = fixture("pods", 16).await;
    let start = f.storage.current_revision().await.unwrap();
    let mut slow = f
        .cache
        .watch(start, &selector("spec.nodeName=node-a"))
        .await;
    let other = f
        .cache
        .watch(start, &selector("spec.nodeName=node-b"))
        .await;
    for i in 0..=WATCHER_BACKLOG {
        let name = format!("a{i}");
        f.storage
            .create(&pod_key(&name), pod(&name, "node-a", "Pending"))
            .await
            .unwrap();
    }
    let last = f.storage.current_revision().await.unwrap();
    // The other node's watcher is never handed node-a's pods.
    tokio::time::timeout(Duration::from_secs(10), async {
        while other.bookmark_revision() != Some(last) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the cache catches up");
    let end = tokio::time::timeout(Duration::from_secs(10), slow.next())
        .await
        .unwrap();
    assert!(
        matches!(end, Some(Err(WatchEnd::Interrupted(_)))),
        "{end:?}"
    );
    assert!(slow.next().await.is_none());
    assert_eq!(f.watchers(), 1);
}
