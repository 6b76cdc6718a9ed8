//! The network probe actions every runtime shares: `httpGet` and
//! `tcpSocket` against the pod's IP (or `host`), with the probe's
//! timeout. (`exec` runs inside the container: the runtime's job.)
//!
//! SKELETON (issue 5 integration): the lifecycle engineer fills it in.

use std::net::IpAddr;
use std::time::Duration;

use tug_api::core::{Container, HttpGetAction, TcpSocketAction};

use crate::runtime::ProbeOutcome;

/// GET the action's URL on `pod_ip`: success for a status 200..400.
/// Named ports are resolved against `container`'s ports.
pub async fn http_get(
    pod_ip: IpAddr,
    container: &Container,
    action: &HttpGetAction,
    timeout: Duration,
) -> ProbeOutcome {
    let _ = (pod_ip, container, action, timeout);
    todo!("lifecycle engineer")
}

/// Open a TCP connection to the action's port on `pod_ip`.
pub async fn tcp_socket(
    pod_ip: IpAddr,
    container: &Container,
    action: &TcpSocketAction,
    timeout: Duration,
) -> ProbeOutcome {
    let _ = (pod_ip, container, action, timeout);
    todo!("lifecycle engineer")
}

/// A probe's timeout (`timeoutSeconds`, default 1 s).
pub fn timeout_of(timeout_seconds: i32) -> Duration {
    Duration::from_secs(
        u64::try_from(timeout_seconds)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(1),
    )
}
