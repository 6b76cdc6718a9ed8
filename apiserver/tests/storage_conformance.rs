//! One conformance suite for every storage backend: each case is an async
//! function over `Arc<dyn Storage>`, and `conformance!` instantiates it once
//! against SQLite (in a temp dir) and once against a real etcd process.
//! Without an etcd binary the etcd instances print a loud skip message.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tug_apiserver::storage::{
    compactor, spawn_compactor, EtcdStorage, KeyValue, ListOptions, SqliteOptions, SqliteStorage,
    Storage, StorageError, WatchEvent, WatchStream,
};
use tug_tests::etcd::{etcd_available, EtcdProcess};

/// How long any single expected thing may take.
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- backends

/// A backend under test plus whatever must outlive it (dropped after it).
struct Backend {
    storage: Arc<dyn Storage>,
    _guard: Box<dyn Send>,
}

fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = SqliteStorage::open(&dir.path().join("state.db")).expect("open sqlite");
    Backend {
        storage: Arc::new(storage),
        _guard: Box::new(dir),
    }
}

async fn etcd_backend() -> Option<Backend> {
    if !etcd_available() {
        eprintln!("SKIPPED: etcd not installed (apt-get install etcd-server)");
        return None;
    }
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .expect("join")
        .expect("start etcd");
    let storage = EtcdStorage::connect(std::slice::from_ref(&etcd.endpoint))
        .await
        .expect("connect to etcd");
    Some(Backend {
        storage: Arc::new(storage),
        _guard: Box::new(etcd),
    })
}

/// Instantiates every listed case for both backends.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = super::sqlite_backend();
                    super::$case(backend.storage.clone()).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(backend) = super::etcd_backend().await else { return };
                    super::$case(backend.storage.clone()).await;
                }
            )*
        }
    };
}

conformance!(
    create_and_already_exists,
    get_not_found,
    update_compare_and_swap,
    delete_with_and_without_cas,
    recreate_after_delete,
    revisions_strictly_increase,
    list_in_key_order_with_prefix_isolation,
    list_at_older_revision,
    list_at_future_revision,
    pagination_visits_every_key_once,
    count_keys,
    watch_replays_missed_events_then_live,
    watch_from_current_revision_sees_only_new_events,
    watch_prefix_isolation,
    compaction,
    compactor_keeps_recent_revisions,
    concurrent_writers,
);

// ---------------------------------------------------------------- helpers

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(DEADLINE, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within {DEADLINE:?}"),
    }
}

/// Writes a sentinel under `prefix` and asserts it is the next event:
/// proves nothing else was delivered before it.
async fn expect_only_sentinel_next(storage: &dyn Storage, stream: &mut WatchStream, prefix: &str) {
    let key = format!("{prefix}~sentinel");
    let rev = storage.create(&key, v("s")).await.unwrap();
    let event = next_event(stream).await;
    assert_eq!((event.key(), event.revision()), (key.as_str(), rev));
}

/// A watch from `after` must fail with `Compacted`, from the call or as
/// its first item.
async fn assert_watch_compacted(storage: &dyn Storage, prefix: &str, after: i64) {
    match storage.watch(prefix, after).await {
        Err(StorageError::Compacted { .. }) => {}
        Err(e) => panic!("watch from {after}: expected Compacted, got {e}"),
        Ok(mut stream) => match tokio::time::timeout(DEADLINE, stream.next()).await {
            Ok(Some(Err(StorageError::Compacted { .. }))) => {}
            other => panic!("watch from {after}: expected Compacted first, got {other:?}"),
        },
    }
}

fn put(key: &str, value: &str, create: i64, rev: i64, prev: Option<(&str, i64)>) -> WatchEvent {
    WatchEvent::Put {
        kv: kv(key, value, create, rev),
        prev: prev.map(|(value, prev_rev)| kv(key, value, create, prev_rev)),
    }
}

fn kv(key: &str, value: &str, create: i64, rev: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: v(value),
        create_revision: create,
        mod_revision: rev,
    }
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

// ---------------------------------------------------------------- cases

