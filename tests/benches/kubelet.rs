//! Kubelet benchmark (runc): a program that prints figures, asserting
//! nothing timed. Needs root.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p tug-tests --bench kubelet
//! cargo bench -p tug-tests --bench kubelet -- --pods 50 --steady-seconds 20
//! ```
//!
//! It starts a one-node runc cluster (the launcher of `tugctl cluster up
//! --runtime runc`, with a local registry holding a busybox image), pulls
//! the image once with a warm-up pod, then creates `--pods` pods at once
//! and reports from one watch the latency from each pod's creation to
//! Running and to Ready (p50, p99, max; target p99 create→Running < 1 s
//! with the image cached). With those pods running it then samples the
//! kubelet's CPU use and RSS for `--steady-seconds` (target RSS < 50 MiB),
//! and the shims' total RSS.

#[path = "../tests/runc_node/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tug_api::core::{is_pod_ready, Pod};
use tug_client::{Api, Informer, ListParams};
use tug_cluster::process::read_stat;
use tug_cluster::Role;

#[derive(Parser)]
struct Args {
    /// Pods created at once.
    #[arg(long, default_value_t = 50)]
    pods: usize,
    /// How long the steady state is sampled.
    #[arg(long, default_value_t = 20)]
    steady_seconds: u64,
    /// The kubelet's `--pod-workers` (pods set up at once).
    #[arg(long)]
    pod_workers: Option<usize>,
    /// Ignored (cargo bench passes it).
    #[arg(long)]
    bench: bool,
}

#[derive(Default)]
struct Seen {
    running: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(what: &str, created: &HashMap<String, Instant>, at: &HashMap<String, Instant>) {
    let mut d: Vec<Duration> = created
        .iter()
        .filter_map(|(name, t0)| at.get(name).map(|t| t.saturating_duration_since(*t0)))
        .collect();
    d.sort();
    println!(
        "create → {what:<8} {:>3} pods   p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        d.len(),
        percentile(&d, 0.50).as_secs_f64() * 1e3,
        percentile(&d, 0.99).as_secs_f64() * 1e3,
        d.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    read_stat(pid).map_or(0, |s| s.cpu_ticks)
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn shim_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            args.len() > 1 && args[0].ends_with(b"tug-kubelet") && args[1] == b"shim"
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(why) = support::missing_prerequisite() {
        eprintln!("the kubelet benchmark needs root and real tools: {why}");
        return ExitCode::FAILURE;
    }
    let node = support::start_with(|spec| {
        if let Some(n) = args.pod_workers {
            spec.extra_args.kubelet.push(format!("--pod-workers={n}"));
        }
    })
    .await;
    let api: Api<Pod> = node.pods();

    // Warm-up: the image is pulled and unpacked once.
    let t = Instant::now();
    node.create(support::pod(
        "warmup",
        json!([support::sh("app", &node.image, "sleep 3600")]),
        json!({}),
    ))
    .await;
    node.wait_running("warmup").await;
    println!(
        "first pod (image pulled): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    node.delete_and_wait("warmup", 0, Duration::from_secs(60))
        .await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut informer = Informer::new(api.clone(), ListParams::default().labels("bench=kubelet"));
    let s = seen.clone();
    let store = informer.store();
    let view = store.clone();
    informer.add_handler(move |_| {
        let now = Instant::now();
        let mut s = s.lock().unwrap();
        for p in view.list() {
            let name = p.metadata.name.clone();
            if p.status.phase == "Running" {
                s.running.entry(name.clone()).or_insert(now);
            }
            if is_pod_ready(&p) {
                s.ready.entry(name).or_insert(now);
            }
        }
    });
    let watch = tokio::spawn(informer.run());
    store.wait_synced().await;

    let mut created = HashMap::new();
    let mut creates = Vec::new();
    for i in 0..args.pods {
        let name = format!("bench-{i}");
        let mut p = support::pod(
            &name,
            json!([support::sh("app", &node.image, "sleep 3600")]),
            json!({}),
        );
        p["metadata"]["labels"] = json!({"bench": "kubelet"});
        created.insert(name, Instant::now());
        let api = api.clone();
        let pod: Pod = serde_json::from_value(p).expect("a pod");
        creates.push(tokio::spawn(async move {
            api.create(&Default::default(), &pod).await
        }));
    }
    for c in creates {
        c.await.expect("task").expect("create a pod");
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.lock().unwrap().ready.len() < args.pods && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let s = seen.lock().unwrap();
        println!("{} pods, image cached:", args.pods);
        report("Running", &created, &s.running);
        report("Ready", &created, &s.ready);
    }
    watch.abort();

    let kubelet = node
        .cluster
        .components()
        .iter()
        .find(|c| c.role == Role::Kubelet)
        .map(|c| c.pid)
        .expect("the kubelet's pid");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let c0 = cpu_ticks(kubelet);
    let t0 = Instant::now();
    let mut peak_rss = 0;
    while t0.elapsed() < Duration::from_secs(args.steady_seconds) {
        peak_rss = peak_rss.max(rss_kib(kubelet));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cpu = (cpu_ticks(kubelet) - c0) as f64 / hz / t0.elapsed().as_secs_f64();
    let shims = shim_pids();
    let shim_rss: u64 = shims.iter().map(|p| rss_kib(*p)).sum();
    println!(
        "steady state with {} pods over {} s: kubelet CPU {:.1}% of a core, RSS {:.1} MiB (peak); \
         {} shims, {:.1} MiB RSS together",
        args.pods,
        args.steady_seconds,
        cpu * 100.0,
        peak_rss as f64 / 1024.0,
        shims.len(),
        shim_rss as f64 / 1024.0
    );
    ExitCode::SUCCESS
}
