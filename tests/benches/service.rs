//! Service throughput benchmark: a program that prints figures, asserting
//! nothing timed. Needs root.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p tug-tests --bench service
//! cargo bench -p tug-tests --bench service -- --seconds 5 --concurrency 8 --rounds 3
//! ```
//!
//! It starts a one-node netns runc cluster (the launcher of `tugctl
//! cluster up`, with the busybox demo images imported), one web pod
//! (busybox httpd) behind a Service with exactly that one endpoint, and
//! from the node's network namespace sends HTTP requests for the same
//! time at the same concurrency, alternately through the ClusterIP (DNAT
//! by tug-proxy's nftables rules) and straight to the pod IP: A/B/A/B in
//! the same run, so both see the same machine. It prints requests/s of
//! each and the ratio (target: ClusterIP ≥ 0.9 × direct), then the bulk
//! throughput of one TCP connection each way (MB/s of a 64 MiB file).
//!
//! Each request is a new connection (busybox httpd speaks HTTP/1.0), so
//! the figure includes what the proxy costs most: a conntrack entry and
//! a trip through the service chains per connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tug_api::core::{is_pod_ready, Endpoints, Pod, Service};
use tug_client::{Api, PostParams};
use tug_cluster::{Cluster, ClusterSpec, Runtime};
use tug_tests::http::{self, Timeouts};
use tug_tests::net::wait_for;
use tug_tests::netns::in_netns;

#[derive(Parser)]
struct Args {
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measurements of each path (ClusterIP and direct, alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Size of the bulk transfer in MiB (0 skips it).
    #[arg(long, default_value_t = 64)]
    bulk_mib: u64,
    /// Ignored (cargo bench passes it).
    #[arg(long)]
    bench: bool,
}

/// The node the backend and the client are on.
const NODE: &str = "node-0";

/// The backend: busybox httpd serving its hostname at `/` and a file of
/// zeros at `/bulk`.
fn backend_pod(bulk_mib: u64) -> Pod {
    let script = format!(
        "mkdir -p /www && hostname > /www/index.html \
         && dd if=/dev/zero of=/www/bulk bs=1048576 count={bulk_mib} 2>/dev/null \
         && exec httpd -f -p 8080 -h /www"
    );
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench-web", "labels": {"app": "bench-web"}},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "web",
                "image": "busybox:1.36",
                "command": ["sh", "-c", script],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
            }],
        },
    }))
    .expect("a valid pod")
}

