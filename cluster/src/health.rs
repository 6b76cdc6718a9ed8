//! Is each component doing its job? What `tugctl cluster status` shows
//! and what `up` waits for.
//!
//! - etcd and the apiserver: the process runs and its health endpoint
//!   (`/health`, `/healthz`) answers OK;
//! - a scheduler or controller-manager: the process runs and its role's
//!   Lease in `kube-system` is held and renewed in time — by this process
//!   (`leader`) or by another (`standby`);
//! - a kubelet: the process runs and each of its Nodes is `Ready`;
//! - a proxy: the process runs and its `/healthz` answers 200 (its
//!   first sync is applied and its syncs are fresh).
//!
//! Gathering what the cluster says ([`Observations`]) is separate from
//! judging it ([`assess`]), which is a pure function.
//!
//! Which process holds a Lease: a Lease names its holder by the identity
//! the component chose (host name and a random suffix), which says
//! nothing about pids; every component logs that identity when it starts
//! campaigning (`identity=...`), so the launcher reads it from the
//! component's own log ([`identity_in_line`]).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tug_api::coordination::Lease;
use tug_api::core::Node;

use crate::args;
use crate::component::{ComponentId, Role};
use crate::state::ComponentRecord;

/// How long one health probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A component's state in a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Running and doing its job.
    Running,
    /// The process is gone.
    Exited,
    /// The process runs but is not (yet) doing its job.
    NotReady,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Running => "Running",
            Status::Exited => "Exited",
            Status::NotReady => "NotReady",
        })
    }
}

/// One line of `tugctl cluster status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentHealth {
    /// The component.
    pub id: ComponentId,
    /// Its role.
    pub role: Role,
    /// Its (last) pid.
    pub pid: u32,
    /// Running, Exited or NotReady.
    pub status: Status,
    /// Why: `leader`, `node-0 Ready`, `healthz: connection refused`, ...
    pub detail: String,
}

/// What the cluster said when asked, once for all components.
#[derive(Clone, Debug)]
pub struct Observations {
    /// etcd's `/health` said healthy.
    pub etcd_healthy: bool,
    /// The apiserver's `/healthz`: `Ok` or why not.
    pub apiserver: Result<(), String>,
    /// Every Node by name (`None`: could not list).
    pub nodes: Option<HashMap<String, Node>>,
    /// The Lease of each electing role (`None` inside: no such Lease;
    /// missing key: could not read).
    pub leases: HashMap<Role, Option<Lease>>,
    /// Lease holder identity → the component that logged it, and whether
    /// that component still runs.
    pub holders: HashMap<String, (ComponentId, bool)>,
    /// Each proxy's `/healthz`: `Ok` or why not (missing: not asked).
    pub proxies: HashMap<ComponentId, Result<(), String>>,
    /// Now, for Lease expiry.
    pub now: DateTime<Utc>,
}

impl Default for Observations {
    /// A healthy apiserver and etcd that know of no nodes and no Leases.
    fn default() -> Self {
        Observations {
            etcd_healthy: true,
            apiserver: Ok(()),
            nodes: None,
            leases: HashMap::new(),
            holders: HashMap::new(),
            proxies: HashMap::new(),
            now: Utc::now(),
        }
    }
}

/// How `record` is doing, given whether its process runs and what the
/// cluster said. `identity` is the Lease identity the component logged.
pub fn assess(
    record: &ComponentRecord,
    running: bool,
    identity: Option<&str>,
    seen: &Observations,
) -> ComponentHealth {
    let (status, detail) = if !running {
        (Status::Exited, exited_detail(record))
    } else {
        match record.role {
            Role::Etcd => match seen.etcd_healthy {
                true => (Status::Running, "healthy".into()),
                false => (Status::NotReady, "/health is not OK yet".into()),
            },
            Role::ApiServer => match &seen.apiserver {
                Ok(()) => (Status::Running, "healthy".into()),
                Err(why) => (Status::NotReady, format!("healthz: {why}")),
            },
            Role::Scheduler | Role::ControllerManager => leadership(record, identity, seen),
            Role::Kubelet => nodes(record, seen),
            Role::Proxy => match seen.proxies.get(&record.id) {
                Some(Ok(())) => (Status::Running, "healthz ok".into()),
                Some(Err(why)) => (Status::NotReady, format!("healthz: {why}")),
                None => (Status::NotReady, "healthz not asked".into()),
            },
        }
    };
    ComponentHealth {
        id: record.id.clone(),
        role: record.role,
        pid: record.pid,
        status,
        detail,
    }
}

