//! Calling the `runc` binary: start/kill/delete/exec with a
//! given `--root`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// A `runc` binary and the state root it keeps containers in.
#[derive(Clone, Debug)]
pub struct Runc {
    /// The binary.
    pub bin: PathBuf,
    /// `--root`.
    pub root: PathBuf,
}

/// Why a runc call failed: its stderr, trimmed.
pub type RuncError = String;

impl Runc {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        c.stdin(Stdio::null()).kill_on_drop(false);
        c
    }

    async fn run(&self, args: &[&str]) -> Result<(), RuncError> {
        let out = self
            .cmd()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// `runc start`.
    pub async fn start(&self, id: &str) -> Result<(), RuncError> {
        self.run(&["start", id]).await
    }

    /// `runc kill ID SIGNAL`.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), RuncError> {
        self.run(&["kill", id, signal]).await
    }

    /// `runc delete --force`.
    pub async fn delete(&self, id: &str) -> Result<(), RuncError> {
        self.run(&["delete", "--force", id]).await
    }

    /// `runc exec ID cmd...` within `timeout`: its exit code, or an error
    /// when it could not run or timed out (the process is then killed).
    pub async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<i32, RuncError> {
        let pid_file = self.root.join(format!(
            "exec-{}-{}.pid",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut child = self
            .cmd()
            .arg("exec")
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .args(cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running {}: {e}", self.bin.display()))?;
        let result = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => Ok(status.code().unwrap_or(255)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => {
                // The process runs in the container: kill it, not just runc.
                if let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|p| p.trim().parse::<i32>().ok())
                {
                    // SAFETY: kill with a pid and a signal number.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                let _ = child.kill().await;
                Err(format!("command timed out after {timeout:?}"))
            }
        };
        let _ = std::fs::remove_file(&pid_file);
        result
    }

    /// The version `runc --version` reports (`1.1.5+ds1`).
    pub fn version(bin: &Path) -> String {
        std::process::Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("runc version "))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string())
    }
}
