//! Service throughput benchmark: a program that prints figures, asserting
//! nothing timed. Needs root.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p tug-tests --bench service
//! cargo bench -p tug-tests --bench service -- --seconds 3 --concurrency 8 --rounds 5
//! # against the debug binaries (only the kernel's data path is measured):
//! cargo bench --profile dev -p tug-tests --bench service
//! ```
//!
//! It starts a one-node netns runc cluster (the launcher of `tugctl
//! cluster up`, with the busybox demo images imported), one web pod
//! (busybox httpd) behind a Service with exactly that one endpoint, and
//! a client pod beside it. From the client pod's network namespace it
//! sends HTTP requests for the same time at the same concurrency,
//! alternately through the ClusterIP (DNAT by tug-proxy's nftables
//! rules) and straight to the pod IP: A/B/A/B in the same run, so both
//! see the same machine. It prints requests/s of each and the ratio
//! (target: ClusterIP ≥ 0.9 × direct), then the bulk throughput of
//! single TCP connections each way (MB/s of a 64 MiB file fetched 8
//! times, one connection at a time). Direct pod-to-pod traffic on one
//! node is bridged, ClusterIP traffic is routed through the node after
//! DNAT: part of the bulk difference is that extra hop, not the rules.
//!
//! Each request is a new connection (busybox httpd speaks HTTP/1.0), so
//! the figure includes what the proxy costs most: a conntrack entry and
//! a trip through the service chains per connection. The client closes
//! each connection with a reset, so thousands a second do not pile up
//! in the server's TIME_WAIT and stall later connections (see
//! [`http::get_and_reset`]); the rounds alternate A B, B A.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
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
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measurements of each path (ClusterIP and direct, alternating).
    #[arg(long, default_value_t = 5)]
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

/// The client: a busybox pod sleeping on the same node, whose network
/// namespace the requests are sent from.
fn client_pod() -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench-client"},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "client", "image": "busybox:1.36", "command": ["sleep", "86400"]}],
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

/// What one measurement saw.
struct Rate {
    /// Successful requests per second.
    per_second: f64,
    /// Failed requests (not in the rate).
    failed: u64,
    /// The first failure, if any.
    first_failure: Option<String>,
}

/// Requests per second to `target` from `netns`: `concurrency` threads
/// each sending one request after another for `duration`.
fn requests_per_second(
    netns: &Path,
    target: SocketAddr,
    concurrency: usize,
    duration: Duration,
) -> Rate {
    let ok = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let first_failure = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                in_netns(netns, || {
                    while !stop.load(Ordering::Relaxed) {
                        let why = match http::get_and_reset(target, "/", Timeouts::default()) {
                            Ok(r) if r.status == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Ok(r) => format!("status {}", r.status),
                            Err(e) => format!("{e} ({:?})", e.kind()),
                        };
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_failure.lock().unwrap().get_or_insert(why);
                    }
                })
            });
        }
        // The measurement window itself, not a wait for something.
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    Rate {
        per_second: ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        failed: failed.load(Ordering::Relaxed),
        first_failure: first_failure.into_inner().unwrap(),
    }
}

/// Transfers of the bulk file per bulk measurement: one alone takes a
/// few tens of milliseconds, too short to tell the paths apart.
const BULK_TRANSFERS: u32 = 8;

