//! Pods: `NAME READY STATUS RESTARTS AGE`, STATUS and RESTARTS computed
//! from the container statuses exactly as `printPod` does.

use chrono::{DateTime, Utc};
use serde_json::Value;

use serde_json::json;

use super::duration::{self, parse_time};
use super::fields::{age, at, bool_at, int_at, list_at, name, or, str_at};
use super::{Cell, Column, Context, KindTable};

pub(super) static POD: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text(
            "Ready",
            "The number of ready containers out of all containers of the pod.",
        ),
        Column::text(
            "Status",
            "The aggregate state of the containers in the pod.",
        ),
        Column::text(
            "Restarts",
            "The number of times the containers restarted, and how long ago the last one did.",
        ),
        Column::age(),
        Column::text("IP", "The IP address allocated to the pod.").wide(),
        Column::text("Node", "The node the pod is bound to.").wide(),
        Column::text(
            "Nominated Node",
            "The node the scheduler nominated for the pod after preempting others.",
        )
        .wide(),
        Column::text(
            "Readiness Gates",
            "How many of the pod's readiness gates are met.",
        )
        .wide(),
    ],
    cells,
};

/// The `status.reason` the node lifecycle controller sets on pods of an
/// unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

fn cells(pod: &Value, ctx: &Context) -> Vec<Cell> {
    let summary = Summary::of(pod);
    let restarts = match summary.last_restart {
        Some(when) if summary.restarts != 0 => format!(
            "{} ({} ago)",
            summary.restarts,
            duration::human_duration(ctx.now - when)
        ),
        _ => summary.restarts.to_string(),
    };
    let ip = list_at(pod, &["status", "podIPs"])
        .first()
        .map(|ip| str_at(ip, &["ip"]))
        .unwrap_or_default();
    [
        name(pod).to_string(),
        format!("{}/{}", summary.ready, summary.total),
        summary.status,
        restarts,
        age(pod, ctx.now),
        or(ip, "<none>"),
        or(str_at(pod, &["spec", "nodeName"]), "<none>"),
        or(str_at(pod, &["status", "nominatedNodeName"]), "<none>"),
        readiness_gates(pod),
    ]
    .into_iter()
    .map(Cell::from)
    .collect()
}

/// A pod that has finished (`Succeeded` or `Failed`) carries the row
/// condition `Completed`, as upstream's `printPod` sets it.
pub(super) fn row_conditions(pod: &Value) -> Vec<Value> {
    let phase = str_at(pod, &["status", "phase"]);
    let message = match phase {
        "Succeeded" => "The pod has completed successfully.",
        "Failed" => "The pod failed.",
        _ => return Vec::new(),
    };
    vec![json!({"type": "Completed", "status": "True", "reason": phase, "message": message})]
}

/// What the READY, STATUS and RESTARTS columns say about a pod.
struct Summary {
    ready: usize,
    total: usize,
    status: String,
    restarts: i64,
    last_restart: Option<DateTime<Utc>>,
}

