//! Shared helpers for the CLI tests: a real `tug-apiserver` process, the
//! built `tugctl` run against it, and direct API access for setting up
//! objects (and for checking what a command did).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tug_client::{
    Client, Config, DeleteParams, Discovery, DynamicApi, Patch, PatchParams, PostParams,
};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// How long any single expectation may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// The built `tug-apiserver` (scripts/test.sh builds every binary first).
pub fn apiserver_binary() -> PathBuf {
    tug_tests::bins::workspace_binary("tug-apiserver")
}

/// The workspace root (for `manifests/`).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ctl/ has a parent")
        .to_path_buf()
}

/// What one `tugctl` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// Panic (showing everything) unless the run succeeded.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "tugctl failed: {self:#?}");
        self
    }

    /// Panic unless the run failed with exactly one line on stderr; that line.
    pub fn one_error_line(&self) -> String {
        assert_ne!(self.code, 0, "tugctl should have failed: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        lines[0].to_string()
    }
}

/// A fresh apiserver, a home directory without a kubeconfig, and a
/// client for direct API calls.
pub struct Cluster {
    pub server: ApiServerProcess,
    pub home: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
}

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// A cluster whose apiserver gets extra flags.
    pub fn start_with(args: &[&str]) -> Cluster {
        let server = ApiServerProcess::start_with_args(&apiserver_binary(), Store::Embedded, args)
            .expect("the apiserver starts");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = Client::new(Config::new(&server.url).expect("config")).expect("client");
        Cluster {
            server,
            home: tempfile::tempdir().expect("a temp dir"),
            rt,
            client,
        }
    }

    /// `tugctl` with the environment of these tests (no kubeconfig).
    pub fn command(&self) -> Command {
        tugctl_command(self.home.path())
    }

    /// Run `tugctl -s URL ARGS...`.
    pub fn tugctl(&self, args: &[&str]) -> Run {
        self.tugctl_stdin(args, "")
    }

    /// Run `tugctl -s URL ARGS...` with `stdin` as its standard input.
    pub fn tugctl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut cmd = self.command();
        cmd.arg("-s").arg(&self.server.url).args(args);
        run(cmd, stdin)
    }

    /// Start `tugctl -s URL ARGS...` in the background, reading its stdout lines.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_via(&self.server.url, args)
    }

    /// [`Cluster::spawn`] talking to the server at `url` (a proxy).
    pub fn spawn_via(&self, url: &str, args: &[&str]) -> Spawned {
        let mut cmd = self.command();
        cmd.arg("-s").arg(url).args(args);
        Spawned::start(cmd)
    }

    /// The API for objects of `api_version`/`kind` in `ns`.
    pub fn api(&self, api_version: &str, kind: &str, ns: Option<&str>) -> DynamicApi {
        let resource = self.rt.block_on(async {
            let d = Discovery::run(&self.client).await.expect("discovery");
            d.resolve_kind(api_version, kind)
                .expect("a served kind")
                .resource
                .clone()
        });
        match ns {
            Some(ns) => DynamicApi::namespaced_with(self.client.clone(), ns, &resource),
            None => DynamicApi::all_with(self.client.clone(), &resource),
        }
    }

    fn api_of(&self, object: &Value) -> DynamicApi {
        self.api(
            object["apiVersion"].as_str().expect("apiVersion"),
            object["kind"].as_str().expect("kind"),
            Some(
                object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default"),
            ),
        )
    }

    /// Create `object` directly through the API.
    pub fn create(&self, object: Value) -> Value {
        let api = self.api_of(&object);
        self.rt
            .block_on(api.create(&PostParams::default(), &object))
            .unwrap_or_else(|e| panic!("creating {object}: {e}"))
    }

    /// GET an object; `None` when it does not exist.
    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let api = self.api(api_version, kind, Some(ns));
        self.rt.block_on(api.get_opt(name)).expect("get")
    }

    /// JSON-merge-patch an object (or its status).
    pub fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        status: bool,
        patch: Value,
    ) -> Value {
        let api = self.api(api_version, kind, Some(ns));
        let sub = status.then_some("status");
        self.rt
            .block_on(api.patch_subresource(
                name,
                sub,
                &PatchParams::default(),
                &Patch::Merge(patch),
            ))
            .expect("patch")
    }

    /// Delete an object at once.
    pub fn delete(&self, api_version: &str, kind: &str, ns: &str, name: &str) {
        let api = self.api(api_version, kind, Some(ns));
        self.rt
            .block_on(api.delete(name, &DeleteParams::immediate()))
            .expect("delete");
    }
}

/// `tugctl` with HOME in `home` and no kubeconfig.
pub fn tugctl_command(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tugctl"));
    cmd.env("HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env_remove("RUST_LOG");
    cmd
}

/// Run `cmd` to completion with `stdin`.
pub fn run(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tugctl starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writing stdin");
    let out = child.wait_with_output().expect("tugctl runs");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// A `tugctl` running in the background (`get -w`, `rollout status`),
/// killed on drop.
pub struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl Spawned {
    fn start(mut cmd: Command) -> Spawned {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tugctl starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, prefix) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, ""),
            (Box::new(stderr), "stderr: "),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(format!("{prefix}{line}")).is_err() {
                        break;
                    }
                }
            });
        }
        Spawned {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The next line for which `want` holds, skipping others; panics
    /// after [`WAIT`].
    pub fn expect_line(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no line {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// The next line if one comes within `timeout`.
    pub fn line_within(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Wait for the process to exit (within [`WAIT`]); its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Drain what is left, for the caller's assertions.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                panic!("tugctl did not exit within {WAIT:?}; saw {:#?}", self.seen);
            }
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `cond` every 20 ms until it holds or [`WAIT`] passes.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    assert!(
        tug_tests::net::wait_until(WAIT, &mut cond),
        "timed out waiting for {what}"
    );
}

/// The words of each line (columns of a table).
pub fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The cells of a table line: text separated by two or more spaces (a
/// cell such as `NOMINATED NODE` keeps its single space).
pub fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Copy `manifests/web.yaml` into a fresh directory; the directory and the copy.
pub fn web_manifest() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("web.yaml");
    std::fs::copy(workspace().join("manifests/web.yaml"), &path).expect("copying web.yaml");
    (dir, path)
}

/// Replace `from` with `to` in the file at `path` (which must contain it).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("reading the manifest");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("writing the manifest");
}
