//! Informers against a real apiserver: the cache converges to what a
//! fresh list says under concurrent writes, across an apiserver restart
//! and through a relist after 410 Gone, and handlers see exactly the
//! changes (no missed, no phantom objects).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, obj, start, start_with, WAIT};
use futures::StreamExt;
use rand::Rng;
use serde_json::json;
use tug_api::core::{ConfigMap, Pod};
use tug_client::{
    key_of, Api, DeleteParams, Error, Event, Informer, ListParams, Patch, PostParams, Store,
};
use tug_tests::proxy::Proxy;

fn configmap(name: &str, value: &str) -> ConfigMap {
    obj(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"v": value},
    }))
}

/// What the handlers were told, replayed into a map key → resourceVersion,
/// with every inconsistency recorded: an add of a known key, an update or
/// delete of an unknown one, or a store that disagrees with the event.
#[derive(Default)]
struct Model {
    objects: BTreeMap<String, String>,
    violations: Vec<String>,
    log: Vec<(&'static str, String)>,
    resyncs: usize,
}

fn model_handler(
    model: Arc<Mutex<Model>>,
    store: Store<ConfigMap>,
) -> impl Fn(&Event<ConfigMap>) + Send + Sync + 'static {
    move |ev| {
        let mut m = model.lock().unwrap();
        let key = ev.key();
        let rv = ev.object().metadata.resource_version.clone();
        if ev.is_resync() {
            m.resyncs += 1;
            if m.objects.get(&key) != Some(&rv) {
                m.violations
                    .push(format!("resync of {key}@{rv} not in the model"));
            }
            return;
        }
        let in_store = store.get(&key).map(|o| o.metadata.resource_version.clone());
        match ev {
            Event::Added(_) => {
                if m.objects.insert(key.clone(), rv.clone()).is_some() {
                    m.violations.push(format!("add of known {key}"));
                }
                if in_store.as_deref() != Some(rv.as_str()) {
                    m.violations
                        .push(format!("add of {key} before the store had it"));
                }
                m.log.push(("add", key));
            }
            Event::Updated { old, .. } => {
                if m.objects.get(&key) != Some(&old.metadata.resource_version) {
                    m.violations
                        .push(format!("update of {key} from an unknown old state"));
                }
                m.objects.insert(key.clone(), rv.clone());
                if in_store.as_deref() != Some(rv.as_str()) {
                    m.violations
                        .push(format!("update of {key} before the store had it"));
                }
                m.log.push(("update", key));
            }
            Event::Deleted(_) => {
                if m.objects.remove(&key).is_none() {
                    m.violations.push(format!("delete of unknown {key}"));
                }
                if in_store.is_some() {
                    m.violations
                        .push(format!("delete of {key} still in the store"));
                }
                m.log.push(("delete", key));
            }
        }
    }
}

fn store_snapshot(store: &Store<ConfigMap>) -> BTreeMap<String, String> {
    store
        .list()
        .iter()
        .map(|o| (key_of(&o.metadata), o.metadata.resource_version.clone()))
        .collect()
}

async fn fresh_list(api: &Api<ConfigMap>) -> BTreeMap<String, String> {
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| (key_of(&o.metadata), o.metadata.resource_version.clone()))
        .collect()
}

