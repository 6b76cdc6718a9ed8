//! Flood bench: one client floods the apiserver while well-behaved clients
//! go on with their work. A program that prints figures; it asserts
//! nothing timed.
//!
//! ```text
//! cargo build --release -p tug-apiserver
//! cargo bench -p tug-tests --bench flood
//! cargo bench -p tug-tests --bench flood -- --seconds 20 --flood-connections 128
//! ```
//!
//! It starts the release `tug-apiserver` (next to the bench binary, or
//! `$TUG_APISERVER_BIN`) with a token file of two users, `flood` and
//! `polite` (both bound to the `edit` ClusterRole in their namespaces),
//! and talks HTTPS to its secure port, verifying the generated CA. Phases,
//! `--seconds` (10) each:
//!
//! 1. **quiet**: `--polite-clients` (4) well-behaved clients, each sending
//!    `--polite-rate` (5) requests/s in turn a get, a list and a create;
//! 2. **flood, default limits**: the same, while `flood` hammers lists and
//!    creates over `--flood-connections` (64) connections as fast as the
//!    server answers, never waiting for Retry-After. Its token bucket
//!    (`--client-qps 100 --client-burst 200`) refuses most of it;
//! 3. **flood, held at the in-flight limit**: a second apiserver with
//!    small pools (`--inflight-read` 16, `--inflight-mutating` 8) and
//!    `flood` exempt from rate limiting, so the flood fills the pools and
//!    the in-flight limit alone holds the server.
//!
//! For the flood it prints requests/s served and the 429 share; for the
//! well-behaved clients p50/p99/max latency of their answered requests
//! and how many got 429. Target: well-behaved p99 < 50 ms while flooding
//! (phase 2: per-client buckets keep one client from starving others; in
//! phase 3 the pools are shared, so polite requests get 429s too, as with
//! upstream's max-in-flight filter).
//!
//! The bench, the apiserver and anything else running share the
//! machine's cores: the figures are for the whole system on this machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// Deadline of any single request.
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bearer tokens of the two users (`--token-auth-file` CSV).
const FLOOD_TOKEN: &str = "flood-token-0123456789";
const POLITE_TOKEN: &str = "polite-token-0123456789";
/// ConfigMaps in each namespace before the phases (what lists return).
const LIST_OBJECTS: usize = 50;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "flood-bench",
    about = "Well-behaved clients' latency while one client floods tug-apiserver."
)]
struct Args {
    /// Seconds each phase lasts.
    #[arg(long, env = "TUG_BENCH_SECONDS", default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections of the flooding client.
    #[arg(long, env = "TUG_BENCH_FLOOD_CONNECTIONS", default_value_t = 64)]
    flood_connections: usize,
    /// Well-behaved clients (one connection each).
    #[arg(long, env = "TUG_BENCH_POLITE_CLIENTS", default_value_t = 4)]
    polite_clients: usize,
    /// Requests per second of each well-behaved client.
    #[arg(long, env = "TUG_BENCH_POLITE_RATE", default_value_t = 5)]
    polite_rate: u32,
    /// `--max-requests-inflight` of the phase-3 apiserver.
    #[arg(long, default_value_t = 16)]
    inflight_read: usize,
    /// `--max-mutating-requests-inflight` of the phase-3 apiserver.
    #[arg(long, default_value_t = 8)]
    inflight_mutating: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// A name filter `cargo bench` may pass; ignored.
    #[arg(hide = true)]
    filter: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flood bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The release apiserver binary.
fn apiserver_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("TUG_APISERVER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let bin = tug_tests::bins::workspace_binary("tug-apiserver");
    if !bin.to_string_lossy().contains("release") {
        bail!(
            "{} is not a release build: run `cargo build --release -p tug-apiserver` first \
             (or point TUG_APISERVER_BIN at a binary)",
            bin.display()
        );
    }
    Ok(bin)
}

/// One apiserver for the bench, its users set up.
struct Server {
    process: ApiServerProcess,
    ca: reqwest::Certificate,
}

impl Server {
    /// Start with `limit_args` and prepare namespaces, permissions and the
    /// objects lists return.
    async fn start(token_file: &std::path::Path, limit_args: &[&str]) -> anyhow::Result<Server> {
        let binary = apiserver_binary()?;
        let token_arg = token_file.to_string_lossy().to_string();
        let mut args = vec!["--token-auth-file", token_arg.as_str()];
        args.extend_from_slice(limit_args);
        let process = ApiServerProcess::start_with_args(&binary, Store::Embedded, &args)?;
        let ca = reqwest::Certificate::from_pem(process.ca_pem()?.as_bytes())
            .context("the generated CA")?;
        let server = Server { process, ca };
        server.prepare().await?;
        Ok(server)
    }

