//! The ReplicaSet and Deployment controllers against a real apiserver,
//! run as the built `tug-controller-manager` (`--controllers
//! replicaset,deployment`). There is no scheduler and no kubelet: a small
//! stand-in in this file marks pods Running and Ready as a kubelet would,
//! except pods whose image is [`NEVER_READY`], and watchers check the
//! rollout bounds at every change they see.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::core::{is_pod_ready, Event, Pod};
use tug_client::{
    Api, Client, Config, Event as Change, Informer, ListParams, Patch, PatchParams, PostParams,
};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// How long any single expectation may take.
const WAIT: Duration = Duration::from_secs(40);

/// The image the stand-in kubelet never makes ready.
const NEVER_READY: &str = "registry.local/app:broken";

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH: &str = "pod-template-hash";

/// An apiserver, the controller-manager against it, and the stand-in
/// kubelet; all stopped on drop.
struct Cluster {
    _server: ApiServerProcess,
    manager: Child,
    kubelet: JoinHandle<()>,
    client: Client,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with_pods(&[]).await
    }

    /// A cluster whose controller-manager starts with `pods` already
    /// there (so its first list has them).
    async fn start_with_pods(pods: &[Pod]) -> Cluster {
        let binary = tug_tests::bins::workspace_binary("tug-apiserver");
        let server = ApiServerProcess::start(&binary, Store::Embedded).expect("apiserver starts");
        let client = Client::new(Config::new(&server.url).expect("config")).expect("client");
        for pod in pods {
            Api::<Pod>::namespaced(client.clone(), "default")
                .create(&PostParams::default(), pod)
                .await
                .expect("create pod");
        }
        let manager = Command::new(env!("CARGO_BIN_EXE_tug-controller-manager"))
            .args(["--master", &server.url])
            .args([
                "--leader-elect=false",
                "--controllers",
                "replicaset,deployment",
            ])
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tug-controller-manager starts");
        let kubelet = tokio::spawn(stand_in_kubelet(client.clone()));
        Cluster {
            _server: server,
            manager,
            kubelet,
            client,
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn replicasets(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn pods_labelled(&self, selector: &str) -> Vec<Pod> {
        self.pods()
            .list(&ListParams::default().labels(selector))
            .await
            .expect("list pods")
            .items
    }

    async fn replicasets_of(&self, d: &Deployment) -> Vec<ReplicaSet> {
        let mut sets: Vec<ReplicaSet> = self
            .replicasets()
            .list(&ListParams::default())
            .await
            .expect("list replicasets")
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .controller_ref()
                    .is_some_and(|r| r.uid == d.metadata.uid)
            })
            .collect();
        sets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        sets
    }

    async fn events(&self, name: &str, reason: &str) -> Vec<String> {
        Api::<Event>::namespaced(self.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name == name && e.reason == reason)
            .map(|e| e.message)
            .collect()
    }

    async fn patch_deployment(&self, name: &str, patch: Value) -> Deployment {
        self.deployments()
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .expect("patch deployment")
    }

    /// Wait until the Deployment's rollout is complete for `replicas` with
    /// `image` running everywhere; the Deployment then.
    async fn rolled_out(&self, name: &str, replicas: i32, image: &str) -> Deployment {
        poll_until(&format!("rollout of {name} to {image}"), || async {
            let d = self
                .deployments()
                .get(name)
                .await
                .map_err(|e| e.to_string())?;
            let s = &d.status;
            let progressing = s
                .conditions
                .iter()
                .find(|c| c.type_ == "Progressing")
                .map(|c| c.reason.clone())
                .unwrap_or_default();
            let images: BTreeSet<String> = self
                .pods_labelled(&format!("app={name}"))
                .await
                .iter()
                .map(|p| p.spec.containers[0].image.clone())
                .collect();
            let done = s.observed_generation >= d.metadata.generation
                && (s.replicas, s.updated_replicas, s.available_replicas)
                    == (replicas, replicas, replicas)
                && progressing == "NewReplicaSetAvailable"
                && images.len() == 1
                && images.contains(image);
            if done {
                Ok(d)
            } else {
                Err(format!("status {s:?}, pod images {images:?}"))
            }
        })
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kubelet.abort();
        let _ = self.manager.kill();
        let _ = self.manager.wait();
    }
}

