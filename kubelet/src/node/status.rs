//! The Node's status as this kubelet reports it: capacity, conditions,
//! addresses and system info (`setNodeStatus` upstream), and the loop that
//! keeps it current in the API.
//!
//! Every `--node-status-update-frequency` the loop reads the Node and
//! computes its status; it writes only when something a reader would see
//! changed — a condition someone else set (the node lifecycle controller's
//! `Ready=Unknown` while we were away), an address, capacity — or when
//! `--node-status-report-frequency` has passed since the last write. The
//! Lease is the frequent heartbeat, as in Kubernetes.
//!
//! Reading the Node is also how the kubelet learns its `podCIDR`, which
//! the controller-manager's node IPAM assigns after registration. While
//! pods wait for one, the loop looks more often (from 200 ms, doubling).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tug_api::core::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use tug_api::meta::Time;
use tug_api::patch::create_merge_patch;
use tug_api::Quantity;
use tug_client::{Api, Patch, PatchParams};

use super::machine::{measure_pressure, read_trimmed, Pressure};
use super::registration::register_until_done;
use super::NodeCtx;
use crate::config::{go_arch, NodeConfig};

/// The `kubeletVersion` reported in `nodeInfo`.
pub const KUBELET_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// One condition this kubelet owns: its type and what it says when
/// healthy and when not.
struct OwnCondition {
    type_: &'static str,
    /// The status that means trouble (`True` for a pressure).
    bad_status: &'static str,
    good: (&'static str, &'static str),
    bad: (&'static str, &'static str),
}

/// The conditions this kubelet owns, in the order it reports them.
const OWN_CONDITIONS: [OwnCondition; 4] = [
    OwnCondition {
        type_: "MemoryPressure",
        bad_status: "True",
        good: (
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        bad: (
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        ),
    },
    OwnCondition {
        type_: "DiskPressure",
        bad_status: "True",
        good: ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        bad: ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    },
    OwnCondition {
        type_: "PIDPressure",
        bad_status: "True",
        good: (
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        bad: (
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
        ),
    },
    OwnCondition {
        type_: "Ready",
        bad_status: "False",
        good: ("KubeletReady", "kubelet is posting ready status"),
        bad: ("KubeletNotReady", "kubelet is not ready"),
    },
];

impl OwnCondition {
    /// Status, reason and message, given whether the trouble is there.
    fn state(&self, troubled: bool) -> (&'static str, &'static str, &'static str) {
        let ((reason, message), status) = if troubled {
            (self.bad, self.bad_status)
        } else {
            (
                self.good,
                if self.bad_status == "True" {
                    "False"
                } else {
                    "True"
                },
            )
        };
        (status, reason, message)
    }
}

fn to_time(t: DateTime<Utc>) -> Time {
    Time(DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t))
}

/// The node's status at `now` under `pressure`, keeping what others
/// report (their conditions, images, volumes) and the transition times of
/// conditions whose status did not change.
pub fn node_status(
    cfg: &NodeConfig,
    runtime_version: &str,
    pressure: Pressure,
    old: &NodeStatus,
    now: DateTime<Utc>,
) -> NodeStatus {
    let capacity = [
        ("cpu".to_string(), cfg.capacity.cpu.clone()),
        ("memory".to_string(), cfg.capacity.memory.clone()),
        ("pods".to_string(), Quantity(cfg.capacity.pods.to_string())),
    ]
    .into_iter()
    .collect::<std::collections::BTreeMap<_, _>>();
    let mut conditions: Vec<NodeCondition> = old
        .conditions
        .iter()
        .filter(|c| !OWN_CONDITIONS.iter().any(|o| o.type_ == c.type_))
        .cloned()
        .collect();
    for own in &OWN_CONDITIONS {
        let troubled = match own.type_ {
            "MemoryPressure" => pressure.memory,
            "DiskPressure" => pressure.disk,
            _ => false,
        };
        let type_ = own.type_;
        let (status, reason, message) = own.state(troubled);
        let previous = old.conditions.iter().find(|c| c.type_ == type_);
        let last_transition_time = match previous {
            Some(p) if p.status == status => p.last_transition_time,
            _ => Some(to_time(now)),
        };
        conditions.push(NodeCondition {
            type_: type_.into(),
            status: status.into(),
            last_heartbeat_time: Some(to_time(now)),
            last_transition_time,
            reason: reason.into(),
            message: message.into(),
        });
    }
    NodeStatus {
        allocatable: capacity.clone(),
        capacity,
        conditions,
        addresses: vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: cfg.ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: cfg.name.clone(),
            },
        ],
        daemon_endpoints: match cfg.kubelet_port {
            0 => old.daemon_endpoints.clone(),
            port => NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(port),
                }),
            },
        },
        node_info: NodeSystemInfo {
            machine_id: match &cfg.machine {
                Some(m) => m.ids.machine_id.clone(),
                None => machine_id(&cfg.name),
            },
            system_uuid: match &cfg.machine {
                Some(m) => m.ids.system_uuid.clone(),
                None => machine_id(&cfg.name),
            },
            boot_id: cfg.boot_id.clone(),
            kernel_version: host_os().kernel_version.clone(),
            os_image: host_os().os_image.clone(),
            container_runtime_version: runtime_version.to_string(),
            kubelet_version: KUBELET_VERSION.into(),
            kube_proxy_version: String::new(),
            operating_system: "linux".into(),
            architecture: go_arch().into(),
            swap: None,
        },
        ..old.clone()
    }
}