fn exited_detail(record: &ComponentRecord) -> String {
    let last = record.log_tail(1);
    if last.starts_with('(') {
        "exited".into()
    } else {
        format!("exited; last log line: {last}")
    }
}

fn leadership(
    record: &ComponentRecord,
    identity: Option<&str>,
    seen: &Observations,
) -> (Status, String) {
    if !args::leader_elect(&record.args) {
        return (Status::Running, "leader election off".into());
    }
    let Some(lease) = seen.leases.get(&record.role) else {
        return (Status::NotReady, "cannot read its Lease".into());
    };
    let Some(lease) = lease.as_ref().filter(|l| lease_fresh(l, seen.now)) else {
        return (Status::NotReady, "no leader".into());
    };
    let holder = lease.spec.holder_identity.as_deref().unwrap_or_default();
    if identity == Some(holder) {
        return (Status::Running, "leader".into());
    }
    match seen.holders.get(holder) {
        Some((leader, true)) => (Status::Running, format!("standby (leader: {leader})")),
        // Killed without handing over: the Lease must run out first.
        Some((leader, false)) => (
            Status::Running,
            format!("standby (waiting for the lease of exited {leader})"),
        ),
        None if identity.is_some() => (Status::Running, format!("standby (leader: {holder})")),
        None => (Status::Running, format!("lease held by {holder}")),
    }
}

fn nodes(record: &ComponentRecord, seen: &Observations) -> (Status, String) {
    let Some(nodes) = &seen.nodes else {
        return (Status::NotReady, "cannot list nodes".into());
    };
    let names = record.node_names();
    let state = |name: &str| match nodes.get(name) {
        None => "not registered",
        Some(node) if node.is_ready() => "Ready",
        Some(_) => "NotReady",
    };
    let ready = names.iter().filter(|n| state(n) == "Ready").count();
    let status = if ready == names.len() {
        Status::Running
    } else {
        Status::NotReady
    };
    let detail = match names.as_slice() {
        [one] => format!("{one} {}", state(one)),
        _ => format!("{ready}/{} nodes Ready", names.len()),
    };
    (status, detail)
}

/// A Lease is held while its holder renewed it less than its duration ago.
pub fn lease_fresh(lease: &Lease, now: DateTime<Utc>) -> bool {
    let held = lease
        .spec
        .holder_identity
        .as_deref()
        .is_some_and(|h| !h.is_empty());
    let (Some(renewed), Some(seconds)) =
        (&lease.spec.renew_time, lease.spec.lease_duration_seconds)
    else {
        return false;
    };
    held && renewed.0 + chrono::Duration::seconds(i64::from(seconds)) > now
}

/// The leader-election identity a log line announces: `identity=X` in
/// text logs, `"identity":"X"` in JSON logs.
pub fn identity_in_line(line: &str) -> Option<String> {
    if let Some(at) = line.find("\"identity\":\"") {
        let rest = &line[at + "\"identity\":\"".len()..];
        return rest.split('"').next().map(str::to_string);
    }
    let at = line.find(" identity=")?;
    let rest = &line[at + " identity=".len()..];
    let value = rest.split_whitespace().next()?.trim_matches('"');
    (!value.is_empty()).then(|| value.to_string())
}

