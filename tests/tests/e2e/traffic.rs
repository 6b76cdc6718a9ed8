//! Requests as a client pod sends them: from inside its network
//! namespace, to the web Service, counting answers by the hostname in the
//! body (the backend pod's name) and keeping every failure.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tug_tests::http::{self, Timeouts};
use tug_tests::netns::in_netns;

/// What a run of requests saw.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Successful answers per backend (the body: its hostname).
    pub by_backend: BTreeMap<String, usize>,
    /// Every failed request: when (since the start) and why.
    pub failures: Vec<String>,
}

impl Tally {
    /// How many requests were sent.
    pub fn total(&self) -> usize {
        self.ok() + self.failures.len()
    }

    /// How many were answered with 200.
    pub fn ok(&self) -> usize {
        self.by_backend.values().sum()
    }

    /// One request's outcome.
    fn record(&mut self, started: Instant, result: std::io::Result<http::Response>) {
        match result {
            Ok(r) if r.status == 200 => {
                *self
                    .by_backend
                    .entry(r.body.trim().to_string())
                    .or_default() += 1;
            }
            Ok(r) => self.failures.push(format!(
                "{:?}: status {} {:?}",
                started.elapsed(),
                r.status,
                r.body
            )),
            Err(e) => self
                .failures
                .push(format!("{:?}: {e} ({:?})", started.elapsed(), e.kind())),
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} failed; answers by backend: {:?}",
            self.total(),
            self.failures.len(),
            self.by_backend
        )?;
        for failure in self.failures.iter().take(10) {
            write!(f, "\n  failed at {failure}")?;
        }
        Ok(())
    }
}

/// `n` requests in a row to `target` from the namespace at `netns`.
pub async fn burst(netns: &Path, target: SocketAddr, n: usize) -> Tally {
    let netns = netns.to_path_buf();
    tokio::task::spawn_blocking(move || {
        in_netns(&netns, || {
            let started = Instant::now();
            let mut tally = Tally::default();
            for _ in 0..n {
                tally.record(started, http::get(target, "/", Timeouts::default()));
            }
            tally
        })
    })
    .await
    .expect("the request thread")
}

/// One request to `target` from the namespace at `netns`, and how long
/// it took to succeed or fail.
pub async fn one(
    netns: &Path,
    target: SocketAddr,
    timeouts: Timeouts,
) -> (std::io::Result<http::Response>, Duration) {
    let netns = netns.to_path_buf();
    tokio::task::spawn_blocking(move || {
        in_netns(&netns, || {
            let started = Instant::now();
            let r = http::get(target, "/", timeouts);
            (r, started.elapsed())
        })
    })
    .await
    .expect("the request thread")
}

/// Requests sent in a loop (about 25 a second) until stopped: what a
/// steady client sees while the cluster changes.
pub struct Loop {
    stop: Arc<AtomicBool>,
    worker: tokio::task::JoinHandle<Tally>,
}

/// The gap between two requests of a [`Loop`]: a steady rate rather than
/// a flood that would starve the nodes of CPU.
const PACE: Duration = Duration::from_millis(40);

impl Loop {
    /// Start sending to `target` from the namespace at `netns`.
    pub fn start(netns: PathBuf, target: SocketAddr) -> Loop {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let worker = tokio::task::spawn_blocking(move || {
            in_netns(&netns, || {
                let started = Instant::now();
                let mut tally = Tally::default();
                while !flag.load(Ordering::SeqCst) {
                    tally.record(started, http::get(target, "/", Timeouts::default()));
                    std::thread::sleep(PACE);
                }
                tally
            })
        });
        Loop { stop, worker }
    }

    /// Stop and return what was seen.
    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        self.worker.await.expect("the request loop")
    }
}