/// MB/s of [`BULK_TRANSFERS`] GETs of `/bulk` from `netns`, one after
/// another, each over a single TCP connection.
fn bulk_mb_per_second(netns: &Path, target: SocketAddr, expect_bytes: u64) -> f64 {
    in_netns(netns, || {
        let started = Instant::now();
        for _ in 0..BULK_TRANSFERS {
            let (status, bytes) = http::get_discarding(target, "/bulk", Timeouts::default())
                .unwrap_or_else(|e| panic!("GET {target}/bulk: {e}"));
            assert_eq!(
                (status, bytes),
                (200, expect_bytes),
                "the whole file from {target}"
            );
        }
        let secs = started.elapsed().as_secs_f64();
        (expect_bytes * u64::from(BULK_TRANSFERS)) as f64 / 1e6 / secs
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

/// The two paths measured, from the client pod's namespace.
struct Setup {
    /// The client pod's network namespace.
    netns: PathBuf,
    /// The Service's ClusterIP:80.
    via_service: SocketAddr,
    /// The backend pod's IP:8080.
    direct: SocketAddr,
}

/// Wait until pod `name` is Ready.
async fn wait_ready(pods: &Api<Pod>, name: &str) -> Pod {
    wait_for(
        &format!("pod {name} to be ready"),
        Duration::from_secs(120),
        || async {
            let p = pods.get(name).await.map_err(|e| e.to_string())?;
            if is_pod_ready(&p) {
                Ok(p)
            } else {
                Err(format!("phase {:?}", p.status.phase))
            }
        },
    )
    .await
}

/// Create the backend, its Service and the client; wait until the
/// Service has that one endpoint and its ClusterIP answers the client.
async fn deploy(cluster: &Cluster, bulk_mib: u64) -> Setup {
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
    pods.create(&PostParams::default(), &client_pod())
        .await
        .expect("creating the client pod");
    let pod = wait_ready(&pods, "bench-web").await;
    let client = wait_ready(&pods, "bench-client").await;
    let netns = tug_tests::netns::pod_netns(
        &tug_cluster::paths::node_dir(cluster.state_dir(), NODE),
        &client.metadata.uid,
    );
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
    let ns = netns.clone();
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
    Setup {
        netns,
        via_service: cluster_ip,
        direct,
    }
}

async fn run(args: Args) {
    let work = tempfile::tempdir().expect("temp dir");
    eprintln!("starting a one-node netns runc cluster ...");
    let cluster = start_cluster(work.path()).await;
    let Setup {
        netns,
        via_service,
        direct,
    } = deploy(&cluster, args.bulk_mib).await;
    println!(
        "client: a pod on {NODE}; ClusterIP {via_service} -> pod {direct} (one endpoint, same node)"
    );
    println!(
        "{} s per measurement, {} connections in flight, {} rounds each, alternating",
        args.seconds, args.concurrency, args.rounds
    );

    let duration = Duration::from_secs(args.seconds);
    let (mut svc_rates, mut pod_rates) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for round in 0..args.rounds {
        // A B, then B A: a drift over the run favours neither path.
        let mut order = [(via_service, &mut svc_rates), (direct, &mut pod_rates)];
        if round % 2 == 1 {
            order.reverse();
        }
        for (target, rates) in order {
            let ns = netns.clone();
            let concurrency = args.concurrency;
            let rate = tokio::task::spawn_blocking(move || {
                requests_per_second(&ns, target, concurrency, duration)
            })
            .await
            .expect("the measuring threads");
            rates.push(rate.per_second);
            if rate.failed > 0 {
                failures.push(format!(
                    "{target}: {} failed, first: {}",
                    rate.failed,
                    rate.first_failure.unwrap_or_default()
                ));
            }
        }
    }
    let ratios: Vec<f64> = svc_rates
        .iter()
        .zip(&pod_rates)
        .map(|(s, p)| s / p)
        .collect();
    println!("{}", line("requests/s via ClusterIP", "req/s", &svc_rates));
    println!("{}", line("requests/s direct to pod", "req/s", &pod_rates));
    println!(
        "ratio ClusterIP / direct      {:.3}   (target >= 0.9; per round {:?})",
        mean(&svc_rates) / mean(&pod_rates),
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>()
    );
    for f in &failures {
        println!("  failed requests: {f}");
    }

    if args.bulk_mib > 0 {
        let bytes = args.bulk_mib * 1024 * 1024;
        let (mut svc_bulk, mut pod_bulk) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            let mut order = [(via_service, &mut svc_bulk), (direct, &mut pod_bulk)];
            if round % 2 == 1 {
                order.reverse();
            }
            for (target, rates) in order {
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
