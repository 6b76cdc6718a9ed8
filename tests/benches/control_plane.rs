//! Control-plane benchmark: a program that prints figures (it asserts
//! nothing timed).
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p tug-tests --bench control_plane
//! cargo bench -p tug-tests --bench control_plane -- --nodes 100 --replicas 2000
//! ```
//!
//! For each `--nodes` size (100 and 500 by default) it starts a whole
//! cluster from the release binaries with the same launcher as `tugctl
//! cluster up` (apiserver on the embedded store, scheduler,
//! controller-manager, hollow nodes `--nodes-per-process` to a kubelet
//! process) and measures, from one watch on the pods:
//!
//! 1. **scheduler throughput**: with the scheduler stopped, `--replicas`
//!    bare pods are created; the scheduler is started again and the pods
//!    bound per second are counted from its first binding to its last
//!    (target ≥ 500 pods/s on 500 nodes);
//! 2. **Deployment end to end**: the time from creating a `--replicas`
//!    Deployment to every one of its pods Running, with the time to all
//!    created and all bound along the way (target ≤ 10 s for 1,000
//!    replicas).
//!
//! The hollow nodes' start latency (`--start-latency`, default 100 ms) is
//! part of the end-to-end figure. Every process shares the machine's
//! cores, so the figures are for the whole system on this machine.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::StreamExt;
use serde_json::json;
use tug_api::apps::Deployment;
use tug_api::core::{Namespace, Pod};
use tug_client::{Api, Client, Informer, ListParams, PostParams};
use tug_cluster::{Cluster, ClusterSpec, ComponentId, Role};

#[derive(Parser, Debug)]
#[command(about = "Scheduler throughput and Deployment end-to-end time on hollow nodes")]
struct Flags {
    /// Cluster sizes to measure, in hollow nodes.
    #[arg(long, value_delimiter = ',', default_value = "100,500")]
    nodes: Vec<usize>,
    /// Pods per scenario.
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
    /// Hollow nodes per kubelet process.
    #[arg(long, default_value_t = 100)]
    nodes_per_process: usize,
    /// How long a hollow node takes to start a pod.
    #[arg(long, default_value = "100ms")]
    start_latency: String,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Accepted (and ignored) so `cargo bench` can pass its own flag.
    #[arg(long, hide = true)]
    bench: bool,
}

/// When each pod was first seen bound and first seen Running.
#[derive(Default)]
struct Timeline {
    created: HashMap<String, Instant>,
    bound: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
}

/// Record pod milestones from an informer on `namespace` (which resumes
/// and relists by itself) until stopped.
fn watch_pods(
    client: Client,
    namespace: &str,
    timeline: Arc<Mutex<Timeline>>,
) -> (tokio::task::JoinHandle<()>, tug_client::Store<Pod>) {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let mut informer = Informer::new(api, ListParams::default());
    let store = informer.store();
    informer.add_handler(move |ev| {
        let now = Instant::now();
        let pod = ev.object();
        let name = pod.metadata.name.clone();
        let mut t = timeline.lock().unwrap();
        t.created.entry(name.clone()).or_insert(now);
        if !pod.spec.node_name.is_empty() {
            t.bound.entry(name.clone()).or_insert(now);
        }
        if pod.status.phase == "Running" {
            t.running.entry(name).or_insert(now);
        }
    });
    (tokio::spawn(informer.run()), store)
}

