//! A real, throwaway etcd server for tests.
//!
//! [`EtcdProcess::start`] runs the machine's `etcd` (Debian: `apt-get install
//! etcd-server`) as a single member on free loopback ports with a temporary
//! data directory, waits until `/health` reports a leader, and kills it and
//! removes the directory on drop.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// How long a fresh etcd may take to become healthy.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// Pause between health probes while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Port collisions (we release a port before etcd binds it) are retried.
const START_ATTEMPTS: usize = 3;

/// The `etcd` binary: `$TUG_ETCD_BIN`, else `etcd` on `PATH`, else `/usr/bin/etcd`.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("TUG_ETCD_BIN") {
        return Some(PathBuf::from(bin));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("etcd"));
    on_path
        .chain([PathBuf::from("/usr/bin/etcd")])
        .find(|candidate| candidate.is_file())
}

/// Whether an `etcd` binary is installed.
pub fn etcd_available() -> bool {
    etcd_binary().is_some()
}

/// A running single-member etcd; killed and cleaned up on drop.
pub struct EtcdProcess {
    /// The client URL, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
    data_dir: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts etcd and waits until it is healthy.
    pub fn start() -> anyhow::Result<EtcdProcess> {
        let bin = etcd_binary().context("etcd not installed (apt-get install etcd-server)")?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match start_once(&bin) {
                Ok(etcd) => return Ok(etcd),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("etcd did not start")))
    }

    /// The data directory (for tests that inspect or corrupt it).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_once(bin: &Path) -> anyhow::Result<EtcdProcess> {
    let data_dir = tempfile::Builder::new().prefix("tug-etcd-").tempdir()?;
    let (client_port, peer_port) = (free_port()?, free_port()?);
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let log_path = data_dir.path().join("etcd.log");
    let log = File::create(&log_path)?;
    let child = Command::new(bin)
        .arg("--name=default")
        .arg(format!(
            "--data-dir={}",
            data_dir.path().join("data").display()
        ))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=default={peer}"))
        // A lone member elects itself; short timers make that quick.
        .arg("--heartbeat-interval=10")
        .arg("--election-timeout=100")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    let mut etcd = EtcdProcess {
        endpoint: client,
        child,
        data_dir,
    };
    let addr: SocketAddr = ([127, 0, 0, 1], client_port).into();
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(status) = etcd.child.try_wait()? {
            bail!(
                "etcd exited with {status} before becoming healthy:\n{}",
                log_tail(&log_path)
            );
        }
        if healthy(addr) {
            return Ok(etcd);
        }
        if Instant::now() > deadline {
            bail!(
                "etcd not healthy after {START_DEADLINE:?}:\n{}",
                log_tail(&log_path)
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// `GET /health` answers `{"health":"true"}` once the member has a leader.
fn healthy(addr: SocketAddr) -> bool {
    let probe = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    };
    probe().is_ok_and(|response| response.replace(' ', "").contains(r#""health":"true""#))
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
