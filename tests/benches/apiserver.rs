//! Apiserver benchmark: a program that prints figures (it asserts nothing
//! timed).
//!
//! ```text
//! cargo build --release -p tug-apiserver
//! cargo bench -p tug-tests --bench apiserver
//! cargo bench -p tug-tests --bench apiserver -- --objects 4000 --watchers 1000
//! cargo bench -p tug-tests --bench apiserver -- --help
//! ```
//!
//! It drives the release `tug-apiserver` (`target/release/tug-apiserver`
//! under the workspace root, or `$TUG_APISERVER_BIN`) and a real `etcd`
//! (see `tug_tests::etcd`; without one the etcd phases are skipped), starts
//! and kills every process itself, and prints, with `--clients` (16)
//! concurrent clients and objects of `--payload` (1 KiB) bytes of `data`:
//!
//! 1. raw etcd puts of the same bytes the apiserver is sent (a ConfigMap's
//!    JSON), once with one etcd connection per client and once with one
//!    shared connection (what the apiserver itself uses); the faster of the
//!    two is the baseline, to be fair to etcd; then, as diagnostics
//!    (`diag:` lines), the etcd calls behind an apiserver create built up
//!    step by step (create-if-absent transaction, with the watch cache's
//!    prefix watch open, with the namespace read before it) and raw gets;
//! 2. the apiserver over etcd: create, get and list ConfigMaps over HTTP
//!    (one keep-alive `reqwest::Client`, hence one connection, per client);
//! 3. the same on the embedded SQLite store;
//! 4. the ratios against the targets: create over etcd ≥ 0.5 × raw etcd,
//!    get p99 < 5 ms;
//! 5. watch fan-out: `--watchers` (1,000) concurrent watches of `default`'s
//!    ConfigMaps, then `--watch-writes` (50) creates `--watch-spacing-ms`
//!    (20 ms) apart; for every watcher × write, the time from just before the
//!    write was sent to the moment that watcher read the event line (target
//!    p99 < 100 ms), and how many deliveries never arrived (should be 0).
//!
//! Under each timed line, `cpu/op` is the CPU time (user + system, from
//! `/proc/PID/stat`) each process spent per operation during that phase:
//! where the time goes.
//!
//! Every flag also reads an environment variable (`TUG_BENCH_OBJECTS`, ...;
//! see `--help`). The bench process, the apiserver and etcd share the
//! machine's cores, so the figures are for the whole system on this machine.
//! Watch fan-out needs about `--watchers` + 128 file descriptors in this
//! process and in the apiserver; if the soft `RLIMIT_NOFILE` is lower the
//! phase is skipped with a hint (`ulimit -n 4096`).
//!
//! With the defaults a run takes about 10 s (plus the build) on 2 cores.
//!
//! Exit status: 0 if every request succeeded and every watch event arrived,
//! 1 otherwise (or if a process could not be started).

use std::error::Error as StdError;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Semaphore};
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::etcd::{etcd_available, etcd_binary, EtcdProcess};
use tug_tests::net::eventually;

/// Deadline of any single request (create, get, list, put).
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for all watchers to be connected.
const WATCH_SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after the last watched write deliveries may still arrive
/// before the missing ones are counted as missing.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// Watches being established at once (the rest queue).
const WATCH_CONNECT_CONCURRENCY: usize = 64;
/// File descriptors the bench needs besides one per watcher.
const FD_HEADROOM: u64 = 128;