async fn wait_count(
    timeline: &Mutex<Timeline>,
    what: &str,
    want: usize,
    timeout: Duration,
    count: impl Fn(&Timeline) -> usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let n = count(&timeline.lock().unwrap());
        if n >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {n} of {want} pods {what} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn span(times: &HashMap<String, Instant>) -> Option<(Instant, Instant)> {
    let first = times.values().min()?;
    let last = times.values().max()?;
    Some((*first, *last))
}

async fn new_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// Scenario 1: bind `replicas` waiting pods; pods bound per second.
async fn scheduler_throughput(cluster: &mut Cluster, flags: &Flags) -> anyhow::Result<f64> {
    let client = cluster.client();
    new_namespace(&client, "bench-sched").await?;
    let scheduler: ComponentId = cluster.components_of(Role::Scheduler)[0].clone();
    cluster.kill(&scheduler)?;
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let (watch, _) = watch_pods(client.clone(), "bench-sched", timeline.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench-sched");
    let template: Pod = serde_json::from_value(json!({
        "metadata": {"generateName": "p-", "labels": {"bench": "sched"}},
        "spec": {"containers": [{"name": "c", "image": "pause",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
    }))?;
    let created = futures::stream::iter(0..flags.replicas)
        .map(|_| {
            let pods = pods.clone();
            let template = template.clone();
            async move { pods.create(&PostParams::default(), &template).await }
        })
        .buffer_unordered(32)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    if created != flags.replicas {
        bail!("created only {created} of {} pods", flags.replicas);
    }
    let timeout = Duration::from_secs(flags.timeout);
    wait_count(&timeline, "seen", flags.replicas, timeout, |t| {
        t.created.len()
    })
    .await?;
    cluster.restart(&scheduler).await?;
    wait_count(&timeline, "bound", flags.replicas, timeout, |t| {
        t.bound.len()
    })
    .await?;
    watch.abort();
    let t = timeline.lock().unwrap();
    let (first, last) = span(&t.bound).context("no binding seen")?;
    let secs = (last - first).as_secs_f64().max(1e-3);
    Ok(flags.replicas as f64 / secs)
}

/// Scenario 2: a Deployment from creation to every pod Running.
async fn deployment_end_to_end(client: &Client, flags: &Flags) -> anyhow::Result<[Duration; 3]> {
    new_namespace(client, "bench-deploy").await?;
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let (watch, seen) = watch_pods(client.clone(), "bench-deploy", timeline.clone());
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "big", "namespace": "bench-deploy"},
        "spec": {
            "replicas": flags.replicas,
            "selector": {"matchLabels": {"app": "big"}},
            "template": {
                "metadata": {"labels": {"app": "big"}},
                "spec": {"containers": [{"name": "c", "image": "pause",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
            }
        }
    }))?;
    // The informer has listed (and watches) before the clock starts.
    seen.wait_synced().await;
    let start = Instant::now();
    Api::<Deployment>::namespaced(client.clone(), "bench-deploy")
        .create(&PostParams::default(), &deployment)
        .await?;
    let timeout = Duration::from_secs(flags.timeout);
    wait_count(&timeline, "running", flags.replicas, timeout, |t| {
        t.running.len()
    })
    .await?;
    watch.abort();
    let t = timeline.lock().unwrap();
    let last = |m: &HashMap<String, Instant>| span(m).map(|(_, l)| l - start).unwrap_or_default();
    Ok([last(&t.created), last(&t.bound), last(&t.running)])
}

async fn run_size(nodes: usize, flags: &Flags) -> anyhow::Result<()> {
    // Kept when a phase fails, so the components' logs can be read.
    let dir = tempfile::tempdir()?.keep();
    let bin_dir = tug_tests::bins::workspace_binary("tug-apiserver")
        .parent()
        .context("binary directory")?
        .to_path_buf();
    let mut spec = ClusterSpec::new(&format!("bench{nodes}")).in_dir(&dir);
    spec.nodes = nodes;
    spec.hollow_nodes_per_process = flags.nodes_per_process;
    spec.bin_dir = Some(bin_dir.clone());
    spec.log_filter = "warn".into();
    spec.ready_timeout = Duration::from_secs(flags.timeout);
    spec.extra_args
        .kubelet
        .push(format!("--fake-start-latency={}", flags.start_latency));
    spec.extra_args
        .scheduler
        .push("--leader-elect=false".into());
    let started = Instant::now();
    let mut cluster = Cluster::up(spec).await.context("starting the cluster")?;
    println!(
        "{nodes} hollow nodes ({} per kubelet process) Ready in {:.1} s [binaries: {}]",
        flags.nodes_per_process,
        started.elapsed().as_secs_f64(),
        bin_dir.display()
    );
    let logs = format!("(logs kept in {})", dir.display());
    let rate = scheduler_throughput(&mut cluster, flags)
        .await
        .context(logs.clone())?;
    println!(
        "  scheduler throughput: {rate:.0} pods/s bound ({} waiting pods, {nodes} nodes)",
        flags.replicas
    );
    let [created, bound, running] = deployment_end_to_end(&cluster.client(), flags)
        .await
        .context(logs)?;
    println!(
        "  deployment of {} replicas: all created {:.2} s, all bound {:.2} s, all Running {:.2} s (start latency {})",
        flags.replicas,
        created.as_secs_f64(),
        bound.as_secs_f64(),
        running.as_secs_f64(),
        flags.start_latency
    );
    cluster.down().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = Flags::parse();
    let mut failed = false;
    for &nodes in &flags.nodes {
        if let Err(e) = run_size(nodes, &flags).await {
            eprintln!("{nodes} nodes: {e:#}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
