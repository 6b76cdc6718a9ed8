//! The sandbox's `pause` program (`kubelet/pause/pause.c`, compiled by
//! `build.rs`), embedded in the kubelet and written into the shared,
//! read-only rootfs every pause container runs from.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The static `pause` binary.
pub const PAUSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));

/// Lay out the pause rootfs at `rootfs`: `/pause` plus the mount points
/// runc needs (it cannot make them once the rootfs is read-only).
pub fn install(rootfs: &Path) -> std::io::Result<()> {
    for d in ["proc", "dev", "sys", "etc"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    let bin = rootfs.join("pause");
    if std::fs::read(&bin).ok().as_deref() != Some(PAUSE) {
        // A new file renamed over the old: a running pause keeps its inode.
        super::state::write_atomic(&bin, PAUSE)?;
    }
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
}
