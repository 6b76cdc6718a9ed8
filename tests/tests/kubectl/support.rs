//! What every kubectl test starts from: kubectl and a hollow-node
//! cluster, the repository's manifests, and edited copies of them.

use std::path::PathBuf;
use std::time::Duration;

use tug_api::apps::Deployment;
use tug_client::{Api, Client};

use crate::cluster::{self, TestCluster};
use crate::kubectl::{kubectl_or_skip, repo_root, Kubectl};

/// A running hollow-node cluster with kubectl pointed at it.
pub struct Setup {
    pub tc: TestCluster,
    pub kubectl: Kubectl,
    /// Scratch space for edited manifests.
    pub scratch: tempfile::TempDir,
}

impl Setup {
    /// A two-node hollow cluster and kubectl, or `None` (after a loud
    /// SKIP line) when kubectl is not installed.
    pub async fn start(test: &str) -> Option<Setup> {
        let bin = kubectl_or_skip(test)?;
        let tc = cluster::start(2, |_| {}).await;
        let kubectl = Kubectl::new(&bin, &tc.cluster);
        Some(Setup {
            tc,
            kubectl,
            scratch: tempfile::tempdir().expect("scratch dir"),
        })
    }

    /// The API client of the cluster.
    pub fn client(&self) -> &Client {
        &self.tc.client
    }

    /// Write `text` as `name` in the scratch directory; its path as a string.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, text).expect("write a manifest");
        path.display().to_string()
    }

    /// `manifests/web.yaml` with `from` replaced by `to` (which must occur).
    pub fn edited_web(&self, name: &str, from: &str, to: &str) -> String {
        let web = std::fs::read_to_string(manifest("web.yaml")).expect("read web.yaml");
        assert!(web.contains(from), "web.yaml has no {from:?}");
        self.write(name, &web.replacen(from, to, 1))
    }

    /// The Deployments API of the default namespace.
    pub fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client().clone(), "default")
    }

    /// Wait until Deployment `name` has rolled out `replicas` ready pods.
    pub async fn wait_rolled_out(&self, name: &str, replicas: i32) -> Deployment {
        cluster::wait_deployment(
            self.client(),
            name,
            &format!("{name} rolled out with {replicas} replicas"),
            Duration::from_secs(90),
            |d| d.spec.replicas == Some(replicas) && cluster::rolled_out(d),
        )
        .await
    }
}

/// The `manifests/` directory, as kubectl's `-f` takes it.
pub fn manifests_dir() -> String {
    repo_root().join("manifests").display().to_string()
}

/// One file of `manifests/`.
pub fn manifest(name: &str) -> PathBuf {
    repo_root().join("manifests").join(name)
}

/// The lines of `out`, trimmed, without empty ones.
pub fn lines(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The `replicas` of `manifests/web.yaml`.
pub const WEB_REPLICAS: i32 = 6;
