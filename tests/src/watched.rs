//! An apiserver for hostile-input campaigns: unlike
//! [`crate::apiserver::ApiServerProcess`] it keeps the process's stderr in
//! a file and knows its pid, so a test can assert afterwards that nothing
//! panicked and that peak memory (`VmHWM`) stayed bounded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::net::{free_port, http_status, wait_until};

/// A running `tug-apiserver` (embedded store, loopback insecure port),
/// killed on drop, its data directory and stderr file removed.
pub struct WatchedApiServer {
    child: Child,
    dir: tempfile::TempDir,
    /// The insecure loopback port.
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl WatchedApiServer {
    /// Start `binary` with `extra_args` and wait until `/readyz` is 200.
    pub fn start(binary: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a data dir")?;
        let port = free_port();
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let child = Command::new(binary)
            .arg("--insecure-port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = WatchedApiServer {
            child,
            dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let ready = wait_until(Duration::from_secs(30), || {
            !server.is_running() || http_status(port, "/readyz") == Some(200)
        });
        if !server.is_running() {
            bail!("tug-apiserver exited during start-up:\n{}", server.stderr());
        }
        if !ready {
            bail!("tug-apiserver did not become ready on port {port} within 30 s");
        }
        Ok(server)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmHWM")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read(self.stderr_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The stderr lines that report a panic (`thread '…' panicked at …`).
    pub fn panics(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.contains("panicked at"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for WatchedApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field (`VmHWM`, `VmRSS`) of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}
