//! The cgroups runc makes for containers (`cgroupsPath` under the
//! node's cgroup parent, cgroupfs layout): reading the memory
//! controller's OOM-kill count and removing a pod's directories from
//! every hierarchy.

use std::path::{Path, PathBuf};

/// Where cgroup filesystems are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup path of pod `uid` under `parent` (`/tugboat/node/pod<uid>`).
pub fn pod_path(parent: &str, uid: &str) -> String {
    format!("{}/pod{uid}", parent.trim_end_matches('/'))
}

/// The cgroup path of container `id` of pod `uid`.
pub fn container_path(parent: &str, uid: &str, id: &str) -> String {
    format!("{}/{id}", pod_path(parent, uid))
}

/// Whether the host runs the unified (v2-only) hierarchy.
fn is_v2() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// How many processes of cgroup `path` the kernel OOM-killed: v1's
/// `memory.oom_control` `oom_kill`, v2's `memory.events` `oom_kill`.
pub fn oom_kills(path: &str) -> u64 {
    let rel = path.trim_start_matches('/');
    let (file, key) = if is_v2() {
        (
            Path::new(CGROUP_ROOT).join(rel).join("memory.events"),
            "oom_kill",
        )
    } else {
        (
            Path::new(CGROUP_ROOT)
                .join("memory")
                .join(rel)
                .join("memory.oom_control"),
            "oom_kill",
        )
    };
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok())?
            })
        })
        .unwrap_or(0)
}

/// Every directory of cgroup `path` across the mounted hierarchies.
pub fn dirs_of(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    if is_v2() {
        return vec![Path::new(CGROUP_ROOT).join(rel)];
    }
    let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    entries
        .flatten()
        // Skip the symlinks of co-mounted controllers (cpu -> cpu,cpuacct).
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Remove cgroup `path` and its children (deepest first) from every
/// hierarchy; their processes must have gone. Returns what could not be
/// removed.
pub fn remove_tree(path: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for dir in dirs_of(path) {
        remove_dir_tree(&dir, &mut left);
    }
    left
}

fn remove_dir_tree(dir: &Path, left: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dir_tree(&e.path(), left);
            }
        }
    }
    // A cgroup directory goes with rmdir (its files are the kernel's).
    if let Err(e) = std::fs::remove_dir(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            left.push(dir.to_path_buf());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_containers_under_their_pod() {
        assert_eq!(pod_path("/tugboat/n1/", "abc"), "/tugboat/n1/podabc");
        assert_eq!(
            container_path("/tugboat/n1", "abc", "abc-web-0"),
            "/tugboat/n1/podabc/abc-web-0"
        );
    }
}