fn service() -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "bench-web"},
        "spec": {
            "selector": {"app": "bench-web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }))
    .expect("a valid service")
}

/// Requests per second to `target` from `netns`: `concurrency` threads
/// each sending one request after another for `duration`. Failed
/// requests are counted apart, not in the rate.
fn requests_per_second(
    netns: &Path,
    target: SocketAddr,
    concurrency: usize,
    duration: Duration,
) -> (f64, u64) {
    let ok = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                in_netns(netns, || {
                    while !stop.load(Ordering::Relaxed) {
                        match http::get(target, "/", Timeouts::default()) {
                            Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            });
        }
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

/// MB/s of one GET of `/bulk` from `netns` over a single connection.
fn bulk_mb_per_second(netns: &Path, target: SocketAddr, expect_bytes: u64) -> f64 {
    in_netns(netns, || {
        let started = Instant::now();
        let (status, bytes) = http::get_discarding(target, "/bulk", Timeouts::default())
            .unwrap_or_else(|e| panic!("GET {target}/bulk: {e}"));
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(
            (status, bytes),
            (200, expect_bytes),
            "the whole file from {target}"
        );
        bytes as f64 / 1e6 / secs
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// One line of figures: each round and the mean.
fn line(what: &str, unit: &str, values: &[f64]) -> String {
    let rounds: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
    format!(
        "{what:<28} mean {:>8.1} {unit}   rounds [{}]",
        mean(values),
        rounds.join(", ")
    )
}

async fn start_cluster(work: &Path) -> Cluster {
    let archive = tug_tests::images::demo_archive(work);
    let bin_dir = tug_tests::bins::workspace_binary("tug-apiserver")
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    let mut spec = ClusterSpec::new(&format!("svcbench{}", std::process::id() % 10_000))
        .in_dir(work.join("cluster"));
    spec.nodes = 1;
    spec.runtime = Runtime::Runc;
    spec.bin_dir = Some(bin_dir);
    spec.image_archives = vec![archive];
    spec.ready_timeout = Duration::from_secs(120);
    spec.log_filter = "warn".into();
    let cidr = format!("10.{}.0.0/16", 200 + std::process::id() % 40);
    spec.extra_args.controller_manager.extend([
        format!("--cluster-cidr={cidr}"),
        "--node-cidr-mask-size=24".to_string(),
    ]);
    spec.extra_args
        .kubelet
        .push("--eviction-hard=nodefs.available<1Gi".to_string());
    Cluster::up(spec)
        .await
        .unwrap_or_else(|e| panic!("the cluster did not come up: {e}"))
}

/// Create the backend and its Service; wait until the Service has that
/// one endpoint and the ClusterIP answers from `netns`. Returns the
/// ClusterIP and pod IP targets.
async fn deploy_backend(
    cluster: &Cluster,
    netns: &Path,
    bulk_mib: u64,
) -> (SocketAddr, SocketAddr) {
    let client = cluster.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &backend_pod(bulk_mib))
        .await
        .expect("creating the backend pod");
    let svc = services
        .create(&PostParams::default(), &service())
        .await
        .expect("creating the service");
    let pod = wait_for(
        "the backend pod to be ready",
        Duration::from_secs(120),
        || async {
            let p = pods.get("bench-web").await.map_err(|e| e.to_string())?;
            if is_pod_ready(&p) {
                Ok(p)
            } else {
                Err(format!("phase {:?}", p.status.phase))
            }
        },
    )
    .await;
    let pod_ip = &pod.status.pod_ip;
    wait_for(
        "the service to have exactly the pod as endpoint",
        Duration::from_secs(30),
        || async {
            let ep = endpoints
                .get("bench-web")
                .await
                .map_err(|e| e.to_string())?;
            let ips: Vec<&str> = ep
                .subsets
                .iter()
                .flat_map(|s| s.addresses.iter().map(|a| a.ip.as_str()))
                .collect();
            if ips == [pod_ip.as_str()] {
                Ok(())
            } else {
                Err(format!("{ips:?}"))
            }
        },
    )
    .await;
    let cluster_ip: SocketAddr = format!("{}:80", svc.spec.cluster_ip)
        .parse()
        .expect("an IPv4 ClusterIP");
    let direct: SocketAddr = format!("{pod_ip}:8080").parse().expect("an IPv4 pod IP");
    let ns = netns.to_path_buf();
    wait_for("the ClusterIP to answer", Duration::from_secs(30), || {
        let ns = ns.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                in_netns(&ns, || http::get(cluster_ip, "/", Timeouts::default()))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
            .and_then(|r| match r.status {
                200 => Ok(()),
                s => Err(format!("status {s}")),
            })
        }
    })
    .await;
    (cluster_ip, direct)
}

async fn run(args: Args) {
    let work = tempfile::tempdir().expect("temp dir");
    eprintln!("starting a one-node netns runc cluster ...");
    let cluster = start_cluster(work.path()).await;
    let netns: PathBuf = cluster
        .node_netns(NODE)
        .expect("a netns node has a namespace");
    let (via_service, direct) = deploy_backend(&cluster, &netns, args.bulk_mib).await;
    println!(
        "client: {NODE}'s network namespace; ClusterIP {via_service} -> pod {direct} (one endpoint)"
    );
    println!(
        "{} s per measurement, {} connections in flight, {} rounds each, alternating",
        args.seconds, args.concurrency, args.rounds
    );

    let duration = Duration::from_secs(args.seconds);
    let (mut svc_rates, mut pod_rates) = (Vec::new(), Vec::new());
    let mut failed = 0;
    for _ in 0..args.rounds {
        for (target, rates) in [(via_service, &mut svc_rates), (direct, &mut pod_rates)] {
            let ns = netns.clone();
            let concurrency = args.concurrency;
            let (rate, f) = tokio::task::spawn_blocking(move || {
                requests_per_second(&ns, target, concurrency, duration)
            })
            .await
            .expect("the measuring threads");
            rates.push(rate);
            failed += f;
        }
    }
    println!("{}", line("requests/s via ClusterIP", "req/s", &svc_rates));
    println!("{}", line("requests/s direct to pod", "req/s", &pod_rates));
    println!(
        "ratio ClusterIP / direct      {:.3}   (target >= 0.9; {failed} failed requests)",
        mean(&svc_rates) / mean(&pod_rates)
    );

    if args.bulk_mib > 0 {
        let bytes = args.bulk_mib * 1024 * 1024;
        let (mut svc_bulk, mut pod_bulk) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            for (target, rates) in [(via_service, &mut svc_bulk), (direct, &mut pod_bulk)] {
                let ns = netns.clone();
                let mbps =
                    tokio::task::spawn_blocking(move || bulk_mb_per_second(&ns, target, bytes))
                        .await
                        .expect("the bulk thread");
                rates.push(mbps);
            }
        }
        println!(
            "{}",
            line("bulk, one TCP via ClusterIP", "MB/s ", &svc_bulk)
        );
        println!(
            "{}",
            line("bulk, one TCP direct to pod", "MB/s ", &pod_bulk)
        );
        println!(
            "ratio ClusterIP / direct      {:.3}",
            mean(&svc_bulk) / mean(&pod_bulk)
        );
    }
    cluster.down().await.expect("cluster down");
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(why) = tug_tests::prereq::missing_for_netns_cluster() {
        eprintln!("SKIP service bench: it needs root and real tools: {why}");
        return ExitCode::SUCCESS;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run(args));
    ExitCode::SUCCESS
}
