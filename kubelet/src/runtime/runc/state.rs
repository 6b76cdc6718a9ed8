//! What the runtime keeps on disk so a restarted kubelet finds every pod
//! as it was: where things live ([`Layout`]), the sandbox record, each
//! container instance's record, and the state file its shim keeps.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The runtime's directories under the kubelet's root dir.
#[derive(Clone, Debug)]
pub struct Layout {
    /// `--root-dir`.
    pub root: PathBuf,
}

impl Layout {
    /// runc's own state (`runc --root`).
    pub fn runc_root(&self) -> PathBuf {
        self.root.join("runc")
    }
    /// The shared, read-only rootfs of every pause container.
    pub fn pause_rootfs(&self) -> PathBuf {
        self.root.join("pause").join("rootfs")
    }
    /// Every pod's directory.
    pub fn pods(&self) -> PathBuf {
        self.root.join("pods")
    }
    /// Pod `uid`'s directory.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods().join(uid)
    }
    /// The directory of every instance of container `name`.
    pub fn container_dir(&self, uid: &str, name: &str) -> PathBuf {
        self.pod_dir(uid).join("containers").join(name)
    }
    /// The bundle of instance `attempt` of container `name`.
    pub fn bundle(&self, uid: &str, name: &str, attempt: u32) -> PathBuf {
        self.container_dir(uid, name).join(attempt.to_string())
    }
    /// The pod's log directory (`<ns>_<pod>_<uid>`, as the kubelet names it).
    pub fn pod_logs(&self, namespace: &str, pod: &str, uid: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{namespace}_{pod}_{uid}"))
    }
    /// The log file of instance `attempt` of container `name`.
    pub fn log_file(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        name: &str,
        attempt: u32,
    ) -> PathBuf {
        self.pod_logs(namespace, pod, uid)
            .join(name)
            .join(format!("{attempt}.log"))
    }
}

/// `sandbox.json`: the pod's sandbox as it was set up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxRecord {
    /// The pod's IPs, primary first.
    pub ips: Vec<IpAddr>,
    /// The pinned network namespace, unless the pod uses the host's.
    pub netns: Option<PathBuf>,
    /// The pod CIDR CNI allocated from (needed for DEL).
    pub pod_cidr: Option<String>,
    /// The pause container's runc id.
    pub pause_id: String,
    /// The pause process (host PID).
    pub pause_pid: i32,
    /// The node's IP (`status.hostIP`).
    pub host_ip: String,
}

/// `instance.json` in a bundle: which container instance it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    /// The container's name.
    pub name: String,
    /// The attempt number.
    pub attempt: u32,
    /// The runc container id.
    pub id: String,
    /// The image reference.
    pub image: String,
    /// The image id.
    pub image_id: String,
    /// The container's cgroup path.
    pub cgroup: String,
}

/// `state.json` in a bundle, kept by the shim: started (pid, time), then
/// finished (time, exit code, reason).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceState {
    /// The container's init process (host PID); 0 if it never started.
    pub pid: i32,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its exit code (128 + signal).
    pub exit_code: Option<i32>,
    /// `OOMKilled`, `StartError`, or none.
    pub reason: Option<String>,
    /// Why it could not start (runc's words).
    pub message: Option<String>,
}

impl InstanceState {
    /// The file name in a bundle.
    pub const FILE: &'static str = "state.json";
}

/// Write `value` as JSON to `path` atomically (a temp file renamed).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Read JSON from `path`; `None` if absent or unreadable.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
