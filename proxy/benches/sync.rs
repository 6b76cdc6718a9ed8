//! Proxy sync time at scale, through the real path (model from API
//! objects → render → transaction → `nft -f` into the kernel), in a
//! scratch network namespace:
//!
//! - a full sync of 1,000 Services × 10 endpoints (cold: no table yet;
//!   warm: rewriting the programmed table, as every `--sync-period`);
//! - a sync after one endpoint change at that size.
//!
//! Prints the median of a few repetitions, and where the time goes
//! (model, render, diff, nft). Targets: full < 1 s, one change < 100 ms.
//!
//! Run as root: `cargo bench -p tug-proxy --bench sync [-- SERVICES ENDPOINTS]`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tug_api::core::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec,
};
use tug_api::ObjectMeta;
use tug_proxy::model::{self, ProxyModel};
use tug_proxy::nft::render::{render, RenderConfig};
use tug_proxy::nft::transaction::{transaction, Mode};
use tug_proxy::nft::NftProxier;

const REPETITIONS: usize = 5;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let services: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let endpoints: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the proxy sync bench needs root (a network namespace, nftables)");
        return;
    }
    if !tug_tests::prereq::on_path("nft") {
        eprintln!("SKIP: nft is not installed (apt-get install nftables)");
        return;
    }
    let netns = format!("pxbench{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &netns])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: cannot create a network namespace");
        return;
    }
    let _guard = NetnsGuard(netns.clone());
    let path = format!("/run/netns/{netns}");
    // Everything, nft included, runs on a thread inside the scratch netns.
    tug_tests::netns::in_netns(Path::new(&path), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(bench(services, endpoints))
    });
}

/// Removes the scratch namespace (and the table in it) on drop.
struct NetnsGuard(String);

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

async fn bench(services: usize, endpoints: usize) {
    let (svcs, mut eps) = objects(services, endpoints);
    let config = RenderConfig {
        table: "bench".into(),
        cluster_cidr: Some("10.244.0.0/16".parse().unwrap()),
    };
    println!("tug-proxy sync bench: {services} Services x {endpoints} endpoints, median of {REPETITIONS}");

    // Where the time goes, without the kernel.
    let t = Instant::now();
    let model_a = model_of(&svcs, &eps);
    let t_model = t.elapsed();
    let t = Instant::now();
    let rs = render(&model_a, &config);
    let t_render = t.elapsed();
    let t = Instant::now();
    let script = transaction(None, &rs, Mode::Full);
    let t_diff = t.elapsed();
    if let Ok(path) = std::env::var("TUG_BENCH_DUMP") {
        // For profiling nft by hand: `nft -f <path>` in a scratch netns.
        std::fs::write(&path, &script).expect("writing the script");
    }
    println!(
        "  full ruleset: {} chains, {} rules, {} script lines ({} KiB)",
        rs.chains.len(),
        rs.rule_count(),
        script.lines().count(),
        script.len() / 1024
    );
    println!(
        "  model {:.1} ms, render {:.1} ms, transaction {:.1} ms",
        ms(t_model),
        ms(t_render),
        ms(t_diff)
    );

    let mut proxier = NftProxier::new(config.clone());
    let t = Instant::now();
    let model = model_of(&svcs, &eps);
    proxier.sync(&model, true).await.expect("cold full sync");
    let cold = t.elapsed();
    println!(
        "  full sync, cold (no table yet):      {:>8.1} ms",
        ms(cold)
    );

    let mut warm = Vec::new();
    for _ in 0..REPETITIONS {
        let t = Instant::now();
        let model = model_of(&svcs, &eps);
        proxier.sync(&model, true).await.expect("full sync");
        warm.push(t.elapsed());
    }
    let full = median(&mut warm);
    println!(
        "  full sync, warm (every sync period): {:>8.1} ms",
        ms(full)
    );

    // One endpoint changes back and forth.
    let mut one = Vec::new();
    let target = services / 2;
    for i in 0..REPETITIONS {
        let ip = if i % 2 == 0 {
            "10.245.0.1"
        } else {
            "10.245.0.2"
        };
        Arc::make_mut(&mut eps[target]).subsets[0].addresses[0].ip = ip.into();
        let t = Instant::now();
        let model = model_of(&svcs, &eps);
        let report = proxier.sync(&model, false).await.expect("partial sync");
        one.push(t.elapsed());
        assert!(report.applied && !report.full, "{report:?}");
    }
    let change = median(&mut one);
    println!(
        "  one endpoint change:                 {:>8.1} ms",
        ms(change)
    );

    let t = Instant::now();
    let model = model_of(&svcs, &eps);
    let report = proxier.sync(&model, false).await.expect("no-op sync");
    println!(
        "  nothing changed (no nft run):        {:>8.1} ms  (applied: {})",
        ms(t.elapsed()),
        report.applied
    );
    let verdict = |d: Duration, target: Duration| if d < target { "OK" } else { "MISSED" };
    println!(
        "  targets: full < 1 s: {}; one change < 100 ms: {}",
        verdict(full.max(cold), Duration::from_secs(1)),
        verdict(change, Duration::from_millis(100))
    );
}

/// The model as the sync loop builds it, the Endpoints shared as the
/// informer's store hands them out (no copy per build).
fn model_of(svcs: &[Service], eps: &[Arc<Endpoints>]) -> ProxyModel {
    model::build(svcs, |_, name| {
        let i: usize = name.trim_start_matches("svc").parse().ok()?;
        eps.get(i).cloned()
    })
}

/// `services` Services with `endpoints` ready endpoints each.
fn objects(services: usize, endpoints: usize) -> (Vec<Service>, Vec<Arc<Endpoints>>) {
    let meta = |i: usize| ObjectMeta {
        namespace: "default".into(),
        name: format!("svc{i}"),
        ..Default::default()
    };
    let svcs = (0..services)
        .map(|i| Service {
            metadata: meta(i),
            spec: ServiceSpec {
                cluster_ip: format!("10.96.{}.{}", i / 250, i % 250 + 1),
                ports: vec![ServicePort {
                    port: 80,
                    protocol: "TCP".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
    let eps = (0..services)
        .map(|i| Endpoints {
            metadata: meta(i),
            subsets: vec![EndpointSubset {
                addresses: (0..endpoints)
                    .map(|e| {
                        let n = i * endpoints + e;
                        EndpointAddress {
                            ip: format!("10.244.{}.{}", n / 250, n % 250 + 1),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ports: vec![EndpointPort {
                    port: 8080,
                    protocol: "TCP".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .map(Arc::new)
        .collect();
    (svcs, eps)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
