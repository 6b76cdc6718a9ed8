//! Start a real `tug-apiserver` process for a test, on free loopback
//! ports, over a fresh data directory or a given etcd.
//!
//! It serves HTTPS on a free `--secure-port` (bound to 127.0.0.1 unless
//! the test passes its own `--bind-address`) and plain HTTP on a free
//! loopback `--insecure-port`. [`ApiServerProcess::url`] is the plain
//! port, which the apiserver trusts completely (user `system:unsecured`
//! in `system:masters`): tests that are not about security use it.
//! Tests that are use [`ApiServerProcess::secure_url`] with the
//! credentials the apiserver generated in its data directory
//! ([`ApiServerProcess::admin_kubeconfig`], [`ApiServerProcess::ca_pem`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::net::{free_port, http_status, wait_until};

/// Which storage the apiserver uses.
#[derive(Clone, Debug)]
pub enum Store {
    /// Embedded SQLite in the process's data directory.
    Embedded,
    /// etcd at these client URLs.
    Etcd(Vec<String>),
}

/// A running apiserver; killed on drop, its data directory removed.
pub struct ApiServerProcess {
    child: Option<Child>,
    binary: PathBuf,
    store: Store,
    data_dir: tempfile::TempDir,
    extra_args: Vec<String>,
    /// The plain-HTTP loopback port (`--insecure-port`).
    pub port: u16,
    /// `http://127.0.0.1:PORT`: the insecure port, trusted as an admin.
    pub url: String,
    /// The HTTPS port (`--secure-port`).
    pub secure_port: u16,
    /// `https://127.0.0.1:SECURE_PORT`
    pub secure_url: String,
}

impl ApiServerProcess {
    pub fn start(binary: &Path, store: Store) -> anyhow::Result<Self> {
        Self::start_with_args(binary, store, &[])
    }

    pub fn start_with_args(
        binary: &Path,
        store: Store,
        extra_args: &[&str],
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let mut secure_port = free_port();
        while secure_port == port {
            secure_port = free_port();
        }
        let mut server = ApiServerProcess {
            child: None,
            binary: binary.to_path_buf(),
            store,
            data_dir: tempfile::tempdir().context("creating a data dir")?,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            port,
            url: format!("http://127.0.0.1:{port}"),
            secure_port,
            secure_url: format!("https://127.0.0.1:{secure_port}"),
        };
        server.spawn()?;
        Ok(server)
    }

    /// The `--data-dir` (store, `pki/`, generated kubeconfigs).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The kubeconfig the apiserver generated for `kubernetes-admin`
    /// (group `system:masters`): server [`Self::secure_url`]'s address,
    /// the cluster CA and a client certificate, inline.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.data_dir.path().join("admin.kubeconfig")
    }

    /// The cluster CA certificate (PEM) the apiserver generated.
    pub fn ca_pem(&self) -> anyhow::Result<String> {
        let path = self.data_dir.path().join("pki/ca.crt");
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--insecure-port")
            .arg(self.port.to_string())
            .arg("--secure-port")
            .arg(self.secure_port.to_string());
        if !self.extra_args.iter().any(|a| a == "--bind-address") {
            cmd.arg("--bind-address").arg("127.0.0.1");
        }
        cmd.arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Store::Etcd(endpoints) = &self.store {
            cmd.arg("--etcd-servers").arg(endpoints.join(","));
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let port = self.port;
        let ready = wait_until(Duration::from_secs(30), || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return true;
                }
            }
            http_status(port, "/readyz") == Some(200)
        });
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                bail!("tug-apiserver exited during start-up: {status}");
            }
        }
        if !ready {
            bail!("tug-apiserver did not become ready on port {port} within 30 s");
        }
        Ok(())
    }

    /// Kill the process (SIGKILL: no graceful shutdown, like a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kill and start again on the same port and data directory.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for ApiServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
