//! Running a stock kubectl against a test cluster: finding the binary,
//! one-shot commands with a deadline, and long-running ones (`get -w`,
//! `logs -f`) whose output lines are collected as they arrive.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tug_cluster::Cluster;
use tug_tests::net::wait_for;

pub use tug_tests::kubectl::{kubectl_or_skip, repo_root};

/// How long one kubectl command may take before the test gives up on it.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// What a finished kubectl command left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// kubectl pointed at one cluster, with a discovery/OpenAPI cache of its
/// own so nothing from an earlier server on the same port is reused.
pub struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: tempfile::TempDir,
}

impl Kubectl {
    /// kubectl `bin` talking to `cluster` through its kubeconfig.
    pub fn new(bin: &Path, cluster: &Cluster) -> Kubectl {
        Kubectl {
            bin: bin.to_path_buf(),
            kubeconfig: cluster.kubeconfig_path().to_path_buf(),
            cache_dir: tempfile::tempdir().expect("kubectl cache dir"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir.path())
            .kill_on_drop(true);
        cmd
    }

    /// Run `kubectl <args>` to the end (at most two minutes).
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    /// Run `kubectl <args>` with `stdin` fed to it (for `-f -`).
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl starts");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            pipe.write_all(input.as_bytes())
                .await
                .expect("write kubectl's stdin");
        }
        let out = tokio::time::timeout(COMMAND_DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in {COMMAND_DEADLINE:?}"))
            .expect("kubectl runs");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ kubectl {}\n{}{}[exit {:?}]",
            args.join(" "),
            run.stdout,
            run.stderr,
            run.code
        );
        run
    }

    /// Run `kubectl <args>`, which must succeed; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert!(
            run.success(),
            "kubectl {args:?} failed ({:?}): {}",
            run.code,
            run.stderr
        );
        run.stdout
    }

    /// Start `kubectl <args>` in the background (`get -w`, `logs -f`),
    /// collecting its stdout lines as they come.
    pub fn stream(&self, args: &[&str]) -> Streaming {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("kubectl starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Streaming {
            what: format!("kubectl {}", args.join(" ")),
            child,
            lines,
        }
    }
}

/// A kubectl still running, killed when dropped.
pub struct Streaming {
    what: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Streaming {
    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait until the lines printed so far satisfy `cond`, which returns
    /// what it found; fails the test after `timeout`.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&[String]) -> Option<T>,
    ) -> T {
        let label = format!("{}: {what}", self.what);
        let lines = self.lines.clone();
        wait_for(&label, timeout, || {
            let seen = lines.lock().unwrap().clone();
            let found = cond(&seen);
            async move { found.ok_or_else(|| format!("printed so far: {seen:#?}")) }
        })
        .await
    }

    /// Whether the process is still running (it should be, when following).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