async fn create_and_already_exists(s: Arc<dyn Storage>) {
    let rev = s.create("/registry/pods/ns/a", v("one")).await.unwrap();
    assert!(rev > 0);
    assert_eq!(
        s.get("/registry/pods/ns/a").await.unwrap(),
        kv("/registry/pods/ns/a", "one", rev, rev)
    );
    assert_eq!(
        s.create("/registry/pods/ns/a", v("two")).await,
        Err(StorageError::AlreadyExists("/registry/pods/ns/a".into()))
    );
    assert_eq!(s.get("/registry/pods/ns/a").await.unwrap().value, v("one"));
    assert_eq!(s.current_revision().await.unwrap(), rev);
    // Empty and binary values round-trip.
    let rev = s
        .create("/registry/pods/ns/empty", Vec::new())
        .await
        .unwrap();
    assert_eq!(
        s.get("/registry/pods/ns/empty").await.unwrap().mod_revision,
        rev
    );
    s.create("/registry/pods/ns/bin", vec![0, 255, 1])
        .await
        .unwrap();
    assert_eq!(
        s.get("/registry/pods/ns/bin").await.unwrap().value,
        vec![0, 255, 1]
    );
}

async fn get_not_found(s: Arc<dyn Storage>) {
    assert_eq!(
        s.get("/registry/pods/ns/missing").await,
        Err(StorageError::NotFound("/registry/pods/ns/missing".into()))
    );
    s.create("/registry/pods/ns/missingx", v("x"))
        .await
        .unwrap();
    assert!(matches!(
        s.get("/registry/pods/ns/missing").await,
        Err(StorageError::NotFound(_))
    ));
}

async fn update_compare_and_swap(s: Arc<dyn Storage>) {
    let key = "/registry/pods/ns/a";
    let r1 = s.create(key, v("1")).await.unwrap();
    let r2 = s.update(key, v("2"), r1).await.unwrap();
    assert!(r2 > r1);
    assert_eq!(s.get(key).await.unwrap(), kv(key, "2", r1, r2));
    let conflict = StorageError::Conflict {
        key: key.into(),
        expected: r1,
        actual: Some(r2),
    };
    assert_eq!(s.update(key, v("3"), r1).await, Err(conflict));
    assert!(matches!(
        s.update(key, v("3"), 0).await,
        Err(StorageError::Conflict { actual: Some(a), .. }) if a == r2
    ));
    assert_eq!(s.get(key).await.unwrap().value, v("2"));
    assert_eq!(
        s.update("/registry/pods/ns/missing", v("x"), r2).await,
        Err(StorageError::NotFound("/registry/pods/ns/missing".into()))
    );
    assert!(matches!(
        s.update("/registry/pods/ns/missing", v("x"), 0).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.get("/registry/pods/ns/missing").await,
        Err(StorageError::NotFound(_))
    ));
}

async fn delete_with_and_without_cas(s: Arc<dyn Storage>) {
    let (a, b) = ("/registry/pods/ns/a", "/registry/pods/ns/b");
    assert_eq!(
        s.delete(a, None).await,
        Err(StorageError::NotFound(a.into()))
    );
    assert_eq!(
        s.delete(a, Some(1)).await,
        Err(StorageError::NotFound(a.into()))
    );
    let ra = s.create(a, v("a")).await.unwrap();
    let rb = s.create(b, v("b")).await.unwrap();
    assert_eq!(
        s.delete(a, Some(rb)).await,
        Err(StorageError::Conflict {
            key: a.into(),
            expected: rb,
            actual: Some(ra),
        })
    );
    let (prev, rd) = s.delete(a, Some(ra)).await.unwrap();
    assert_eq!(prev, kv(a, "a", ra, ra));
    assert!(rd > rb);
    assert!(matches!(s.get(a).await, Err(StorageError::NotFound(_))));
    assert!(matches!(
        s.delete(a, Some(ra)).await,
        Err(StorageError::NotFound(_))
    ));
    let (prev, rd2) = s.delete(b, None).await.unwrap();
    assert_eq!(prev, kv(b, "b", rb, rb));
    assert!(rd2 > rd);
    assert_eq!(s.current_revision().await.unwrap(), rd2);
    assert!(matches!(
        s.delete(b, None).await,
        Err(StorageError::NotFound(_))
    ));
}

async fn recreate_after_delete(s: Arc<dyn Storage>) {
    let key = "/registry/pods/ns/a";
    let r1 = s.create(key, v("1")).await.unwrap();
    s.update(key, v("2"), r1).await.unwrap();
    s.delete(key, None).await.unwrap();
    let r4 = s.create(key, v("new")).await.unwrap();
    assert_eq!(s.get(key).await.unwrap(), kv(key, "new", r4, r4));
    let r5 = s.update(key, v("newer"), r4).await.unwrap();
    assert_eq!(s.get(key).await.unwrap(), kv(key, "newer", r4, r5));
}

