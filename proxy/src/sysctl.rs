//! The kernel settings a proxying node needs, set in the proxy's own
//! network namespace at start (both are per network namespace on current
//! kernels, so every netns node sets its own).

/// Settings and why.
const SETTINGS: [(&str, &str, &str); 2] = [
    (
        "net/ipv4/ip_forward",
        "1",
        "DNATed traffic from pods and other nodes must be routed on",
    ),
    (
        "net/bridge/bridge-nf-call-iptables",
        "1",
        "a pod's reply to a same-bridge pod that reached it through a ClusterIP must pass conntrack to be un-NATed",
    ),
];

/// Apply every setting; a missing or read-only one is logged, not fatal
/// (`bridge-nf-call-iptables` exists only with br_netfilter).
pub fn apply_node_sysctls() {
    for (key, value, why) in SETTINGS {
        let path = format!("/proc/sys/{key}");
        match std::fs::read_to_string(&path) {
            Ok(cur) if cur.trim() == value => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(key, error = %e, why, "sysctl unavailable");
                continue;
            }
        }
        match std::fs::write(&path, value) {
            Ok(()) => tracing::info!(key, value, "set sysctl"),
            Err(e) => tracing::warn!(key, value, error = %e, why, "cannot set sysctl"),
        }
    }
}