/// Whether `new` differs from `old` in anything but heartbeat times.
pub fn changed(old: &NodeStatus, new: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(old) != strip(new)
}

/// A stable id per node name (hollow nodes have no machine of their own).
fn machine_id(name: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{h:032x}")
}

/// The kernel and OS of this machine, as `nodeInfo` reports them.
struct HostOs {
    /// `/proc/sys/kernel/osrelease`.
    kernel_version: String,
    /// `PRETTY_NAME` of /etc/os-release.
    os_image: String,
}

/// [`HostOs`], read once per process: neither changes while it runs, and
/// the status loop of every node asks for them at every tick.
fn host_os() -> &'static HostOs {
    static HOST_OS: std::sync::OnceLock<HostOs> = std::sync::OnceLock::new();
    HOST_OS.get_or_init(|| HostOs {
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
        os_image: read_trimmed("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "Linux".into()),
    })
}

/// The pressure on the node now: measured on a real machine (off the
/// async threads: statvfs can block), never any on a hollow node.
pub async fn current_pressure(cfg: &NodeConfig) -> Pressure {
    match &cfg.machine {
        Some(m) => {
            let root = m.root_dir.clone();
            let eviction = m.eviction;
            tokio::task::spawn_blocking(move || measure_pressure(&root, &eviction))
                .await
                .unwrap_or_default()
        }
        None => Pressure::default(),
    }
}