/// Namespace of the list benchmark.
const LIST_NAMESPACE: &str = "bench-list";
/// Names of the objects the watchers wait for: `bench-watch-NNNNN`.
const WATCH_PREFIX: &str = "bench-watch-";
/// How a watched object's name appears in an event line.
const WATCH_MARKER: &[u8] = b"\"name\":\"bench-watch-";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "apiserver-bench",
    about = "Throughput and latency of tug-apiserver on etcd and embedded SQLite, against raw etcd."
)]
struct Args {
    /// Objects created and read back per backend (and raw etcd puts).
    #[arg(long, env = "TUG_BENCH_OBJECTS", default_value_t = 4000)]
    objects: usize,
    /// Concurrent clients (tokio tasks, one connection each).
    #[arg(long, env = "TUG_BENCH_CLIENTS", default_value_t = 16)]
    clients: usize,
    /// Bytes of `data` in each ConfigMap.
    #[arg(long, env = "TUG_BENCH_PAYLOAD", default_value_t = 1024)]
    payload: usize,
    /// ConfigMaps in the namespace that is listed.
    #[arg(long, env = "TUG_BENCH_LIST_OBJECTS", default_value_t = 100)]
    list_objects: usize,
    /// Lists each client makes.
    #[arg(long, env = "TUG_BENCH_LISTS_PER_CLIENT", default_value_t = 50)]
    lists_per_client: usize,
    /// Concurrent watch connections (0 skips the watch phase).
    #[arg(long, env = "TUG_BENCH_WATCHERS", default_value_t = 1000)]
    watchers: usize,
    /// Writes every watcher must see.
    #[arg(long, env = "TUG_BENCH_WATCH_WRITES", default_value_t = 50)]
    watch_writes: usize,
    /// Pause between watched writes, in milliseconds (pacing).
    #[arg(long, env = "TUG_BENCH_WATCH_SPACING_MS", default_value_t = 20)]
    watch_spacing_ms: u64,
    /// Skip every etcd phase (raw etcd and the apiserver over etcd).
    #[arg(long, env = "TUG_BENCH_SKIP_ETCD")]
    skip_etcd: bool,
    /// Run the watch fan-out on the embedded store only.
    #[arg(long, env = "TUG_BENCH_WATCH_EMBEDDED_ONLY")]
    watch_embedded_only: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// A name filter `cargo bench` may pass; ignored.
    #[arg(hide = true)]
    filter: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("apiserver bench: {failures} phase(s) had failed requests or missing watch events (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("apiserver bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The release apiserver binary, or a message saying how to build it.
fn apiserver_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("TUG_APISERVER_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("TUG_APISERVER_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the tests crate has a parent directory")?;
    let bin = root.join("target/release/tug-apiserver");
    if !bin.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release -p tug-apiserver` \
             (or point TUG_APISERVER_BIN at a binary)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Runs every phase; returns how many phases had failures.
fn run(args: &Args) -> anyhow::Result<usize> {
    if args.objects == 0 || args.clients == 0 {
        bail!("--objects and --clients must be positive");
    }
    let binary = apiserver_binary()?;
    let use_etcd = !args.skip_etcd && etcd_available();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("tug-apiserver benchmark");
    println!("  machine: nproc = {cores}");
    println!("  apiserver: {}", binary.display());
    match (args.skip_etcd, etcd_binary()) {
        (true, _) => println!("  etcd: skipped (--skip-etcd)"),
        (false, Some(etcd)) => println!("  etcd: {}", etcd.display()),
        (false, None) => {
            println!("  etcd: not installed (apt-get install etcd-server); etcd phases skipped")
        }
    }
    println!(
        "  {} objects, {} concurrent clients, {} B payload; lists: {} clients x {} of {} objects; watch: {} watchers x {} writes every {} ms",
        args.objects,
        args.clients,
        args.payload,
        args.clients,
        args.lists_per_client,
        args.list_objects,
        args.watchers,
        args.watch_writes,
        args.watch_spacing_ms
    );
    println!();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let bodies = Arc::new(
        (0..args.objects)
            .map(|i| configmap(&object_name(i), args.payload, i as u64))
            .collect::<Vec<_>>(),
    );
    let mut failures = 0;
    print_header();

    // 1. raw etcd, on its own fresh etcd.
    let mut raw_best: Option<Phase> = None;
    if use_etcd {
        let etcd = EtcdProcess::start().context("starting etcd for the raw put phase")?;
        let probe = Probe::new(&[("etcd", pid_with_arg(etcd.data_dir()))]);
        let raw = rt.block_on(raw_etcd(&etcd.endpoint, args, bodies.clone(), &probe))?;
        drop(etcd);
        for p in raw.puts.iter().chain(&raw.diagnostics) {
            p.print();
            failures += usize::from(p.failed());
        }
        raw_best = raw
            .puts
            .into_iter()
            .max_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
    }

    // 2. the apiserver over a fresh etcd (kept running for the watch phase).
    let mut etcd_server = None;
    let mut etcd_crud = None;
    if use_etcd {
        let etcd = EtcdProcess::start().context("starting etcd for the apiserver")?;
        let api = ApiServerProcess::start_with_args(
            &binary,
            Store::Etcd(vec![etcd.endpoint.clone()]),
            &[],
        )
        .context("starting tug-apiserver over etcd")?;
        let probe = Probe::new(&[
            ("apiserver", pid_with_arg(api.data_dir())),
            ("etcd", pid_with_arg(etcd.data_dir())),
        ]);
        let crud = rt.block_on(crud(
            &api.url,
            "apiserver/etcd",
            args,
            bodies.clone(),
            &probe,
        ))?;
        failures += crud.print();
        etcd_crud = Some(crud);
        etcd_server = Some((api, etcd, probe));
    }

    // 3. the apiserver on embedded SQLite.
    let embedded = ApiServerProcess::start_with_args(&binary, Store::Embedded, &[])
        .context("starting tug-apiserver on the embedded store")?;
    let embedded_probe = Probe::new(&[("apiserver", pid_with_arg(embedded.data_dir()))]);
    let embedded_crud = rt.block_on(crud(
        &embedded.url,
        "apiserver/sqlite",
        args,
        bodies,
        &embedded_probe,
    ))?;
    failures += embedded_crud.print();

    // 4. against the targets.
    println!();
    match (&etcd_crud, &raw_best) {
        (Some(crud), Some(raw)) => {
            let ratio = crud.create.ops_per_sec() / raw.ops_per_sec();
            println!(
                "create throughput apiserver/etcd ÷ raw etcd = {ratio:.2} (target ≥ 0.5: {})  [{:.0} ÷ {:.0} ops/s, baseline: {}]",
                verdict(ratio >= 0.5),
                crud.create.ops_per_sec(),
                raw.ops_per_sec(),
                raw.name
            );
        }
        _ => println!("create throughput apiserver/etcd ÷ raw etcd = n/a (etcd phases skipped)"),
    }
    for crud in etcd_crud.iter().chain([&embedded_crud]) {
        let p99 = crud.get.tally.p99_ms();
        println!(
            "get p99 {} = {p99:.2} ms (target < 5 ms: {})",
            crud.store,
            verdict(p99 < 5.0)
        );
    }

    // 5. watch fan-out.
    if args.watchers > 0 {
        println!();
        match fd_limit() {
            Some(limit) if limit < args.watchers as u64 + FD_HEADROOM => {
                println!(
                    "watch fan-out skipped: RLIMIT_NOFILE soft limit is {limit}, {} watchers need about {}; raise it (`ulimit -n 4096`) and rerun",
                    args.watchers,
                    args.watchers as u64 + FD_HEADROOM
                );
            }
            _ => {
                let mut targets = vec![("apiserver/sqlite", &embedded.url, &embedded_probe)];
                if let (Some((api, _, probe)), false) = (&etcd_server, args.watch_embedded_only) {
                    targets.push(("apiserver/etcd", &api.url, probe));
                }
                for (store, url, probe) in targets {
                    let fanout = rt.block_on(watch_fanout(url, store, args, probe))?;
                    fanout.print();
                    failures += usize::from(fanout.failed());
                }
            }
        }
    }
    drop(embedded);
    if let Some((api, etcd, _)) = etcd_server {
        // The apiserver first, so it does not log losing etcd.
        drop(api);
        drop(etcd);
    }
    Ok(failures)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// The soft `RLIMIT_NOFILE` of this process (which the apiserver inherits).
fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// ---------------------------------------------------------------------------
// Objects.

fn object_name(i: usize) -> String {
    format!("bench-{i:06}")
}

/// `len` pseudo-random alphanumeric bytes (so nothing compresses them away).
fn payload(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// The JSON of a ConfigMap named `name` with `len` bytes in `data`.
fn configmap(name: &str, len: usize, seed: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"payload": payload(len, seed)},
    }))
    .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Measurements.

fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Latencies and failures of one phase.
struct Tally {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: new_histogram(),
            errors: 0,
            first_error: None,
        }
    }

    fn record(&mut self, d: Duration) {
        self.hist.saturating_record(micros(d));
    }

    fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    fn merge(&mut self, other: Tally) {
        // Same bounds on both sides: addition cannot fail.
        let _ = self.hist.add(&other.hist);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    fn p99_ms(&self) -> f64 {
        self.ms(0.99)
    }

    fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }
}

/// One timed phase: `ops` operations in `elapsed`.
struct Phase {
    name: String,
    ops: usize,
    elapsed: Duration,
    tally: Tally,
    /// Printed after the figures (e.g. objects/s of a list).
    note: String,
    /// CPU time per operation of each process, printed below the figures.
    cpu: Option<String>,
}

impl Phase {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn failed(&self) -> bool {
        self.tally.errors > 0
    }

    fn print(&self) {
        println!(
            "{:<46} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2}  {}",
            self.name,
            self.ops,
            self.ops_per_sec(),
            self.tally.ms(0.5),
            self.tally.p99_ms(),
            self.tally.max_ms(),
            self.note
        );
        if let Some(cpu) = &self.cpu {
            println!("    cpu/op: {cpu}");
        }
        if self.tally.errors > 0 {
            println!(
                "    {} FAILED, first: {}",
                self.tally.errors,
                self.tally.first_error.as_deref().unwrap_or("?")
            );
        }
    }
}

fn print_header() {
    println!(
        "{:<46} {:>7} {:>9} {:>8} {:>8} {:>8}",
        "phase", "ops", "ops/s", "p50 ms", "p99 ms", "max ms"
    );
}

/// Runs `op(client, i)` for i in 0..total on one task per client, each task
/// taking the next index until none are left; times every call.
async fn run_concurrent<C, F, Fut>(name: String, clients: Vec<C>, total: usize, op: F) -> Phase
where
    C: Clone + Send + 'static,
    F: Fn(C, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let t0 = Instant::now();
                    let result = tokio::time::timeout(OP_TIMEOUT, op(client.clone(), i)).await;
                    tally.record(t0.elapsed());
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tally.fail(e),
                        Err(_) => tally.fail(format!("timed out after {OP_TIMEOUT:?}")),
                    }
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::new();
    for task in tasks {
        match task.await {
            Ok(t) => tally.merge(t),
            Err(e) => tally.fail(format!("client task failed: {e}")),
        }
    }
    Phase {
        name,
        ops: total,
        elapsed: start.elapsed(),
        tally,
        note: String::new(),
        cpu: None,
    }
}

/// An error with its sources, on one line.
fn chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

// ---------------------------------------------------------------------------
// Where the time goes: CPU seconds of each process, from /proc.

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// The processes whose CPU time a phase reports.
struct Probe {
    /// (label, `/proc/...` directory)
    procs: Vec<(&'static str, PathBuf)>,
}

impl Probe {
    /// This process (`bench`) and each (label, pid) found.
    fn new(others: &[(&'static str, Option<u32>)]) -> Probe {
        let mut procs: Vec<_> = others
            .iter()
            .filter_map(|(label, pid)| pid.map(|p| (*label, PathBuf::from(format!("/proc/{p}")))))
            .collect();
        procs.push(("bench", PathBuf::from("/proc/self")));
        Probe { procs }
    }

    /// User + system CPU seconds of every process so far.
    fn sample(&self) -> Vec<Option<f64>> {
        self.procs.iter().map(|(_, dir)| cpu_seconds(dir)).collect()
    }

    /// "apiserver 123 µs, etcd 45 µs, bench 6 µs": CPU between two samples per op.
    fn per_op(&self, before: &[Option<f64>], after: &[Option<f64>], ops: usize) -> String {
        self.procs
            .iter()
            .zip(before.iter().zip(after))
            .filter_map(|((label, _), (b, a))| {
                let used = a.as_ref()? - b.as_ref()?;
                Some(format!("{label} {:.0} µs", used * 1e6 / ops.max(1) as f64))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Runs `phase` and attaches the CPU each process spent per operation.
    async fn measure(&self, phase: impl Future<Output = Phase>) -> Phase {
        let before = self.sample();
        let mut phase = phase.await;
        phase.cpu = Some(self.per_op(&before, &self.sample(), phase.ops));
        phase
    }
}

/// utime + stime of the process whose `/proc` directory is `dir`.
fn cpu_seconds(dir: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // Fields after the parenthesised command: state is the first (field 3
    // of proc(5)), utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS)
}

/// The pid of the (other) process whose command line mentions `needle`
/// (a data directory only that process uses).
fn pid_with_arg(needle: &Path) -> Option<u32> {
    let needle = needle.to_str()?;
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if pid == me {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline
                .split('\0')
                .any(|arg| arg.contains(needle))
                .then_some(pid)
        })
}

// ---------------------------------------------------------------------------
// Raw etcd.

async fn etcd_connect(endpoint: &str) -> anyhow::Result<etcd_client::Client> {
    let mut client = etcd_client::Client::connect([endpoint], None)
        .await
        .with_context(|| format!("connecting to etcd at {endpoint}"))?;
    // Make sure the connection is up before anything is timed.
    client
        .get("/bench/warmup", None)
        .await
        .context("first etcd request")?;
    Ok(client)
}

/// The raw etcd figures: the put baselines, and diagnostics that replay
/// what the apiserver asks of etcd.
struct RawEtcd {
    puts: Vec<Phase>,
    diagnostics: Vec<Phase>,
}

/// `args.objects` puts with one connection per client, then as many with
/// one shared connection (the baselines). Then, as diagnostics on the
/// shared connection (like the apiserver's), the etcd calls behind an
/// apiserver create built up step by step, and gets of written keys.
async fn raw_etcd(
    endpoint: &str,
    args: &Args,
    bodies: Arc<Vec<Vec<u8>>>,
    probe: &Probe,
) -> anyhow::Result<RawEtcd> {
    let mut own = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        own.push(etcd_connect(endpoint).await?.kv_client());
    }
    let mut shared_client = etcd_connect(endpoint).await?;
    let shared = shared_client.kv_client();
    let mut puts = Vec::new();
    for (label, clients) in [
        ("conn-per-client", own),
        ("shared-conn", vec![shared.clone(); args.clients]),
    ] {
        let bodies = bodies.clone();
        puts.push(
            probe
                .measure(run_concurrent(
                    format!("raw etcd put ({label})"),
                    clients,
                    args.objects,
                    move |mut kv: etcd_client::KvClient, i| {
                        let key = format!("/bench/raw/{label}/{}", object_name(i));
                        let value = bodies[i].clone();
                        async move {
                            kv.put(key, value, None)
                                .await
                                .map(|_| ())
                                .map_err(|e| chain(&e))
                        }
                    },
                ))
                .await,
        );
    }

    // What an apiserver create costs etcd, one ingredient at a time: the
    // create-if-absent transaction, with the watch cache's prefix watch
    // (with previous values) open, and with the namespace read before it.
    const NAMESPACE_KEY: &str = "/bench/ns/default";
    shared_client
        .put(NAMESPACE_KEY, bodies[0].clone(), None)
        .await
        .context("writing the namespace stand-in")?;
    let mut diagnostics = Vec::new();
    for (label, watched, read_namespace) in [
        ("txn create", false, false),
        ("txn create, watched", true, false),
        ("get ns + txn create, watched", true, true),
    ] {
        let prefix = format!("/bench/{}/", diagnostics.len());
        let watch = if watched {
            let options = etcd_client::WatchOptions::new()
                .with_prefix()
                .with_prev_key();
            let (watcher, mut events) = shared_client
                .watch_client()
                .watch(prefix.as_str(), Some(options))
                .await
                .context("opening the prefix watch")?;
            let drain =
                tokio::spawn(async move { while let Ok(Some(_)) = events.message().await {} });
            Some((watcher, drain))
        } else {
            None
        };
        let bodies = bodies.clone();
        diagnostics.push(
            probe
                .measure(run_concurrent(
                    format!("  diag: raw etcd {label}"),
                    vec![shared.clone(); args.clients],
                    args.objects,
                    move |mut kv: etcd_client::KvClient, i| {
                        let key = format!("{prefix}{}", object_name(i));
                        let value = bodies[i].clone();
                        async move {
                            if read_namespace {
                                kv.get(NAMESPACE_KEY, None).await.map_err(|e| chain(&e))?;
                            }
                            let txn = etcd_client::Txn::new()
                                .when([etcd_client::Compare::create_revision(
                                    key.as_str(),
                                    etcd_client::CompareOp::Equal,
                                    0,
                                )])
                                .and_then([etcd_client::TxnOp::put(key.as_str(), value, None)]);
                            let resp = kv.txn(txn).await.map_err(|e| chain(&e))?;
                            if resp.succeeded() {
                                Ok(())
                            } else {
                                Err(format!("{key} already exists"))
                            }
                        }
                    },
                ))
                .await,
        );
        if let Some((watcher, drain)) = watch {
            drop(watcher);
            drain.abort();
        }
    }
    let gets = probe
        .measure(run_concurrent(
            "  diag: raw etcd get".into(),
            vec![shared; args.clients],
            args.objects,
            move |mut kv: etcd_client::KvClient, i| {
                let key = format!("/bench/0/{}", object_name(i));
                async move {
                    let resp = kv.get(key.as_str(), None).await.map_err(|e| chain(&e))?;
                    if resp.kvs().is_empty() {
                        Err(format!("{key} not found"))
                    } else {
                        Ok(())
                    }
                }
            },
        ))
        .await;
    diagnostics.push(gets);
    Ok(RawEtcd { puts, diagnostics })
}

// ---------------------------------------------------------------------------
// Create, get, list over HTTP.

/// The create/get/list figures of one apiserver.
struct Crud {
    store: &'static str,
    create: Phase,
    get: Phase,
    list: Phase,
}

impl Crud {
    /// Prints the three phases; returns how many failed.
    fn print(&self) -> usize {
        [&self.create, &self.get, &self.list]
            .into_iter()
            .map(|p| {
                p.print();
                usize::from(p.failed())
            })
            .sum()
    }
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(OP_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .context("building an HTTP client")
}

/// Sends `req`, reads the whole body, and checks the status.
async fn send_expect(req: reqwest::RequestBuilder, want: u16) -> Result<usize, String> {
    let resp = req.send().await.map_err(|e| chain(&e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| chain(&e))?;
    if status != want {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("HTTP {status} (wanted {want}): {shown}"));
    }
    Ok(body.len())
}

async fn crud(
    base: &str,
    store: &'static str,
    args: &Args,
    bodies: Arc<Vec<Vec<u8>>>,
    probe: &Probe,
) -> anyhow::Result<Crud> {
    let clients = (0..args.clients)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Open every client's connection before anything is timed.
    for c in &clients {
        send_expect(c.get(format!("{base}/api/v1/namespaces/default")), 200)
            .await
            .map_err(anyhow::Error::msg)
            .context("warm-up GET of namespace default")?;
    }
    let collection = format!("{base}/api/v1/namespaces/default/configmaps");

    let create = {
        let (url, bodies) = (collection.clone(), bodies.clone());
        probe
            .measure(run_concurrent(
                format!("{store} create"),
                clients.clone(),
                args.objects,
                move |c: reqwest::Client, i| {
                    let req = c
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(bodies[i].clone());
                    async move { send_expect(req, 201).await.map(|_| ()) }
                },
            ))
            .await
    };

    let get = {
        let url = collection.clone();
        probe
            .measure(run_concurrent(
                format!("{store} get"),
                clients.clone(),
                args.objects,
                move |c: reqwest::Client, i| {
                    let req = c.get(format!("{url}/{}", object_name(i)));
                    async move { send_expect(req, 200).await.map(|_| ()) }
                },
            ))
            .await
    };

    // The listed namespace and its objects (not timed).
    send_expect(
        clients[0].post(format!("{base}/api/v1/namespaces")).json(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LIST_NAMESPACE}}),
        ),
        201,
    )
    .await
    .map_err(anyhow::Error::msg)
    .context("creating the list namespace")?;
    let list_url = format!("{base}/api/v1/namespaces/{LIST_NAMESPACE}/configmaps");
    let setup = {
        let (url, bodies) = (list_url.clone(), bodies.clone());
        run_concurrent(
            "list setup".into(),
            clients.clone(),
            args.list_objects,
            move |c: reqwest::Client, i| {
                let req = c
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bodies[i % bodies.len()].clone());
                async move { send_expect(req, 201).await.map(|_| ()) }
            },
        )
        .await
    };
    if setup.failed() {
        bail!(
            "{store}: creating the listed objects failed: {}",
            setup.tally.first_error.unwrap_or_default()
        );
    }
    let listed: Value = clients[0]
        .get(&list_url)
        .send()
        .await
        .context("first list")?
        .json()
        .await
        .context("first list body")?;
    let items = listed["items"].as_array().map_or(0, Vec::len);
    if items != args.list_objects {
        bail!(
            "{store}: a list of {LIST_NAMESPACE} returned {items} items, expected {}",
            args.list_objects
        );
    }

    let lists = args.clients * args.lists_per_client;
    let mut list = {
        let url = list_url.clone();
        probe
            .measure(run_concurrent(
                format!("{store} list ({} objects)", args.list_objects),
                clients,
                lists,
                move |c: reqwest::Client, _| {
                    let req = c.get(&url);
                    async move { send_expect(req, 200).await.map(|_| ()) }
                },
            ))
            .await
    };
    list.note = format!(
        "= {:.0} objects/s",
        list.ops_per_sec() * args.list_objects as f64
    );
    Ok(Crud {
        store,
        create,
        get,
        list,
    })
}

// ---------------------------------------------------------------------------
// Watch fan-out.

/// What one watcher saw.
struct WatcherOutcome {
    /// When it read the event of write i.
    seen: Vec<Option<Instant>>,
    /// Why it stopped before being told to, if it did.
    ended: Option<String>,
}

/// The figures of one watch fan-out run.
struct Fanout {
    store: &'static str,
    requested: usize,
    watchers: usize,
    writes: usize,
    setup: Duration,
    write_tally: Tally,
    delivery: Tally,
    missing: usize,
    broken: usize,
    first_broken: Option<String>,
    /// CPU per write (its fan-out included) of each process.
    cpu: String,
}

impl Fanout {
    fn failed(&self) -> bool {
        self.missing > 0 || self.write_tally.errors > 0 || self.broken > 0
    }

    fn print(&self) {
        let p99 = self.delivery.p99_ms();
        println!(
            "watch fan-out {}: {} of {} watchers connected in {:.2} s; {} writes (create p50 {:.2} ms, p99 {:.2} ms)",
            self.store,
            self.watchers,
            self.requested,
            self.setup.as_secs_f64(),
            self.writes,
            self.write_tally.ms(0.5),
            self.write_tally.p99_ms(),
        );
        println!(
            "  deliveries {} of {}: p50 {:.2} ms, p99 {p99:.2} ms, max {:.2} ms; missing {} (target p99 < 100 ms: {})",
            self.delivery.hist.len(),
            self.requested * self.writes,
            self.delivery.ms(0.5),
            self.delivery.max_ms(),
            self.missing,
            verdict(p99 < 100.0 && self.missing == 0),
        );
        println!("  cpu/write incl. fan-out: {}", self.cpu);
        if self.write_tally.errors > 0 {
            println!(
                "  {} writes FAILED, first: {}",
                self.write_tally.errors,
                self.write_tally.first_error.as_deref().unwrap_or("?")
            );
        }
        if self.broken > 0 {
            println!(
                "  {} watchers FAILED or ended early, first: {}",
                self.broken,
                self.first_broken.as_deref().unwrap_or("?")
            );
        }
    }
}

/// The index `i` of `bench-watch-i` if `line` is an event about one.
fn watched_index(line: &[u8]) -> Option<usize> {
    let at = line
        .windows(WATCH_MARKER.len())
        .position(|w| w == WATCH_MARKER)?;
    let digits = &line[at + WATCH_MARKER.len()..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// One watch connection: signals `ready` once the server answered, then
/// records when each watched write's event line arrives, until `stop`.
async fn watcher(
    client: reqwest::Client,
    url: String,
    writes: usize,
    gate: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
    delivered: Arc<AtomicUsize>,
) -> WatcherOutcome {
    let mut out = WatcherOutcome {
        seen: vec![None; writes],
        ended: None,
    };
    let response = {
        let _permit = gate.acquire().await;
        match tokio::time::timeout(WATCH_SETUP_TIMEOUT, client.get(&url).send()).await {
            Ok(Ok(r)) if r.status().as_u16() == 200 => r,
            Ok(Ok(r)) => {
                let e = format!("watch answered HTTP {}", r.status());
                let _ = ready.send(Err(e.clone()));
                out.ended = Some(e);
                return out;
            }
            Ok(Err(e)) => {
                let e = format!("watch request failed: {}", chain(&e));
                let _ = ready.send(Err(e.clone()));
                out.ended = Some(e);
                return out;
            }
            Err(_) => {
                let e = format!("watch not answered within {WATCH_SETUP_TIMEOUT:?}");
                let _ = ready.send(Err(e.clone()));
                out.ended = Some(e);
                return out;
            }
        }
    };
    let _ = ready.send(Ok(()));
    let mut stream = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            // Told to stop (or the bench is gone).
            _ = stop.changed() => break,
            chunk = stream.next() => match chunk {
                Some(Ok(bytes)) => {
                    let now = Instant::now();
                    let mut scanned = buf.len();
                    buf.extend_from_slice(&bytes);
                    let mut line_start = 0;
                    while let Some(nl) = buf[scanned..].iter().position(|b| *b == b'\n') {
                        let line_end = scanned + nl;
                        if let Some(i) = watched_index(&buf[line_start..line_end]) {
                            if let Some(slot @ None) = out.seen.get_mut(i) {
                                *slot = Some(now);
                                delivered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        line_start = line_end + 1;
                        scanned = line_start;
                    }
                    buf.drain(..line_start);
                }
                Some(Err(e)) => {
                    out.ended = Some(format!("watch stream failed: {}", chain(&e)));
                    break;
                }
                None => {
                    out.ended = Some("watch stream ended".into());
                    break;
                }
            }
        }
    }
    out
}

async fn watch_fanout(
    base: &str,
    store: &'static str,
    args: &Args,
    probe: &Probe,
) -> anyhow::Result<Fanout> {
    let collection = format!("{base}/api/v1/namespaces/default/configmaps");
    let writer = http_client()?;
    let listed: Value = writer
        .get(format!("{collection}?limit=1"))
        .send()
        .await
        .context("listing before the watch")?
        .json()
        .await
        .context("list body")?;
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .context("list without metadata.resourceVersion")?
        .to_string();
    let url = format!("{collection}?watch=true&resourceVersion={rv}");

    // One client (pool) for every watcher: each watch holds its own connection.
    let watch_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .context("building the watch client")?;
    let gate = Arc::new(Semaphore::new(WATCH_CONNECT_CONCURRENCY));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let delivered = Arc::new(AtomicUsize::new(0));
    let setup_start = Instant::now();
    let tasks: Vec<_> = (0..args.watchers)
        .map(|_| {
            tokio::spawn(watcher(
                watch_client.clone(),
                url.clone(),
                args.watch_writes,
                gate.clone(),
                ready_tx.clone(),
                stop_rx.clone(),
                delivered.clone(),
            ))
        })
        .collect();
    drop(ready_tx);
    let mut connected = 0;
    let mut setup_errors = 0;
    let setup_deadline = tokio::time::Instant::now() + WATCH_SETUP_TIMEOUT;
    while connected + setup_errors < args.watchers {
        match tokio::time::timeout_at(setup_deadline, ready_rx.recv()).await {
            Ok(Some(Ok(()))) => connected += 1,
            Ok(Some(Err(_))) => setup_errors += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let setup = setup_start.elapsed();

    // The writes, paced.
    let cpu_before = probe.sample();
    let mut sent = Vec::with_capacity(args.watch_writes);
    let mut write_tally = Tally::new();
    let mut pace = tokio::time::interval(Duration::from_millis(args.watch_spacing_ms.max(1)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..args.watch_writes {
        pace.tick().await;
        let name = format!("{WATCH_PREFIX}{i:05}");
        let req = writer
            .post(&collection)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(configmap(&name, args.payload, 1_000_000 + i as u64));
        let t0 = Instant::now();
        let result = send_expect(req, 201).await;
        write_tally.record(t0.elapsed());
        if let Err(e) = result {
            write_tally.fail(e);
        }
        sent.push(t0);
    }

    // Wait (bounded) for every connected watcher to see every write.
    let expected = connected * args.watch_writes;
    eventually(DELIVERY_DEADLINE, || {
        let delivered = delivered.clone();
        async move { delivered.load(Ordering::Relaxed) >= expected }
    })
    .await;
    let cpu = probe.per_op(&cpu_before, &probe.sample(), args.watch_writes);
    let _ = stop_tx.send(true);

    let mut delivery = Tally::new();
    let mut missing = 0;
    let mut broken = 0;
    let mut first_broken = None;
    for task in tasks {
        let outcome = match tokio::time::timeout(DELIVERY_DEADLINE, task).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => WatcherOutcome {
                seen: vec![None; args.watch_writes],
                ended: Some(format!("watcher task failed: {e}")),
            },
            Err(_) => WatcherOutcome {
                seen: vec![None; args.watch_writes],
                ended: Some("watcher did not stop".into()),
            },
        };
        if let Some(e) = outcome.ended {
            broken += 1;
            first_broken.get_or_insert(e);
        }
        for (at, t0) in outcome.seen.iter().zip(&sent) {
            match at {
                Some(at) => delivery.record(at.saturating_duration_since(*t0)),
                None => missing += 1,
            }
        }
    }
    Ok(Fanout {
        store,
        requested: args.watchers,
        watchers: connected,
        writes: args.watch_writes,
        setup,
        write_tally,
        delivery,
        missing,
        broken,
        first_broken,
        cpu,
    })
}