async fn revisions_strictly_increase(s: Arc<dyn Storage>) {
    let mut last = s.current_revision().await.unwrap();
    let mut check = |rev: i64| {
        assert!(rev > last, "revision {rev} after {last}");
        last = rev;
    };
    for i in 0..10 {
        check(s.create(&format!("/registry/a/{i}"), v("x")).await.unwrap());
        check(s.create(&format!("/registry/b/{i}"), v("x")).await.unwrap());
    }
    for i in 0..10 {
        let key = format!("/registry/a/{i}");
        let rev = s.get(&key).await.unwrap().mod_revision;
        check(s.update(&key, v("y"), rev).await.unwrap());
        check(s.delete(&format!("/registry/b/{i}"), None).await.unwrap().1);
    }
    // Failed writes do not consume revisions.
    assert!(s.create("/registry/a/0", v("z")).await.is_err());
    assert!(s.update("/registry/a/0", v("z"), 1).await.is_err());
    assert_eq!(s.current_revision().await.unwrap(), last);
}

async fn list_in_key_order_with_prefix_isolation(s: Arc<dyn Storage>) {
    for name in ["c", "a", "b/x", "b", "a0"] {
        s.create(&format!("/registry/pods/{name}"), v(name))
            .await
            .unwrap();
    }
    for other in [
        "/registry/podsx/a",
        "/registry/pods",
        "/registry/pod",
        "/registry/a",
    ] {
        s.create(other, v("other")).await.unwrap();
    }
    let deleted = s.create("/registry/pods/gone", v("x")).await.unwrap();
    s.delete("/registry/pods/gone", Some(deleted))
        .await
        .unwrap();
    let current = s.current_revision().await.unwrap();
    let list = s
        .list("/registry/pods/", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(
        keys(&list.items),
        [
            "/registry/pods/a",
            "/registry/pods/a0",
            "/registry/pods/b",
            "/registry/pods/b/x",
            "/registry/pods/c"
        ]
    );
    assert_eq!(list.items[0].value, v("a"));
    assert_eq!(list.revision, current);
    assert!(!list.more);
    let all = s.list("", ListOptions::default()).await.unwrap();
    assert_eq!(all.items.len(), 9);
    let none = s
        .list("/registry/none/", ListOptions::default())
        .await
        .unwrap();
    assert!(none.items.is_empty() && !none.more);
}

async fn list_at_older_revision(s: Arc<dyn Storage>) {
    let p = "/registry/cm/";
    let ra = s.create("/registry/cm/a", v("a1")).await.unwrap();
    let rb = s.create("/registry/cm/b", v("b1")).await.unwrap();
    let old = s.current_revision().await.unwrap();
    let ra2 = s.update("/registry/cm/a", v("a2"), ra).await.unwrap();
    s.delete("/registry/cm/b", None).await.unwrap();
    let rc = s.create("/registry/cm/c", v("c1")).await.unwrap();

    let then = s
        .list(
            p,
            ListOptions {
                revision: Some(old),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(then.revision, old);
    assert_eq!(
        then.items,
        [
            kv("/registry/cm/a", "a1", ra, ra),
            kv("/registry/cm/b", "b1", rb, rb)
        ]
    );
    let now = s.list(p, ListOptions::default()).await.unwrap();
    assert_eq!(now.revision, rc);
    assert_eq!(
        now.items,
        [
            kv("/registry/cm/a", "a2", ra, ra2),
            kv("/registry/cm/c", "c1", rc, rc)
        ]
    );
}

async fn list_at_future_revision(s: Arc<dyn Storage>) {
    s.create("/registry/cm/a", v("a")).await.unwrap();
    let future = s.current_revision().await.unwrap() + 10;
    let opts = ListOptions {
        revision: Some(future),
        ..Default::default()
    };
    assert_eq!(
        s.list("/registry/cm/", opts).await,
        Err(StorageError::FutureRevision(future))
    );
}

async fn pagination_visits_every_key_once(s: Arc<dyn Storage>) {
    let p = "/registry/secrets/";
    let mut expected = Vec::new();
    for i in 0..23 {
        let key = format!("{p}ns/{i:02}");
        s.create(&key, v("x")).await.unwrap();
        expected.push(key);
    }
    s.create("/registry/secretsx/ns/00", v("x")).await.unwrap();
    for limit in [1, 5, 23, 30] {
        let mut seen = Vec::new();
        let mut start_after = None;
        let mut revision = None;
        loop {
            let page = s
                .list(
                    p,
                    ListOptions {
                        revision,
                        start_after: start_after.clone(),
                        limit,
                    },
                )
                .await
                .unwrap();
            assert!(page.items.len() <= limit);
            // Later pages read the first page's snapshot; a write in between is invisible.
            if revision.is_none() {
                revision = Some(page.revision);
                s.create(&format!("{p}ns/00a-{limit}"), v("late"))
                    .await
                    .unwrap();
            }
            assert_eq!(Some(page.revision), revision);
            seen.extend(page.items.iter().map(|kv| kv.key.clone()));
            let remaining = expected.len() - seen.len().min(expected.len());
            assert_eq!(
                page.more,
                remaining > 0,
                "limit {limit}, seen {}",
                seen.len()
            );
            if !page.more {
                break;
            }
            start_after = page.items.last().map(|kv| kv.key.clone());
        }
        assert_eq!(seen, expected, "limit {limit}");
        for late in s.list(p, ListOptions::default()).await.unwrap().items {
            if late.value == v("late") {
                s.delete(&late.key, None).await.unwrap();
            }
        }
    }
}

async fn count_keys(s: Arc<dyn Storage>) {
    assert_eq!(s.count("/registry/pods/").await.unwrap(), 0);
    for i in 0..7 {
        s.create(&format!("/registry/pods/ns/{i}"), v("x"))
            .await
            .unwrap();
    }
    s.create("/registry/podsx/ns/0", v("x")).await.unwrap();
    let rev = s.get("/registry/pods/ns/3").await.unwrap().mod_revision;
    s.update("/registry/pods/ns/3", v("y"), rev).await.unwrap();
    assert_eq!(s.count("/registry/pods/").await.unwrap(), 7);
    s.delete("/registry/pods/ns/0", None).await.unwrap();
    assert_eq!(s.count("/registry/pods/").await.unwrap(), 6);
    assert_eq!(s.count("/registry/podsx/").await.unwrap(), 1);
    assert_eq!(s.count("/registry/").await.unwrap(), 7);
}

async fn watch_replays_missed_events_then_live(s: Arc<dyn Storage>) {
    let p = "/registry/pods/";
    let start = s.current_revision().await.unwrap();
    let ra = s.create("/registry/pods/a", v("a1")).await.unwrap();
    s.create("/registry/podsx/a", v("other")).await.unwrap();
    let ra2 = s.update("/registry/pods/a", v("a2"), ra).await.unwrap();
    let rb = s.create("/registry/pods/b", v("b1")).await.unwrap();
    let (_, rd) = s.delete("/registry/pods/a", Some(ra2)).await.unwrap();

    let mut w = s.watch(p, start).await.unwrap();
    assert_eq!(
        next_event(&mut w).await,
        put("/registry/pods/a", "a1", ra, ra, None)
    );
    assert_eq!(
        next_event(&mut w).await,
        put("/registry/pods/a", "a2", ra, ra2, Some(("a1", ra)))
    );
    assert_eq!(
        next_event(&mut w).await,
        put("/registry/pods/b", "b1", rb, rb, None)
    );
    assert_eq!(
        next_event(&mut w).await,
        WatchEvent::Delete {
            prev: kv("/registry/pods/a", "a2", ra, ra2),
            revision: rd,
        }
    );
    // Live events follow without a gap.
    let rb2 = s.update("/registry/pods/b", v("b2"), rb).await.unwrap();
    assert_eq!(
        next_event(&mut w).await,
        put("/registry/pods/b", "b2", rb, rb2, Some(("b1", rb)))
    );
    let (_, rd2) = s.delete("/registry/pods/b", None).await.unwrap();
    assert_eq!(
        next_event(&mut w).await,
        WatchEvent::Delete {
            prev: kv("/registry/pods/b", "b2", rb, rb2),
            revision: rd2,
        }
    );
    expect_only_sentinel_next(&*s, &mut w, p).await;

    // A watch from the middle gets only what came after.
    let mut mid = s.watch(p, ra2).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next_event(&mut mid).await.revision());
    }
    assert_eq!(seen[..4], [rb, rd, rb2, rd2]);
    assert!(seen[4] > rd2);
}

async fn watch_from_current_revision_sees_only_new_events(s: Arc<dyn Storage>) {
    let p = "/registry/pods/";
    s.create("/registry/pods/old", v("x")).await.unwrap();
    let now = s.current_revision().await.unwrap();
    let mut w = s.watch(p, now).await.unwrap();
    let rev = s.create("/registry/pods/new", v("y")).await.unwrap();
    assert_eq!(
        next_event(&mut w).await,
        put("/registry/pods/new", "y", rev, rev, None)
    );
}

async fn watch_prefix_isolation(s: Arc<dyn Storage>) {
    let p = "/registry/pods/";
    let start = s.current_revision().await.unwrap();
    let mut live = s.watch(p, start).await.unwrap();
    s.create("/registry/podsx/a", v("x")).await.unwrap();
    s.create("/registry/pod", v("x")).await.unwrap();
    s.create("/registry/pods", v("x")).await.unwrap();
    let rev = s.create("/registry/pods/a", v("x")).await.unwrap();
    s.create("/registry/services/a", v("x")).await.unwrap();
    // Replayed and live watches both see only the prefix.
    let mut replayed = s.watch(p, start).await.unwrap();
    for w in [&mut live, &mut replayed] {
        assert_eq!(next_event(w).await.revision(), rev);
    }
    let key = "/registry/pods/~sentinel";
    let sentinel = s.create(key, v("s")).await.unwrap();
    for w in [&mut live, &mut replayed] {
        assert_eq!(next_event(w).await.revision(), sentinel);
    }
}

async fn compaction(s: Arc<dyn Storage>) {
    let p = "/registry/pods/";
    let key = "/registry/pods/a";
    let start = s.current_revision().await.unwrap();
    let mut rev = s.create(key, v("0")).await.unwrap();
    let r_gone = s.create("/registry/pods/gone", v("x")).await.unwrap();
    s.delete("/registry/pods/gone", Some(r_gone)).await.unwrap();
    s.create("/registry/pods/stays", v("s")).await.unwrap();
    for i in 1..=5 {
        rev = s.update(key, v(&i.to_string()), rev).await.unwrap();
    }
    let compact_at = rev; // an update of `key`: etcd keeps the event at the compacted revision
    for i in 6..=8 {
        rev = s.update(key, v(&i.to_string()), rev).await.unwrap();
    }
    assert_eq!(s.compacted_revision().await.unwrap(), 0);
    s.compact(compact_at).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), compact_at);

    let at = |revision| ListOptions {
        revision: Some(revision),
        ..Default::default()
    };
    assert!(matches!(
        s.list(p, at(compact_at - 1)).await,
        Err(StorageError::Compacted { requested, compacted })
            if requested == compact_at - 1 && compacted == compact_at
    ));
    assert!(matches!(
        s.list(p, at(start.max(1))).await,
        Err(StorageError::Compacted { .. })
    ));
    let then = s.list(p, at(compact_at)).await.unwrap();
    assert_eq!(
        keys(&then.items),
        ["/registry/pods/a", "/registry/pods/stays"]
    );
    assert_eq!(then.items[0].value, v("5"));

    assert_watch_compacted(&*s, p, start).await;
    assert_watch_compacted(&*s, p, compact_at - 2).await;
    let mut w = s.watch(p, compact_at - 1).await.unwrap();
    let mut values = Vec::new();
    for _ in 0..4 {
        match next_event(&mut w).await {
            WatchEvent::Put { kv, .. } => values.push(String::from_utf8(kv.value).unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(values, ["5", "6", "7", "8"]);

    // Current values are intact.
    let now = s.list(p, ListOptions::default()).await.unwrap();
    assert_eq!(
        keys(&now.items),
        ["/registry/pods/a", "/registry/pods/stays"]
    );
    assert_eq!(s.get(key).await.unwrap().value, v("8"));
    assert_eq!(s.get("/registry/pods/stays").await.unwrap().value, v("s"));
    assert!(matches!(
        s.get("/registry/pods/gone").await,
        Err(StorageError::NotFound(_))
    ));
    // The deleted key can be created again.
    s.create("/registry/pods/gone", v("back")).await.unwrap();

    // Compacting an already compacted revision is a no-op; the future is refused.
    s.compact(compact_at - 1).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), compact_at);
    let future = s.current_revision().await.unwrap() + 5;
    assert_eq!(
        s.compact(future).await,
        Err(StorageError::FutureRevision(future))
    );
    let current = s.current_revision().await.unwrap();
    s.compact(current).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), current);
    assert_eq!(s.get(key).await.unwrap().value, v("8"));
    assert_eq!(s.count(p).await.unwrap(), 3);
}