    /// As the admin (the loopback insecure port): a namespace per user,
    /// `edit` there, and [`LIST_OBJECTS`] ConfigMaps in each.
    async fn prepare(&self) -> anyhow::Result<()> {
        let admin = reqwest::Client::new();
        let base = &self.process.url;
        for user in ["flood", "polite"] {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": user}});
            expect_created(admin.post(format!("{base}/api/v1/namespaces")).json(&ns)).await?;
            let binding = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": format!("{user}-edit"), "namespace": user},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            });
            expect_created(
                admin
                    .post(format!(
                        "{base}/apis/rbac.authorization.k8s.io/v1/namespaces/{user}/rolebindings"
                    ))
                    .json(&binding),
            )
            .await?;
            for i in 0..LIST_OBJECTS {
                expect_created(
                    admin
                        .post(format!("{base}/api/v1/namespaces/{user}/configmaps"))
                        .json(&configmap(&format!("seed-{i}"))),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// An HTTPS client of `connections` keep-alive connections.
    fn client(&self, connections: usize) -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .add_root_certificate(self.ca.clone())
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .timeout(OP_TIMEOUT)
            .build()
            .context("an HTTPS client")
    }
}

async fn expect_created(req: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let r = req.send().await?;
    let code = r.status();
    if !code.is_success() {
        bail!(
            "set-up request: {code}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

fn configmap(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"payload": "x".repeat(256)},
    })
}

/// What one kind of client saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
}

impl Tally {
    fn count(&self, code: Option<u16>) {
        match code {
            Some(c) if (200..300).contains(&c) => self.ok.fetch_add(1, Ordering::Relaxed),
            Some(429) => self.too_many.fetch_add(1, Ordering::Relaxed),
            _ => self.other.fetch_add(1, Ordering::Relaxed),
        };
    }
    fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.too_many.load(Ordering::Relaxed)
            + self.other.load(Ordering::Relaxed)
    }
}

/// One request of the rotation `get, list, create`; its status (None:
/// no answer).
async fn request(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    ns: &str,
    n: u64,
    who: &str,
) -> Option<u16> {
    let req = match n % 3 {
        0 => client.get(format!(
            "{base}/api/v1/namespaces/{ns}/configmaps/seed-{}",
            n % LIST_OBJECTS as u64
        )),
        1 => client.get(format!("{base}/api/v1/namespaces/{ns}/configmaps")),
        _ => client
            .post(format!("{base}/api/v1/namespaces/{ns}/configmaps"))
            .json(&configmap(&format!("{who}-{n}"))),
    };
    let r = req.bearer_auth(token).send().await.ok()?;
    let code = r.status().as_u16();
    r.bytes().await.ok()?;
    Some(code)
}

/// Well-behaved clients' figures.
struct Polite {
    tally: Tally,
    latency: Mutex<Histogram<u64>>,
}

/// `clients` clients each sending `rate` requests/s until `stop`.
async fn run_polite(
    server: &Server,
    args: &Args,
    stop: Arc<AtomicBool>,
    epoch: u64,
) -> anyhow::Result<Arc<Polite>> {
    let polite = Arc::new(Polite {
        tally: Tally::default(),
        latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
    });
    let mut tasks = Vec::new();
    for c in 0..args.polite_clients {
        let client = server.client(1)?;
        let base = server.process.secure_url.clone();
        let stop = stop.clone();
        let polite = polite.clone();
        let period = Duration::from_secs_f64(1.0 / f64::from(args.polite_rate.max(1)));
        tasks.push(tokio::spawn(async move {
            // Pacing, not synchronisation: a steady request rate.
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let who = format!("polite-{epoch}-{c}");
                let started = Instant::now();
                let code = request(&client, &base, POLITE_TOKEN, "polite", n, &who).await;
                let micros = started.elapsed().as_micros() as u64;
                polite.tally.count(code);
                if code.is_some_and(|c| (200..300).contains(&c)) {
                    let _ = polite.latency.lock().unwrap().record(micros.max(1));
                }
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(polite)
}

/// The flooding client: `connections` tasks sending back to back until `stop`.
async fn run_flood(
    server: &Server,
    connections: usize,
    stop: Arc<AtomicBool>,
    epoch: u64,
) -> anyhow::Result<Arc<Tally>> {
    let tally = Arc::new(Tally::default());
    let client = server.client(connections)?;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        let base = server.process.secure_url.clone();
        let stop = stop.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = c as u64;
            while !stop.load(Ordering::Relaxed) {
                let who = format!("flood-{epoch}-{c}");
                // Lists and creates only (no gets), alternating.
                let op = if n.is_multiple_of(2) { 1 } else { 2 };
                let code = request(&client, &base, FLOOD_TOKEN, "flood", n * 3 + op, &who).await;
                tally.count(code);
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(tally)
}

/// Run the polite clients (and the flood, when `flood`) for the phase.
async fn phase(
    name: &str,
    server: &Server,
    args: &Args,
    flood: bool,
    epoch: u64,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let flooding = flood.then(|| run_flood(server, args.flood_connections, stop.clone(), epoch));
    let polite = run_polite(server, args, stop.clone(), epoch);
    let timer = async {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (polite, flood_tally, ()) = tokio::join!(
        polite,
        async {
            match flooding {
                Some(f) => f.await.map(Some),
                None => Ok(None),
            }
        },
        timer
    );
    let elapsed = started.elapsed().as_secs_f64();
    let polite = polite?;
    println!("{name}:");
    if let Some(t) = flood_tally? {
        let total = t.total().max(1);
        println!(
            "  flood   {:>8.0} req/s served, {:>8.0} req/s refused (429 share {:>5.1} %), {} other errors",
            t.ok.load(Ordering::Relaxed) as f64 / elapsed,
            t.too_many.load(Ordering::Relaxed) as f64 / elapsed,
            100.0 * t.too_many.load(Ordering::Relaxed) as f64 / total as f64,
            t.other.load(Ordering::Relaxed),
        );
    }
    let h = polite.latency.lock().unwrap();
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "  polite  {} answered, {} got 429, {} other errors; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        polite.tally.ok.load(Ordering::Relaxed),
        polite.tally.too_many.load(Ordering::Relaxed),
        polite.tally.other.load(Ordering::Relaxed),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("tokens.csv");
    std::fs::write(
        &token_file,
        format!("{FLOOD_TOKEN},flood,1001\n{POLITE_TOKEN},polite,1002\n"),
    )?;
    println!(
        "flood bench: {} s per phase, flood over {} connections, {} polite clients at {} req/s each",
        args.seconds, args.flood_connections, args.polite_clients, args.polite_rate
    );
    {
        let server = Server::start(&token_file, &[]).await?;
        phase("1. quiet (default limits)", &server, args, false, 1).await?;
        phase(
            "2. flood (default limits: per-client buckets)",
            &server,
            args,
            true,
            2,
        )
        .await?;
    }
    let read = args.inflight_read.to_string();
    let mutating = args.inflight_mutating.to_string();
    let server = Server::start(
        &token_file,
        &[
            "--max-requests-inflight",
            &read,
            "--max-mutating-requests-inflight",
            &mutating,
            "--rate-limit-exempt-users",
            "flood",
        ],
    )
    .await?;
    phase(
        &format!(
            "3. flood held at the in-flight limit ({read} read-only, {mutating} mutating; flood not rate-limited)"
        ),
        &server,
        args,
        true,
        3,
    )
    .await?;
    Ok(())
}