/// Plays the kubelet's part for readiness: every pod it sees that is not
/// ready, not terminating and not running [`NEVER_READY`] is reported
/// Running and Ready, as soon as its watch shows it.
async fn stand_in_kubelet(client: Client) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let informer = Informer::new(
        Api::<Pod>::namespaced(client.clone(), "default"),
        ListParams::default(),
    )
    .on_event(move |change| {
        if let Change::Added(p) | Change::Updated { new: p, .. } = change {
            let wanted = p.metadata.deletion_timestamp.is_none()
                && !is_pod_ready(p)
                && p.spec
                    .containers
                    .first()
                    .is_some_and(|c| c.image != NEVER_READY);
            if wanted {
                let _ = tx.send(p.metadata.name.clone());
            }
        }
    });
    let watch = tokio::spawn(informer.run());
    let pods: Api<Pod> = Api::namespaced(client, "default");
    while let Some(name) = rx.recv().await {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            ],
        }});
        // The pod may be gone already; the next event retries otherwise.
        let _ = pods
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await;
    }
    watch.abort();
}

/// Poll `check` until it yields a value; fail with `what` and the last
/// observation after [`WAIT`].
async fn poll_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if std::time::Instant::now() >= deadline => {
                panic!("{what} did not happen within {WAIT:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn deployment(name: &str, replicas: i32, image: &str, strategy: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "progressDeadlineSeconds": 5,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }))
    .expect("deployment fixture")
}

fn image_patch(image: &str) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
}

/// Watches the pods of one app and keeps the most pods and (once armed)
/// the fewest ready pods it ever saw at once, and the pod-template hashes
/// seen side by side.
struct Bounds {
    most_pods: Arc<AtomicI64>,
    fewest_ready: Arc<AtomicI64>,
    armed: Arc<AtomicBool>,
    overlap: Arc<AtomicBool>,
    store: tug_client::Store<Pod>,
    task: JoinHandle<()>,
}

impl Bounds {
    fn watch(client: &Client, app: &str) -> Bounds {
        let most_pods = Arc::new(AtomicI64::new(0));
        let fewest_ready = Arc::new(AtomicI64::new(i64::MAX));
        let armed = Arc::new(AtomicBool::new(false));
        let overlap = Arc::new(AtomicBool::new(false));
        let informer = Informer::new(
            Api::<Pod>::namespaced(client.clone(), "default"),
            ListParams::default().labels(&format!("app={app}")),
        );
        let store = informer.store();
        let watched = store.clone();
        let (m, f, a, o) = (
            most_pods.clone(),
            fewest_ready.clone(),
            armed.clone(),
            overlap.clone(),
        );
        let informer = informer.on_event(move |_| {
            let pods = store.list();
            let ready = pods.iter().filter(|p| is_pod_ready(p)).count() as i64;
            let hashes: BTreeSet<&str> = pods
                .iter()
                .filter_map(|p| p.metadata.labels.get(HASH).map(String::as_str))
                .collect();
            if a.load(Ordering::SeqCst) {
                m.fetch_max(pods.len() as i64, Ordering::SeqCst);
                f.fetch_min(ready, Ordering::SeqCst);
                if hashes.len() > 1 {
                    o.store(true, Ordering::SeqCst);
                }
            }
        });
        let task = tokio::spawn(informer.run());
        Bounds {
            most_pods,
            fewest_ready,
            armed,
            overlap,
            store: watched,
            task,
        }
    }

    /// Start checking, once the watch has its first list.
    async fn arm(&self) {
        self.store.wait_synced().await;
        self.armed.store(true, Ordering::SeqCst);
    }

    fn most_pods(&self) -> i64 {
        self.most_pods.load(Ordering::SeqCst)
    }

    fn fewest_ready(&self) -> i64 {
        self.fewest_ready.load(Ordering::SeqCst)
    }

