//! Where a cluster's state lives on disk.
//!
//! `$XDG_STATE_HOME/tugboat/clusters/<name>/` (by default
//! `~/.local/state/tugboat/clusters/<name>/`), holding:
//!
//! | entry | what |
//! |---|---|
//! | `cluster.json` | the processes started: pids, binaries, arguments, ports ([`crate::state`]) |
//! | `kubeconfig` | how to reach the cluster |
//! | `logs/<component>.log` | each component's stdout and stderr |
//! | `apiserver/` | the embedded store, the cluster CA (`pki/`) and the control plane's kubeconfigs |
//! | `etcd/` | etcd's data, with `--store etcd` |
//! | `nodes/<node>/` | a runc node's kubelet state (`--root-dir`): images, pods, logs |
//!
//! The launcher creates and removes exactly these entries: a state
//! directory given by hand may hold other files, which are left alone.

use std::path::{Path, PathBuf};

/// The state file.
pub const STATE_FILE: &str = "cluster.json";
/// The kubeconfig written for the cluster.
pub const KUBECONFIG_FILE: &str = "kubeconfig";
/// The directory of log files.
pub const LOGS_DIR: &str = "logs";
/// The embedded store's data directory.
pub const APISERVER_DIR: &str = "apiserver";
/// etcd's data directory.
pub const ETCD_DIR: &str = "etcd";
/// The runc nodes' kubelet state directories.
pub const NODES_DIR: &str = "nodes";

/// Every entry the launcher owns in a state directory.
pub const OWNED_ENTRIES: &[&str] = &[
    STATE_FILE,
    KUBECONFIG_FILE,
    LOGS_DIR,
    APISERVER_DIR,
    ETCD_DIR,
    NODES_DIR,
];

/// The apiserver's data directory (`--data-dir`).
pub fn apiserver_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(APISERVER_DIR)
}

/// The cluster CA and the apiserver's certificates, as the apiserver
/// generates them on first start.
pub fn pki_dir(state_dir: &Path) -> PathBuf {
    apiserver_dir(state_dir).join("pki")
}

/// The kubeconfig the apiserver generates for `role`: `admin`,
/// `scheduler` or `controller-manager`.
pub fn generated_kubeconfig(state_dir: &Path, role: &str) -> PathBuf {
    apiserver_dir(state_dir).join(format!("{role}.kubeconfig"))
}

/// The directory holding every named cluster's state directory.
pub fn clusters_root() -> PathBuf {
    clusters_root_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`clusters_root`] given `$XDG_STATE_HOME` and `$HOME`. An empty or
/// relative `XDG_STATE_HOME` is ignored, as the XDG spec says.
pub fn clusters_root_from(xdg_state_home: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    let base = xdg_state_home
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("tugboat").join("clusters")
}

/// The default state directory of the cluster `name`.
pub fn state_dir(name: &str) -> PathBuf {
    clusters_root().join(name)
}

/// The kubelet state directory (`--root-dir`) of runc node `node`.
pub fn node_dir(state_dir: &Path, node: &str) -> PathBuf {
    state_dir.join(NODES_DIR).join(node)
}

/// The log file of component `id` in `state_dir`.
pub fn log_file(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join(LOGS_DIR).join(format!("{id}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_state_home_wins_over_home() {
        let root = clusters_root_from(Some("/xdg".into()), Some("/home/u".into()));
        assert_eq!(root, Path::new("/xdg/tugboat/clusters"));
        let root = clusters_root_from(None, Some("/home/u".into()));
        assert_eq!(root, Path::new("/home/u/.local/state/tugboat/clusters"));
        let root = clusters_root_from(Some("relative".into()), Some("/home/u".into()));
        assert_eq!(root, Path::new("/home/u/.local/state/tugboat/clusters"));
    }
}