async fn compactor_keeps_recent_revisions(s: Arc<dyn Storage>) {
    let key = "/registry/leases/a";
    let mut rev = s.create(key, v("0")).await.unwrap();
    for i in 1..20 {
        rev = s.update(key, v(&i.to_string()), rev).await.unwrap();
    }
    assert_eq!(
        compactor::compact_once(&*s, 5).await.unwrap(),
        Some(rev - 5)
    );
    assert_eq!(compactor::compact_once(&*s, 5).await.unwrap(), None);
    for i in 20..25 {
        rev = s.update(key, v(&i.to_string()), rev).await.unwrap();
    }
    let handle = spawn_compactor(s.clone(), Duration::from_millis(10), 3);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while s.compacted_revision().await.unwrap() != rev - 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "compactor did not run"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.abort();
    let mut w = s.watch("/registry/leases/", rev - 4).await.unwrap();
    assert_eq!(next_event(&mut w).await.revision(), rev - 3);
    assert_eq!(s.get(key).await.unwrap().value, v("24"));
}

async fn concurrent_writers(s: Arc<dyn Storage>) {
    const TASKS: usize = 16;
    const INCREMENTS: usize = 50;
    let key = "/registry/counters/c";
    let start = s.create(key, v("0")).await.unwrap();
    let mut watch = s.watch("/registry/counters/", start).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..INCREMENTS {
                loop {
                    let current = s.get(key).await.unwrap();
                    let n: usize = String::from_utf8(current.value).unwrap().parse().unwrap();
                    match s
                        .update(key, v(&(n + 1).to_string()), current.mod_revision)
                        .await
                    {
                        Ok(_) => break,
                        Err(StorageError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("update failed: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    // Drain the watch while the writers run (a watcher must keep up).
    let total = TASKS * INCREMENTS;
    let mut last = start;
    for expected in 1..=total {
        match next_event(&mut watch).await {
            WatchEvent::Put {
                kv,
                prev: Some(prev),
            } => {
                assert!(kv.mod_revision > last, "revisions out of order");
                assert_eq!(prev.mod_revision, last, "a revision was skipped");
                assert_eq!(kv.value, v(&expected.to_string()));
                assert_eq!(prev.value, v(&(expected - 1).to_string()));
                last = kv.mod_revision;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(s.get(key).await.unwrap().value, v(&total.to_string()));
    assert_eq!(s.get(key).await.unwrap().mod_revision, last);
    expect_only_sentinel_next(&*s, &mut watch, "/registry/counters/").await;
}

// ---------------------------------------------------------------- SQLite only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_data_revisions_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (rev, compacted) = {
        let s = SqliteStorage::open(&path).unwrap();
        let mut rev = s.create("/registry/a", v("0")).await.unwrap();
        for i in 1..=5 {
            rev = s
                .update("/registry/a", v(&i.to_string()), rev)
                .await
                .unwrap();
        }
        s.create("/registry/b", v("b")).await.unwrap();
        let (_, deleted) = s.delete("/registry/b", None).await.unwrap();
        s.compact(rev).await.unwrap();
        (deleted, rev)
    };
    let s = SqliteStorage::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), rev);
    assert_eq!(s.compacted_revision().await.unwrap(), compacted);
    assert_eq!(s.get("/registry/a").await.unwrap().value, v("5"));
    assert!(matches!(
        s.get("/registry/b").await,
        Err(StorageError::NotFound(_))
    ));
    let opts = ListOptions {
        revision: Some(compacted - 1),
        ..Default::default()
    };
    assert!(matches!(
        s.list("/registry/", opts).await,
        Err(StorageError::Compacted { .. })
    ));
    // The delete after the compacted revision is still replayed.
    let mut w = s.watch("/registry/", compacted).await.unwrap();
    assert!(
        matches!(next_event(&mut w).await, WatchEvent::Put { kv, .. } if kv.key == "/registry/b")
    );
    assert_eq!(next_event(&mut w).await.revision(), rev);
    // Revisions keep increasing, also past compacted-away ids.
    let new = s.create("/registry/b", v("again")).await.unwrap();
    assert!(new > rev);
    drop(s);
    let s = SqliteStorage::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), new);
    s.compact(new).await.unwrap();
    drop(s);
    let s = SqliteStorage::open(&path).unwrap();
    assert!(s.create("/registry/c", v("c")).await.unwrap() > new);
    assert_eq!(s.compacted_revision().await.unwrap(), new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lagging_watcher_fails_without_blocking_writers() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        watch_buffer: 8,
        ..Default::default()
    };
    let s = SqliteStorage::open_with(&dir.path().join("state.db"), options).unwrap();
    let mut slow = s.watch("/registry/", 0).await.unwrap();
    for i in 0..50 {
        s.create(&format!("/registry/k{i:02}"), v("x"))
            .await
            .unwrap();
    }
    let mut delivered = 0;
    let error = loop {
        match tokio::time::timeout(DEADLINE, slow.next()).await.unwrap() {
            Some(Ok(_)) => delivered += 1,
            Some(Err(e)) => break e,
            None => panic!("stream ended without an error"),
        }
    };
    assert!(delivered < 50);
    assert!(
        matches!(&error, StorageError::Backend(m) if m.contains("too slow")),
        "{error}"
    );
    assert!(tokio::time::timeout(DEADLINE, slow.next())
        .await
        .unwrap()
        .is_none());
    // A fresh watch replays everything from the log.
    let mut fresh = s.watch("/registry/", 0).await.unwrap();
    for _ in 0..50 {
        next_event(&mut fresh).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_compaction_overtaking_a_replay_fails_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(&dir.path().join("state.db")).unwrap();
    let key = "/registry/a";
    let mut rev = s.create(key, v("0")).await.unwrap();
    for i in 1..2500 {
        rev = s.update(key, v(&i.to_string()), rev).await.unwrap();
    }
    let mut w = s.watch("/registry/", 0).await.unwrap();
    assert_eq!(next_event(&mut w).await.revision(), 1);
    s.compact(rev).await.unwrap();
    // What was already read is delivered, then the gap is reported.
    let mut last = 1;
    let error = loop {
        match tokio::time::timeout(DEADLINE, w.next()).await.unwrap() {
            Some(Ok(event)) => {
                assert_eq!(event.revision(), last + 1);
                last = event.revision();
            }
            Some(Err(e)) => break e,
            None => panic!("watch ended without an error"),
        }
    };
    assert!(last < rev);
    assert!(matches!(error, StorageError::Compacted { compacted, .. } if compacted == rev));
    assert!(tokio::time::timeout(DEADLINE, w.next())
        .await
        .unwrap()
        .is_none());
}

/// Environment variable that turns `sqlite_crash_child` into a writer.
const CRASH_CHILD_DB: &str = "TUG_STORAGE_CRASH_CHILD_DB";

/// The child half of `sqlite_acknowledged_writes_survive_a_kill`: writes
/// until killed, printing each acknowledged write. A no-op otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crash_child() {
    let Some(path) = std::env::var_os(CRASH_CHILD_DB) else {
        return;
    };
    let s = Arc::new(SqliteStorage::open(std::path::Path::new(&path)).unwrap());
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/registry/crash/{t}-{i}");
                    let rev = s.create(&key, v("x")).await.unwrap();
                    // Stdout is line-buffered: the line is out once printed.
                    println!("ACK {key} {rev}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
}

#[test]
fn sqlite_acknowledged_writes_survive_a_kill() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sqlite_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_DB, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((key, rev)) = line.strip_prefix("ACK ").and_then(|l| l.split_once(' ')) {
            acked.push((key.to_owned(), rev.parse::<i64>().unwrap()));
            if acked.len() == 2000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no shutdown code runs
    child.wait().unwrap();
    assert_eq!(acked.len(), 2000, "the child stopped writing early");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let s = SqliteStorage::open(&path).unwrap();
        let mut max = 0;
        for (key, rev) in &acked {
            assert_eq!(s.get(key).await.unwrap().mod_revision, *rev, "{key}");
            max = max.max(*rev);
        }
        assert!(s.current_revision().await.unwrap() >= max);
        assert!(s.create("/registry/after", v("x")).await.unwrap() > max);
    });
}