/// Write `new` as the status of `node` (a merge patch from its current
/// status); the written Node comes back.
pub async fn write_status(
    api: &Api<Node>,
    node: &Node,
    new: &NodeStatus,
) -> tug_client::Result<Node> {
    let old = serde_json::to_value(&node.status).unwrap_or_default();
    let new = serde_json::to_value(new).unwrap_or_default();
    let patch = serde_json::json!({"status": create_merge_patch(&old, &new)});
    api.patch_status(
        &node.metadata.name,
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await
}

/// Keep the node's status current for ever (see the module doc).
pub async fn run_status_loop(ctx: Arc<NodeCtx>, mut last_write: Instant) {
    let api: Api<Node> = Api::all(ctx.client.clone());
    let period = ctx.config.status_update_frequency;
    loop {
        let wanted = tokio::select! {
            _ = tokio::time::sleep(period) => false,
            _ = ctx.cidr_wanted.notified() => true,
        };
        if wanted && ctx.pod_cidr().is_none() {
            poll_for_cidr(&ctx, &api, &mut last_write).await;
        } else if let Err(e) = sync_once(&ctx, &api, &mut last_write).await {
            log_failure(&ctx, &e);
        }
    }
}

/// Look at the node often until it has a podCIDR.
async fn poll_for_cidr(ctx: &NodeCtx, api: &Api<Node>, last_write: &mut Instant) {
    let mut delay = Duration::from_millis(200);
    loop {
        if let Err(e) = sync_once(ctx, api, last_write).await {
            log_failure(ctx, &e);
        }
        if ctx.pod_cidr().is_some() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(ctx.config.status_update_frequency);
    }
}

fn log_failure(ctx: &NodeCtx, e: &tug_client::Error) {
    if e.is_transport() {
        tracing::debug!(node = %ctx.config.name, error = %e, "cannot update node status");
    } else {
        tracing::warn!(node = %ctx.config.name, error = %e, "cannot update node status");
    }
}

/// Read the node, learn its uid and podCIDR, and write its status if it
/// changed or is due. A Node deleted behind our back is registered again.
async fn sync_once(
    ctx: &NodeCtx,
    api: &Api<Node>,
    last_write: &mut Instant,
) -> tug_client::Result<()> {
    let node = match api.get_opt(&ctx.config.name).await? {
        Some(node) => node,
        None => {
            tracing::warn!(node = %ctx.config.name, "the Node object is gone; registering again");
            let node = register_until_done(ctx).await;
            ctx.learn(&node);
            *last_write = Instant::now();
            return Ok(());
        }
    };
    ctx.learn(&node);
    let new = node_status(
        &ctx.config,
        &ctx.runtime.version(),
        current_pressure(&ctx.config).await,
        &node.status,
        (ctx.clock)(),
    );
    let due = last_write.elapsed() >= ctx.config.status_report_frequency;
    if changed(&node.status, &new) || due {
        let written = write_status(api, &node, &new).await?;
        ctx.learn(&written);
        *last_write = Instant::now();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    fn cfg() -> NodeConfig {
        test_config("n1")
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn reports_ready_capacity_addresses_and_info() {
        let st = node_status(
            &cfg(),
            "fake://0.1",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        let ready = st.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "KubeletReady")
        );
        for (type_, reason) in [
            ("MemoryPressure", "KubeletHasSufficientMemory"),
            ("DiskPressure", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "KubeletHasSufficientPID"),
        ] {
            let c = st.conditions.iter().find(|c| c.type_ == type_).unwrap();
            assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", reason));
        }
        assert_eq!(st.capacity["pods"], Quantity("110".into()));
        assert_eq!(st.allocatable, st.capacity);
        assert_eq!(st.addresses[0].address, "10.200.0.7");
        assert_eq!(st.addresses[1].type_, "Hostname");
        assert_eq!(st.node_info.container_runtime_version, "fake://0.1");
        assert_eq!(st.node_info.operating_system, "linux");
        assert_eq!(st.node_info.kubelet_version, KUBELET_VERSION);
        let node = Node {
            status: st,
            ..Default::default()
        };
        assert!(node.is_ready());
    }

    #[test]
    fn unchanged_status_is_not_a_change_and_transition_times_stay() {
        let first = node_status(
            &cfg(),
            "fake://0.1",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        let later = node_status(&cfg(), "fake://0.1", Pressure::default(), &first, t(60));
        assert!(!changed(&first, &later), "only heartbeats moved");
        let ready = later
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.last_transition_time, Some(Time(t(0))));
        assert_eq!(ready.last_heartbeat_time, Some(Time(t(60))));
    }

    #[test]
    fn pressure_turns_its_condition_true_and_back() {
        let calm = node_status(
            &cfg(),
            "fake://0.1",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        let squeezed = node_status(
            &cfg(),
            "fake://0.1",
            Pressure {
                memory: true,
                disk: true,
            },
            &calm,
            t(30),
        );
        assert!(changed(&calm, &squeezed));
        let get = |st: &NodeStatus, ty: &str| {
            let c = st
                .conditions
                .iter()
                .find(|c| c.type_ == ty)
                .unwrap()
                .clone();
            (c.status, c.reason, c.last_transition_time)
        };
        assert_eq!(
            get(&squeezed, "MemoryPressure"),
            (
                "True".into(),
                "KubeletHasInsufficientMemory".into(),
                Some(Time(t(30)))
            )
        );
        assert_eq!(get(&squeezed, "DiskPressure").1, "KubeletHasDiskPressure");
        assert_eq!(get(&squeezed, "PIDPressure").0, "False");
        assert_eq!(get(&squeezed, "Ready").0, "True");
        let relieved = node_status(&cfg(), "fake://0.1", Pressure::default(), &squeezed, t(60));
        assert_eq!(get(&relieved, "MemoryPressure").0, "False");
        assert_eq!(get(&relieved, "MemoryPressure").2, Some(Time(t(60))));
    }

    #[test]
    fn a_real_node_reports_its_machine_and_kubelet_port() {
        let mut real = cfg();
        real.kubelet_port = 10250;
        real.machine = Some(crate::config::MachineConfig {
            root_dir: "/var/lib/tug-kubelet".into(),
            ids: crate::node::machine::MachineIds {
                machine_id: "m-id".into(),
                system_uuid: "s-uuid".into(),
                boot_id: "b-id".into(),
            },
            eviction: Default::default(),
        });
        let st = node_status(
            &real,
            "runc://1.1.5",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        assert_eq!(st.node_info.machine_id, "m-id");
        assert_eq!(st.node_info.system_uuid, "s-uuid");
        assert_eq!(
            st.daemon_endpoints.kubelet_endpoint,
            Some(DaemonEndpoint { port: 10250 })
        );
        // A hollow node serves no logs: no endpoint.
        let hollow = node_status(
            &cfg(),
            "fake://0.1",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        assert_eq!(hollow.daemon_endpoints.kubelet_endpoint, None);
    }

    #[test]
    fn a_node_marked_unknown_is_reported_ready_again() {
        let mut st = node_status(
            &cfg(),
            "fake://0.1",
            Pressure::default(),
            &NodeStatus::default(),
            t(0),
        );
        // The node lifecycle controller marked it while we were away, and
        // added a condition of its own.
        for c in &mut st.conditions {
            if c.type_ == "Ready" {
                c.status = "Unknown".into();
                c.reason = "NodeStatusUnknown".into();
            }
        }
        st.conditions.push(NodeCondition {
            type_: "NetworkUnavailable".into(),
            status: "False".into(),
            ..Default::default()
        });
        let back = node_status(&cfg(), "fake://0.1", Pressure::default(), &st, t(100));
        assert!(changed(&st, &back));
        let ready = back.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_transition_time, Some(Time(t(100))));
        assert!(back
            .conditions
            .iter()
            .any(|c| c.type_ == "NetworkUnavailable"));
    }
}