/// Wait until the store (and the handlers' model) equal a fresh list.
async fn converge(api: &Api<ConfigMap>, store: &Store<ConfigMap>, model: &Arc<Mutex<Model>>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let truth = fresh_list(api).await;
        let cached = store_snapshot(store);
        let replayed = model.lock().unwrap().objects.clone();
        if cached == truth && replayed == truth {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "the cache did not converge:\n truth  {truth:?}\n cache  {cached:?}\n events {replayed:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let violations = model.lock().unwrap().violations.clone();
    assert!(
        violations.is_empty(),
        "handler inconsistencies: {violations:?}"
    );
}

/// Aborts a task when dropped (an informer stops with its test).
struct Task(tokio::task::JoinHandle<()>);
impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn run_informer(
    api: Api<ConfigMap>,
    resync: Option<Duration>,
) -> (
    Store<ConfigMap>,
    Arc<Mutex<Model>>,
    Arc<tug_client::InformerStats>,
    Task,
) {
    let model = Arc::new(Mutex::new(Model::default()));
    let mut informer = Informer::new(api, ListParams::default());
    if let Some(period) = resync {
        informer = informer.with_resync(period);
    }
    let store = informer.store();
    let informer = informer.on_event(model_handler(model.clone(), store.clone()));
    let stats = informer.stats();
    let task = Task(tokio::spawn(informer.run()));
    (store, model, stats, task)
}

/// One writer: 100 random creates, updates and deletes of its own names.
async fn writer(api: Api<ConfigMap>, id: usize, ops: usize) {
    let mut exists = [false; 8];
    for n in 0..ops {
        let slot = rand::thread_rng().gen_range(0..exists.len());
        let name = format!("w{id}-{slot}");
        if !exists[slot] {
            api.create(&PostParams::default(), &configmap(&name, &n.to_string()))
                .await
                .expect("create");
            exists[slot] = true;
        } else if rand::thread_rng().gen_bool(0.6) {
            api.patch(
                &name,
                &PostParams::default(),
                &Patch::Merge(json!({"data": {"v": n.to_string()}})),
            )
            .await
            .expect("update");
        } else {
            api.delete(&name, &DeleteParams::default())
                .await
                .expect("delete");
            exists[slot] = false;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_converges_under_concurrent_writes() {
    let server = start();
    let c = client(&server);
    let all: Api<ConfigMap> = Api::all(c.clone());
    let ns: Api<ConfigMap> = Api::namespaced(c, "default");
    // Something to list before the informer starts.
    for i in 0..5 {
        ns.create(&PostParams::default(), &configmap(&format!("pre-{i}"), "0"))
            .await
            .unwrap();
    }
    let (store, model, stats, _task) = run_informer(all.clone(), None);
    tokio::time::timeout(WAIT, store.wait_synced())
        .await
        .expect("synced");
    assert!(store.has_synced());
    assert!(store.len() >= 5);

    let writers: Vec<_> = (0..4)
        .map(|id| tokio::spawn(writer(ns.clone(), id, 100)))
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    converge(&all, &store, &model).await;
    assert_eq!(stats.lists(), 1, "no relist was needed");
    assert!(stats.events() >= 400, "{} events", stats.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_survives_an_apiserver_restart() {
    let mut server = start();
    let c = client(&server);
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    for i in 0..20 {
        api.create(&PostParams::default(), &configmap(&format!("cm-{i}"), "0"))
            .await
            .unwrap();
    }
    let (store, model, stats, _task) = run_informer(api.clone(), None);
    converge(&api, &store, &model).await;

    // Writes just before the restart, possibly not yet seen by the informer.
    for i in 0..5 {
        api.delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .unwrap();
        api.patch(
            &format!("cm-{}", i + 5),
            &PostParams::default(),
            &Patch::Merge(json!({"data": {"v": "before-restart"}})),
        )
        .await
        .unwrap();
    }
    tokio::task::block_in_place(|| server.restart()).expect("apiserver restarts");
    // Writes after the restart, likely before the informer reconnects.
    for i in 10..15 {
        api.delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    for i in 20..30 {
        api.create(&PostParams::default(), &configmap(&format!("cm-{i}"), "1"))
            .await
            .unwrap();
    }
    // Created and deleted while nobody watched: must never show up.
    api.create(&PostParams::default(), &configmap("phantom", "x"))
        .await
        .unwrap();
    api.delete("phantom", &DeleteParams::default())
        .await
        .unwrap();
    converge(&api, &store, &model).await;

    assert_eq!(store.len(), 20);
    assert!(stats.watches() >= 2, "the watch was resumed");
    assert_eq!(
        stats.lists(),
        1,
        "resumed from the last resourceVersion, not relisted"
    );
    assert_eq!(stats.relists_after_gone(), 0);
    // Resuming replays the phantom's short life; the model check above
    // proves it ended deleted.
    assert!(store.get("default/phantom").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relists_after_410_gone() {
    let server = start_with(&[
        "--watch-cache-size",
        "5",
        "--compaction-interval",
        "200ms",
        "--compaction-retain",
        "5",
    ]);
    let direct: Api<ConfigMap> = Api::namespaced(client(&server), "default");
    for i in 0..10 {
        direct
            .create(&PostParams::default(), &configmap(&format!("cm-{i}"), "0"))
            .await
            .unwrap();
    }
    // The informer talks through a proxy the test can cut.
    let proxy = Proxy::start(&server.url).await;
    let via_proxy: Api<ConfigMap> = Api::namespaced(
        tug_client::Client::new(tug_client::Config::new(&proxy.url).unwrap()).unwrap(),
        "default",
    );
    let (store, model, stats, _task) = run_informer(via_proxy, None);
    converge(&direct, &store, &model).await;
    let seen_rv = stats.resource_version();
    assert!(!seen_rv.is_empty());

    proxy.cut();
    // While the informer cannot reach the server: deletes, updates,
    // creates, and an object that lives and dies unseen.
    for i in 0..4 {
        direct
            .delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    for i in 4..8 {
        direct
            .patch(
                &format!("cm-{i}"),
                &PostParams::default(),
                &Patch::Merge(json!({"data": {"v": "changed"}})),
            )
            .await
            .unwrap();
    }
    for i in 0..5 {
        direct
            .create(&PostParams::default(), &configmap(&format!("new-{i}"), "0"))
            .await
            .unwrap();
    }
    direct
        .create(&PostParams::default(), &configmap("phantom", "x"))
        .await
        .unwrap();
    direct
        .delete("phantom", &DeleteParams::default())
        .await
        .unwrap();
    // Wait until the informer's resourceVersion has been compacted away:
    // a watch from it must now answer 410.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let gone = match direct.watch(&ListParams::default(), &seen_rv).await {
            Err(Error::Gone(_)) => true,
            Ok(mut events) => matches!(
                tokio::time::timeout(Duration::from_millis(200), events.next()).await,
                Ok(Some(Err(Error::Gone(_))))
            ),
            Err(e) => panic!("watch failed: {e}"),
        };
        if gone {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "resourceVersion {seen_rv} was never compacted"
        );
        direct
            .patch(
                "cm-9",
                &PostParams::default(),
                &Patch::Merge(json!({"data": {"tick": seen_rv.clone()}})),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stats.resource_version(),
        seen_rv,
        "the informer saw nothing while cut"
    );
    let before = model.lock().unwrap().log.len();

    proxy.resume();
    converge(&direct, &store, &model).await;
    assert!(
        stats.relists_after_gone() >= 1,
        "the informer relisted after 410 Gone"
    );
    assert!(stats.lists() >= 2);

    // What the relist told the handlers.
    let m = model.lock().unwrap();
    let after: Vec<(&str, String)> = m.log[before..].to_vec();
    let mut deleted: Vec<String> = after
        .iter()
        .filter(|(t, _)| *t == "delete")
        .map(|(_, k)| k.clone())
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        (0..4)
            .map(|i| format!("default/cm-{i}"))
            .collect::<Vec<_>>()
    );
    let mut added: Vec<String> = after
        .iter()
        .filter(|(t, _)| *t == "add")
        .map(|(_, k)| k.clone())
        .collect();
    added.sort();
    assert_eq!(
        added,
        (0..5)
            .map(|i| format!("default/new-{i}"))
            .collect::<Vec<_>>()
    );
    let updated: Vec<&String> = after
        .iter()
        .filter(|(t, _)| *t == "update")
        .map(|(_, k)| k)
        .collect();
    for i in 4..8 {
        assert!(updated.contains(&&format!("default/cm-{i}")), "{updated:?}");
    }
    assert!(
        !after.iter().any(|(_, k)| k.contains("phantom")),
        "phantom: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_redelivers_every_object() {
    let server = start();
    let api: Api<ConfigMap> = Api::namespaced(client(&server), "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &configmap(&format!("cm-{i}"), "0"))
            .await
            .unwrap();
    }
    let (store, model, _stats, _task) = run_informer(api.clone(), Some(Duration::from_millis(100)));
    converge(&api, &store, &model).await;
    let ok = common::eventually(WAIT, || model.lock().unwrap().resyncs >= 6).await;
    assert!(ok, "two resync rounds within the deadline");
    let m = model.lock().unwrap();
    assert!(m.violations.is_empty(), "{:?}", m.violations);
    // Resyncs are not changes.
    assert_eq!(m.log.iter().filter(|(t, _)| *t == "update").count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_indexes_by_namespace_label_and_node() {
    let server = start();
    let c = client(&server);
    let informer = Informer::new(Api::<Pod>::all(c.clone()), ListParams::default())
        .with_index("nodeName", |p: &Pod| vec![p.spec.node_name.clone()]);
    let store = informer.store();
    let _task = Task(tokio::spawn(informer.run()));
    store.wait_synced().await;

    for (ns, name, app) in [
        ("default", "a", "web"),
        ("default", "b", "db"),
        ("kube-system", "c", "web"),
    ] {
        let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
        pods.create(
            &PostParams::default(),
            &obj(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            })),
        )
        .await
        .unwrap();
    }
    let default_pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    default_pods.create_binding("a", "node-1").await.unwrap();
    Api::<Pod>::namespaced(c, "kube-system")
        .create_binding("c", "node-1")
        .await
        .unwrap();

    let keys =
        |v: Vec<Arc<Pod>>| -> Vec<String> { v.iter().map(|p| key_of(&p.metadata)).collect() };
    let ok = common::eventually(WAIT, || {
        keys(store.by_index("nodeName", "node-1")) == vec!["default/a", "kube-system/c"]
    })
    .await;
    assert!(ok, "{:?}", keys(store.by_index("nodeName", "node-1")));
    assert_eq!(keys(store.by_index("nodeName", "")), vec!["default/b"]);
    assert_eq!(
        keys(store.by_namespace("default")),
        vec!["default/a", "default/b"]
    );
    assert_eq!(
        keys(store.by_label("app", "web")),
        vec!["default/a", "kube-system/c"]
    );

    default_pods
        .delete("a", &DeleteParams::immediate())
        .await
        .unwrap();
    let ok = common::eventually(WAIT, || {
        keys(store.by_index("nodeName", "node-1")) == vec!["kube-system/c"]
    })
    .await;
    assert!(ok, "{:?}", keys(store.by_index("nodeName", "node-1")));
}
