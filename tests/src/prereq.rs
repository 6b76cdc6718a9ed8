//! What a test needing a real netns cluster (root, runc, CNI plugins,
//! nftables, ...) checks first, so it can skip loudly on a machine that
//! cannot run it instead of failing half-way.

use std::path::Path;

/// Whether `name` is an executable file in a `PATH` directory.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Whether this process runs as root (the effective uid).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Why this machine cannot run a multi-node runc cluster with tug-proxy
/// (each node a network namespace), if it cannot: not root, or the named
/// Debian package to install.
pub fn missing_for_netns_cluster() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    let checks = [
        (on_path("runc"), "runc"),
        (
            Path::new("/usr/lib/cni/bridge").is_file(),
            "containernetworking-plugins",
        ),
        (on_path("nft"), "nftables"),
        (on_path("ip"), "iproute2"),
        (on_path("conntrack"), "conntrack"),
        (crate::images::busybox_available(), "busybox-static"),
    ];
    checks
        .iter()
        .find(|(found, _)| !found)
        .map(|(_, package)| format!("{package} is missing (apt-get install {package})"))
}
