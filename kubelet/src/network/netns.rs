//! Pinned network namespaces: a new namespace bind-mounted on a file, so
//! it outlives the processes in it and CNI can set it up before the
//! sandbox starts and tear it down after.

use std::path::Path;

/// Create a new network namespace pinned at `path` (a file is created).
pub fn create(path: &Path) -> std::io::Result<()> {
    let _ = path;
    todo!("network engineer")
}

/// Unmount and remove the namespace pinned at `path`; absent is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    let _ = path;
    todo!("network engineer")
}