/// The first identity announced in the log at `path` from `offset` on.
pub fn identity_in_log(path: &Path, offset: u64) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .find_map(|line| identity_in_line(&line))
}

/// `GET path` on `addr`: the status code and body, if anything answered.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        let response = String::from_utf8_lossy(&response).into_owned();
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| "not an HTTP answer".to_string())?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// `/healthz` at `addr` (the apiserver's, a proxy's) answers 200.
pub async fn healthz(addr: SocketAddr) -> Result<(), String> {
    match http_get(addr, "/healthz").await? {
        (200, _) => Ok(()),
        (code, body) => Err(format!("{code} {}", body.trim())),
    }
}

/// etcd's `/health` on loopback `port` reports a leader.
pub async fn etcd_healthy(port: u16) -> bool {
    http_get((Ipv4Addr::LOCALHOST, port).into(), "/health")
        .await
        .is_ok_and(|(code, body)| {
            code == 200 && body.replace(' ', "").contains(r#""health":"true""#)
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tug_api::core::NodeCondition;
    use tug_api::meta::MicroTime;

    use super::*;
    use crate::component::NodeGroup;

    fn record(id: &str, role: Role, args: &[&str], nodes: Option<NodeGroup>) -> ComponentRecord {
        ComponentRecord {
            id: id.into(),
            role,
            binary: "/bin/x".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            log: "/nonexistent/x.log".into(),
            log_offset: 0,
            pid: 7,
            start_ticks: None,
            nodes,
            netns: None,
        }
    }

    fn lease(holder: &str, renewed_ago: i64, duration: i32, now: DateTime<Utc>) -> Lease {
        let mut lease = Lease::default();
        lease.spec.holder_identity = Some(holder.into());
        lease.spec.lease_duration_seconds = Some(duration);
        lease.spec.renew_time = Some(MicroTime(now - chrono::Duration::seconds(renewed_ago)));
        lease
    }

    fn node(name: &str, ready: &str) -> (String, Node) {
        let mut node = Node::default();
        node.metadata.name = name.into();
        node.status.conditions.push(NodeCondition {
            type_: "Ready".into(),
            status: ready.into(),
            ..Default::default()
        });
        (name.to_string(), node)
    }

    #[test]
    fn leader_and_standby_are_told_apart_by_the_logged_identity() {
        let now = Utc::now();
        let mut seen = Observations {
            now,
            ..Default::default()
        };
        seen.leases
            .insert(Role::Scheduler, Some(lease("host_aaaa", 1, 15, now)));
        seen.holders
            .insert("host_aaaa".into(), ("scheduler-0".into(), true));
        let s0 = record("scheduler-0", Role::Scheduler, &[], None);
        let s1 = record("scheduler-1", Role::Scheduler, &[], None);
        let h = assess(&s0, true, Some("host_aaaa"), &seen);
        assert_eq!((h.status, h.detail.as_str()), (Status::Running, "leader"));
        let h = assess(&s1, true, Some("host_bbbb"), &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::Running, "standby (leader: scheduler-0)")
        );
        // The leader was killed: its Lease is still fresh for a while.
        seen.holders
            .insert("host_aaaa".into(), ("scheduler-0".into(), false));
        let h = assess(&s1, true, Some("host_bbbb"), &seen);
        assert_eq!(
            h.detail,
            "standby (waiting for the lease of exited scheduler-0)"
        );
        // The leader died and its lease ran out: nobody leads.
        seen.leases
            .insert(Role::Scheduler, Some(lease("host_aaaa", 20, 15, now)));
        let h = assess(&s1, true, Some("host_bbbb"), &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::NotReady, "no leader")
        );
        // Not started campaigning yet.
        seen.leases.insert(Role::Scheduler, None);
        assert_eq!(assess(&s1, true, None, &seen).status, Status::NotReady);
        // Election switched off: running is all it takes.
        let solo = record(
            "scheduler-0",
            Role::Scheduler,
            &["--leader-elect=false"],
            None,
        );
        assert_eq!(assess(&solo, true, None, &seen).status, Status::Running);
    }

    #[test]
    fn a_kubelet_is_ready_when_all_its_nodes_are() {
        let now = Utc::now();
        let mut seen = Observations {
            now,
            nodes: Some(HashMap::from([
                node("node-0", "True"),
                node("g-0", "True"),
                node("g-1", "Unknown"),
            ])),
            ..Default::default()
        };
        let single = record(
            "kubelet-node-0",
            Role::Kubelet,
            &[],
            Some(NodeGroup::single("node-0")),
        );
        let h = assess(&single, true, None, &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::Running, "node-0 Ready")
        );
        let group = record(
            "kubelet-g",
            Role::Kubelet,
            &[],
            Some(NodeGroup {
                name: "g".into(),
                count: 3,
            }),
        );
        let h = assess(&group, true, None, &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::NotReady, "1/3 nodes Ready")
        );
        let missing = record(
            "kubelet-node-9",
            Role::Kubelet,
            &[],
            Some(NodeGroup::single("node-9")),
        );
        assert_eq!(
            assess(&missing, true, None, &seen).detail,
            "node-9 not registered"
        );
        seen.nodes = None;
        assert_eq!(assess(&single, true, None, &seen).status, Status::NotReady);
        let h = assess(&single, false, None, &seen);
        assert_eq!((h.status, h.detail.as_str()), (Status::Exited, "exited"));
    }

    #[test]
    fn apiserver_health_comes_from_healthz() {
        let api = record("apiserver", Role::ApiServer, &[], None);
        let mut seen = Observations::default();
        assert_eq!(assess(&api, true, None, &seen).status, Status::Running);
        seen.apiserver = Err("connection refused".into());
        let h = assess(&api, true, None, &seen);
        assert_eq!(h.status, Status::NotReady);
        assert_eq!(h.detail, "healthz: connection refused");
    }

    #[test]
    fn a_proxy_is_ready_when_its_healthz_says_so() {
        let proxy = record("proxy-node-0", Role::Proxy, &[], None);
        let mut seen = Observations::default();
        assert_eq!(assess(&proxy, true, None, &seen).status, Status::NotReady);
        seen.proxies
            .insert("proxy-node-0".into(), Err("503 stale".into()));
        let h = assess(&proxy, true, None, &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::NotReady, "healthz: 503 stale")
        );
        seen.proxies.insert("proxy-node-0".into(), Ok(()));
        let h = assess(&proxy, true, None, &seen);
        assert_eq!(
            (h.status, h.detail.as_str()),
            (Status::Running, "healthz ok")
        );
        assert_eq!(assess(&proxy, false, None, &seen).status, Status::Exited);
    }

    #[test]
    fn identities_are_read_from_text_and_json_logs() {
        let text = "2025-01-01T00:00:00Z  INFO tug_client::component: waiting for leadership lease=\"tug-scheduler\" identity=box_0a1b2c3d";
        assert_eq!(identity_in_line(text).as_deref(), Some("box_0a1b2c3d"));
        let json = r#"{"timestamp":"x","level":"INFO","fields":{"message":"waiting for leadership","lease":"tug-scheduler","identity":"box_99"}}"#;
        assert_eq!(identity_in_line(json).as_deref(), Some("box_99"));
        assert_eq!(identity_in_line("INFO starting controller"), None);

        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("s.log");
        std::fs::write(
            &log,
            format!("first run\n{text}\nrestarted\n INFO x identity=box_new\n"),
        )
        .unwrap();
        assert_eq!(identity_in_log(&log, 0).as_deref(), Some("box_0a1b2c3d"));
        let second_run = text.len() as u64 + "first run\n\n".len() as u64;
        assert_eq!(
            identity_in_log(&log, second_run).as_deref(),
            Some("box_new")
        );
    }
}