impl Summary {
    fn of(pod: &Value) -> Summary {
        let spec = &pod["spec"];
        let status = &pod["status"];
        let init_containers = list_at(spec, &["initContainers"]);
        // A restartable init container (a sidecar) counts as a container.
        let is_sidecar = |name: &str| {
            init_containers
                .iter()
                .any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
        };
        let sidecars = init_containers
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();

        let phase = str_at(status, &["phase"]);
        let mut s = Summary {
            ready: 0,
            total: list_at(spec, &["containers"]).len() + sidecars,
            status: or(str_at(status, &["reason"]), phase),
            restarts: 0,
            last_restart: None,
        };
        let gated = list_at(status, &["conditions"]).iter().any(|c| {
            str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
        });
        if gated {
            s.status = "SchedulingGated".to_string();
        }

        let mut sidecar_restarts = 0;
        let mut last_sidecar_restart = None;
        let mut initializing = false;
        for (i, c) in list_at(status, &["initContainerStatuses"])
            .iter()
            .enumerate()
        {
            s.restarts += int_at(c, &["restartCount"]);
            let finished = last_termination(c);
            s.last_restart = later(s.last_restart, finished);
            let sidecar = is_sidecar(str_at(c, &["name"]));
            if sidecar {
                sidecar_restarts += int_at(c, &["restartCount"]);
                last_sidecar_restart = later(last_sidecar_restart, finished);
            }
            let terminated = &c["state"]["terminated"];
            let waiting = &c["state"]["waiting"];
            if terminated.is_object() && int_at(terminated, &["exitCode"]) == 0 {
                continue;
            }
            if sidecar && bool_at(c, &["started"]) {
                if bool_at(c, &["ready"]) {
                    s.ready += 1;
                }
                continue;
            }
            s.status = if terminated.is_object() {
                format!("Init:{}", terminated_reason(terminated))
            } else if !matches!(str_at(waiting, &["reason"]), "" | "PodInitializing") {
                format!("Init:{}", str_at(waiting, &["reason"]))
            } else {
                format!("Init:{i}/{}", init_containers.len())
            };
            initializing = true;
            break;
        }

        if !initializing || has_condition(status, "Initialized") {
            s.restarts = sidecar_restarts;
            s.last_restart = last_sidecar_restart;
            let mut has_running = false;
            for c in list_at(status, &["containerStatuses"]).iter().rev() {
                s.restarts += int_at(c, &["restartCount"]);
                s.last_restart = later(s.last_restart, last_termination(c));
                let waiting = str_at(c, &["state", "waiting", "reason"]);
                let terminated = &c["state"]["terminated"];
                if !waiting.is_empty() {
                    s.status = waiting.to_string();
                } else if terminated.is_object() {
                    s.status = terminated_reason(terminated);
                } else if bool_at(c, &["ready"]) && c["state"]["running"].is_object() {
                    has_running = true;
                    s.ready += 1;
                }
            }
            // A container still running keeps a pod whose other containers
            // completed from reading "Completed".
            if s.status == "Completed" && has_running {
                s.status = if has_condition(status, "Ready") {
                    "Running".to_string()
                } else {
                    "NotReady".to_string()
                };
            }
        }

        let deleting = !at(pod, &["metadata", "deletionTimestamp"]).is_null();
        if deleting && str_at(status, &["reason"]) == NODE_UNREACHABLE_REASON {
            s.status = "Unknown".to_string();
        } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
            s.status = "Terminating".to_string();
        }
        s
    }
}

/// A terminated state's reason, else `Signal:N` or `ExitCode:N`.
fn terminated_reason(terminated: &Value) -> String {
    let reason = str_at(terminated, &["reason"]);
    let signal = int_at(terminated, &["signal"]);
    if !reason.is_empty() {
        reason.to_string()
    } else if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int_at(terminated, &["exitCode"]))
    }
}

/// When a container last terminated (`lastState.terminated.finishedAt`).
fn last_termination(status: &Value) -> Option<DateTime<Utc>> {
    parse_time(at(status, &["lastState", "terminated", "finishedAt"]).as_str())
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// Whether the pod condition `kind` is `True`.
fn has_condition(status: &Value, kind: &str) -> bool {
    list_at(status, &["conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == kind && str_at(c, &["status"]) == "True")
}

/// READINESS GATES: how many of the gates' conditions are `True`, `N/M`.
fn readiness_gates(pod: &Value) -> String {
    let gates = list_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = list_at(pod, &["status", "conditions"]);
    let passed = gates
        .iter()
        .filter(|gate| {
            let kind = str_at(gate, &["conditionType"]);
            conditions
                .iter()
                .find(|c| str_at(c, &["type"]) == kind)
                .is_some_and(|c| str_at(c, &["status"]) == "True")
        })
        .count();
    format!("{passed}/{}", gates.len())
}