    fn overlapped(&self) -> bool {
        self.overlap.load(Ordering::SeqCst)
    }
}

impl Drop for Bounds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn annotation<'a>(meta: &'a tug_api::meta::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.get(key).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_rollback_and_progress_deadline() {
    let c = Cluster::start().await;
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    c.deployments()
        .create(
            &PostParams::default(),
            &deployment("web", 3, "registry.local/app:1", strategy),
        )
        .await
        .expect("create deployment");

    // The first rollout: one ReplicaSet named by the template hash, three
    // pods it owns, revision 1.
    let d = c.rolled_out("web", 3, "registry.local/app:1").await;
    assert_eq!(annotation(&d.metadata, REVISION), Some("1"));
    let sets = c.replicasets_of(&d).await;
    assert_eq!(sets.len(), 1);
    let first = sets[0].clone();
    let hash = first.metadata.labels[HASH].clone();
    assert_eq!(first.metadata.name, format!("web-{hash}"));
    assert_eq!(
        first.spec.selector.as_ref().unwrap().match_labels[HASH],
        hash
    );
    assert_eq!(annotation(&first.metadata, REVISION), Some("1"));
    assert_eq!(
        annotation(&first.metadata, "deployment.kubernetes.io/desired-replicas"),
        Some("3")
    );
    assert_eq!(
        annotation(&first.metadata, "deployment.kubernetes.io/max-replicas"),
        Some("4")
    );
    let pods = c.pods_labelled("app=web").await;
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert!(
            p.metadata.name.starts_with(&format!("web-{hash}-")),
            "{}",
            p.metadata.name
        );
        assert_eq!(p.metadata.controller_ref().unwrap().uid, first.metadata.uid);
        assert_eq!(p.metadata.labels[HASH], hash);
    }
    let available = d
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(
        (available.status.as_str(), available.reason.as_str()),
        ("True", "MinimumReplicasAvailable")
    );
    poll_until("the scaling event", || async {
        let seen = c.events("web", "ScalingReplicaSet").await;
        let want = format!("Scaled up replica set web-{hash} from 0 to 3");
        if seen.contains(&want) {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    poll_until("the pod creation events", || async {
        let seen = c.events(&first.metadata.name, "SuccessfulCreate").await;
        if seen.len() == 3 && seen.iter().all(|m| m.starts_with("Created pod: web-")) {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;

    // A rolling update with surge 1 and no unavailability: never more
    // than 4 pods, never fewer than 3 ready.
    let bounds = Bounds::watch(&c.client, "web");
    bounds.arm().await;
    c.patch_deployment(
        "web",
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "app:2"}},
               "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/app:2"}]}}}}),
    )
    .await;
    let d = c.rolled_out("web", 3, "registry.local/app:2").await;
    assert!(
        bounds.most_pods() <= 4,
        "saw {} pods at once",
        bounds.most_pods()
    );
    assert!(
        bounds.fewest_ready() >= 3,
        "saw only {} ready",
        bounds.fewest_ready()
    );
    assert_eq!(annotation(&d.metadata, REVISION), Some("2"));
    let sets = c.replicasets_of(&d).await;
    assert_eq!(sets.len(), 2);
    let second = sets
        .iter()
        .find(|rs| rs.metadata.uid != first.metadata.uid)
        .unwrap()
        .clone();
    assert_eq!(
        annotation(&second.metadata, "kubernetes.io/change-cause"),
        Some("app:2")
    );
    assert_eq!(annotation(&second.metadata, REVISION), Some("2"));
    let old = sets
        .iter()
        .find(|rs| rs.metadata.uid == first.metadata.uid)
        .unwrap();
    assert_eq!(old.spec.replicas, Some(0));
    drop(bounds);

    // Rollback (what `rollout undo` sends): the first template again. The
    // first ReplicaSet comes back as revision 3 and remembers revision 1.
    c.patch_deployment(
        "web",
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": null}},
               "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]}}}}),
    )
    .await;
    let d = c.rolled_out("web", 3, "registry.local/app:1").await;
    assert_eq!(annotation(&d.metadata, REVISION), Some("3"));
    let sets = c.replicasets_of(&d).await;
    assert_eq!(
        sets.len(),
        2,
        "the old ReplicaSet was reused, not recreated"
    );
    let back = sets
        .iter()
        .find(|rs| rs.metadata.uid == first.metadata.uid)
        .unwrap();
    assert_eq!(back.spec.replicas, Some(3));
    assert_eq!(annotation(&back.metadata, REVISION), Some("3"));
    assert_eq!(
        annotation(&back.metadata, "deployment.kubernetes.io/revision-history"),
        Some("1")
    );

    // A rollout whose pods never become ready stalls: the old pods keep
    // serving and the deadline (5 s) is reported.
    c.patch_deployment("web", image_patch(NEVER_READY)).await;
    let d = poll_until("ProgressDeadlineExceeded", || async {
        let d = c
            .deployments()
            .get("web")
            .await
            .map_err(|e| e.to_string())?;
        let cond = d
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .cloned();
        match cond {
            Some(c) if c.status == "False" && c.reason == "ProgressDeadlineExceeded" => Ok(d),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(d.status.available_replicas, 3);
    let sets = c.replicasets_of(&d).await;
    let broken = sets
        .iter()
        .find(|rs| rs.spec.template.spec.containers[0].image == NEVER_READY)
        .unwrap();
    assert_eq!(broken.spec.replicas, Some(1), "only the surge was tried");
    let serving = c.replicasets().get(&first.metadata.name).await.unwrap();
    assert_eq!(
        (serving.spec.replicas, serving.status.available_replicas),
        (Some(3), 3)
    );

    // Undo brings the working template back.
    c.patch_deployment("web", image_patch("registry.local/app:1"))
        .await;
    let d = c.rolled_out("web", 3, "registry.local/app:1").await;
    assert_eq!(annotation(&d.metadata, REVISION), Some("5"));
    let broken = c.replicasets().get(&broken.metadata.name).await.unwrap();
    assert_eq!(broken.spec.replicas, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentage_rollout_keeps_its_bounds_and_scaling_mid_rollout_is_proportional() {
    let c = Cluster::start().await;
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    c.deployments()
        .create(
            &PostParams::default(),
            &deployment("api", 8, "registry.local/app:1", strategy),
        )
        .await
        .expect("create deployment");
    c.rolled_out("api", 8, "registry.local/app:1").await;

    // 25 % of 8: surge 2, unavailable 2 → at most 10 pods, at least 6 ready.
    let bounds = Bounds::watch(&c.client, "api");
    bounds.arm().await;
    c.patch_deployment("api", image_patch("registry.local/app:2"))
        .await;
    c.rolled_out("api", 8, "registry.local/app:2").await;
    assert!(
        bounds.most_pods() <= 10,
        "saw {} pods at once",
        bounds.most_pods()
    );
    assert!(
        bounds.fewest_ready() >= 6,
        "saw only {} ready",
        bounds.fewest_ready()
    );
    drop(bounds);

    // A rollout that cannot finish, then a scale from 8 to 16 in its
    // middle: the extra pods are shared between the old and the new
    // ReplicaSet (in proportion to their sizes), not all given to one.
    c.patch_deployment("api", image_patch(NEVER_READY)).await;
    let d = poll_until("the stalled rollout", || async {
        let d = c
            .deployments()
            .get("api")
            .await
            .map_err(|e| e.to_string())?;
        let sets = c.replicasets_of(&d).await;
        let sizes: Vec<i32> = sets
            .iter()
            .map(|rs| rs.spec.replicas.unwrap_or(0))
            .collect();
        // Stuck: the new ReplicaSet got the surge (2) plus the two pods
        // the old one could give up (4, none ready), the old one kept 6.
        if d.status.updated_replicas == 4 && sizes.iter().sum::<i32>() == 10 {
            Ok(d)
        } else {
            Err(format!("{:?} {sizes:?}", d.status))
        }
    })
    .await;
    c.patch_deployment("api", json!({"spec": {"replicas": 16}}))
        .await;
    let sizes = poll_until("proportional scaling", || async {
        let sets = c.replicasets_of(&d).await;
        let mut sizes: Vec<(String, i32)> = sets
            .iter()
            .filter(|rs| rs.spec.replicas.unwrap_or(0) > 0)
            .map(|rs| {
                (
                    rs.spec.template.spec.containers[0].image.clone(),
                    rs.spec.replicas.unwrap(),
                )
            })
            .collect();
        sizes.sort();
        if sizes.iter().map(|(_, n)| n).sum::<i32>() == 20 {
            Ok(sizes)
        } else {
            Err(format!("{sizes:?}"))
        }
    })
    .await;
    // 16 + 4 surge = 20 allowed, 10 now, both sized for 10 (max-replicas):
    // old 6 → 6·20/10 = 12, new 4 → 4·20/10 = 8.
    assert_eq!(
        sizes,
        vec![
            ("registry.local/app:2".to_string(), 12),
            (NEVER_READY.to_string(), 8)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_never_runs_old_and_new_pods_together() {
    let c = Cluster::start().await;
    c.deployments()
        .create(
            &PostParams::default(),
            &deployment(
                "batch",
                3,
                "registry.local/app:1",
                json!({"type": "Recreate"}),
            ),
        )
        .await
        .expect("create deployment");
    c.rolled_out("batch", 3, "registry.local/app:1").await;
    let bounds = Bounds::watch(&c.client, "batch");
    bounds.arm().await;
    c.patch_deployment("batch", image_patch("registry.local/app:2"))
        .await;
    let d = c.rolled_out("batch", 3, "registry.local/app:2").await;
    assert!(
        !bounds.overlapped(),
        "old and new pods ran at the same time"
    );
    assert!(bounds.most_pods() <= 3);
    assert_eq!(annotation(&d.metadata, REVISION), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_adopts_deletes_in_order_and_releases_without_over_creating() {
    // An orphan that will never be ready, matching the selector, there
    // before the controllers start (so they know it from their first list).
    let stray: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "cache"}},
        "spec": {"containers": [{"name": "app", "image": NEVER_READY}]},
    }))
    .unwrap();
    let c = Cluster::start_with_pods(&[stray]).await;
    // Every pod name ever seen for the app, to prove nothing is created twice.
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    let watch = tokio::spawn(
        Informer::new(c.pods(), ListParams::default().labels("app=cache"))
            .on_event(move |ev| {
                s.lock().unwrap().insert(ev.object().metadata.name.clone());
            })
            .run(),
    );

    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "cache", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "cache"}},
            "template": {
                "metadata": {"labels": {"app": "cache"}},
                "spec": {"containers": [{"name": "app", "image": "registry.local/cache:1"}]},
            },
        },
    }))
    .unwrap();
    let rs = c
        .replicasets()
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();

    // The stray pod is adopted, so only two are created.
    poll_until("adoption and two creates", || async {
        let got = c
            .replicasets()
            .get("cache")
            .await
            .map_err(|e| e.to_string())?;
        let stray = c.pods().get("stray").await.map_err(|e| e.to_string())?;
        let adopted = stray
            .metadata
            .controller_ref()
            .is_some_and(|r| r.uid == rs.metadata.uid);
        let s = &got.status;
        if adopted
            && (s.replicas, s.ready_replicas, s.observed_generation)
                == (3, 2, got.metadata.generation)
        {
            Ok(())
        } else {
            Err(format!("adopted {adopted}, status {s:?}"))
        }
    })
    .await;
    assert_eq!(c.pods_labelled("app=cache").await.len(), 3);

    // Scale to 1: the not-ready pod goes first.
    c.replicasets()
        .patch(
            "cache",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    let survivor = poll_until("scale down to 1", || async {
        let pods = c.pods_labelled("app=cache").await;
        match pods.as_slice() {
            [p] => Ok(p.clone()),
            _ => Err(format!(
                "{:?}",
                pods.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
            )),
        }
    })
    .await;
    assert_ne!(survivor.metadata.name, "stray");
    assert!(is_pod_ready(&survivor));
    poll_until("the delete event", || async {
        let seen = c.events("cache", "SuccessfulDelete").await;
        if seen.contains(&"Deleted pod: stray".to_string()) {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;

    // Relabelled away: released (no owner any more) and replaced.
    c.pods()
        .patch(
            &survivor.metadata.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "elsewhere"}}})),
        )
        .await
        .unwrap();
    poll_until("release and replacement", || async {
        let released = c
            .pods()
            .get(&survivor.metadata.name)
            .await
            .map_err(|e| e.to_string())?;
        let mine = c.pods_labelled("app=cache").await;
        if released.metadata.owner_references.is_empty()
            && mine.len() == 1
            && is_pod_ready(&mine[0])
        {
            Ok(())
        } else {
            Err(format!(
                "owners {:?}, pods {}",
                released.metadata.owner_references,
                mine.len()
            ))
        }
    })
    .await;
    // stray + 2 created + 1 replacement: nothing created twice.
    assert_eq!(seen.lock().unwrap().len(), 4, "{:?}", seen.lock().unwrap());
    watch.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_limited_and_a_paused_deployment_only_scales() {
    let c = Cluster::start().await;
    let mut d = deployment(
        "shop",
        2,
        "registry.local/app:1",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
    );
    d.spec.revision_history_limit = Some(1);
    c.deployments()
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    c.rolled_out("shop", 2, "registry.local/app:1").await;
    c.patch_deployment("shop", image_patch("registry.local/app:2"))
        .await;
    c.rolled_out("shop", 2, "registry.local/app:2").await;
    c.patch_deployment("shop", image_patch("registry.local/app:3"))
        .await;
    let d = c.rolled_out("shop", 2, "registry.local/app:3").await;

    // revisionHistoryLimit 1: the current ReplicaSet and one old one.
    let images = poll_until("history cleanup", || async {
        let images: Vec<String> = c
            .replicasets_of(&d)
            .await
            .iter()
            .map(|rs| rs.spec.template.spec.containers[0].image.clone())
            .collect();
        if images.len() == 2 {
            Ok(images)
        } else {
            Err(format!("{images:?}"))
        }
    })
    .await;
    assert!(
        !images.contains(&"registry.local/app:1".to_string()),
        "{images:?}"
    );

    // Paused: the Progressing condition says so, a template change rolls
    // nothing out, but scaling still applies.
    c.patch_deployment("shop", json!({"spec": {"paused": true}}))
        .await;
    c.patch_deployment("shop", image_patch("registry.local/app:4"))
        .await;
    let d = c
        .patch_deployment("shop", json!({"spec": {"replicas": 3}}))
        .await;
    let generation = d.metadata.generation;
    poll_until("the paused scale", || async {
        let d = c
            .deployments()
            .get("shop")
            .await
            .map_err(|e| e.to_string())?;
        let cond = d
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .cloned()
            .unwrap_or_default();
        let s = &d.status;
        if s.observed_generation >= generation
            && (cond.status.as_str(), cond.reason.as_str()) == ("Unknown", "DeploymentPaused")
            && (s.replicas, s.available_replicas) == (3, 3)
        {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    // No ReplicaSet for the paused template; the running one took the scale.
    let sets = c.replicasets_of(&d).await;
    let image = |rs: &ReplicaSet| rs.spec.template.spec.containers[0].image.clone();
    assert!(sets.iter().all(|rs| image(rs) != "registry.local/app:4"));
    let running = sets
        .iter()
        .find(|rs| image(rs) == "registry.local/app:3")
        .expect("the running ReplicaSet");
    assert_eq!(running.spec.replicas, Some(3));

    // Resumed: the change rolls out.
    c.patch_deployment("shop", json!({"spec": {"paused": false}}))
        .await;
    let d = c.rolled_out("shop", 3, "registry.local/app:4").await;
    assert_eq!(annotation(&d.metadata, REVISION), Some("4"));
}
