//! The taints the node lifecycle controller owns, and how it changes them.
//!
//! - `NoExecute` `node.kubernetes.io/unreachable` / `not-ready` follow the
//!   Ready condition (rate-limited, see [`tainter`](super::tainter)); they
//!   are mutually exclusive, as Ready has one status at a time.
//! - `NoSchedule` taints mirror conditions (Ready False/Unknown, memory,
//!   disk and PID pressure, network unavailable) and `spec.unschedulable`
//!   at once (upstream `doNoScheduleTaintingPass`).
//!
//! Writes are merge patches of the whole taint list pinned to the
//! resourceVersion they were computed from; on a conflict the node is
//! read again and the change recomputed, so taints other writers added
//! in between are kept.

use anyhow::Context as _;
use serde_json::json;
use tug_api::core::{
    Node, Taint, TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, TAINT_NODE_UNSCHEDULABLE,
};
use tug_api::Time;
use tug_client::{Api, Client, Patch, PatchParams};

/// `NoExecute`.
pub const NO_EXECUTE: &str = "NoExecute";
/// `NoSchedule`.
pub const NO_SCHEDULE: &str = "NoSchedule";
const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Attempts at a taint write when the node keeps changing.
const WRITE_ATTEMPTS: usize = 5;

/// A taint template (no value, no time).
pub fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

/// The NoExecute taint for a Ready status: `False` → not-ready,
/// `Unknown` → unreachable; the other one is to be removed.
pub fn no_execute_for(ready: &str) -> Option<(Taint, Taint)> {
    let unreachable = taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE);
    let not_ready = taint(TAINT_NODE_NOT_READY, NO_EXECUTE);
    match ready {
        "False" => Some((not_ready, unreachable)),
        "Unknown" => Some((unreachable, not_ready)),
        _ => None,
    }
}

/// Both NoExecute taints this controller may have set.
pub fn no_execute_taints() -> Vec<Taint> {
    vec![
        taint(TAINT_NODE_UNREACHABLE, NO_EXECUTE),
        taint(TAINT_NODE_NOT_READY, NO_EXECUTE),
    ]
}

/// Whether `taints` has one with the key and effect of `t`.
pub fn has(taints: &[Taint], t: &Taint) -> bool {
    taints
        .iter()
        .any(|x| x.key == t.key && x.effect == t.effect)
}

/// The taint key a condition status maps to (`nodeConditionToTaintKeyStatusMap`).
fn condition_taint(type_: &str, status: &str) -> Option<&'static str> {
    match (type_, status) {
        ("Ready", "False") => Some(TAINT_NODE_NOT_READY),
        ("Ready", "Unknown") => Some(TAINT_NODE_UNREACHABLE),
        ("MemoryPressure", "True") => Some(MEMORY_PRESSURE),
        ("DiskPressure", "True") => Some(DISK_PRESSURE),
        ("NetworkUnavailable", "True") => Some(NETWORK_UNAVAILABLE),
        ("PIDPressure", "True") => Some(PID_PRESSURE),
        _ => None,
    }
}

fn is_condition_taint_key(key: &str) -> bool {
    [
        TAINT_NODE_NOT_READY,
        TAINT_NODE_UNREACHABLE,
        MEMORY_PRESSURE,
        DISK_PRESSURE,
        NETWORK_UNAVAILABLE,
        PID_PRESSURE,
    ]
    .contains(&key)
}

/// The NoSchedule taints to add and remove so they mirror the node's
/// conditions and `spec.unschedulable`. Other taints are not touched.
pub fn no_schedule_diff(node: &Node) -> (Vec<Taint>, Vec<Taint>) {
    let mut want: Vec<Taint> = node
        .status
        .conditions
        .iter()
        .filter_map(|c| condition_taint(&c.type_, &c.status))
        .map(|key| taint(key, NO_SCHEDULE))
        .collect();
    if node.spec.unschedulable {
        want.push(taint(TAINT_NODE_UNSCHEDULABLE, NO_SCHEDULE));
    }
    let have: Vec<&Taint> = node
        .spec
        .taints
        .iter()
        .filter(|t| {
            t.effect == NO_SCHEDULE
                && (t.key == TAINT_NODE_UNSCHEDULABLE || is_condition_taint_key(&t.key))
        })
        .collect();
    let add = want
        .iter()
        .filter(|w| !have.iter().any(|h| h.key == w.key))
        .cloned()
        .collect();
    let remove = have
        .into_iter()
        .filter(|h| !want.iter().any(|w| w.key == h.key))
        .cloned()
        .collect();
    (add, remove)
}

/// `taints` with `remove` taken out (by key and effect) and `add` put in
/// (stamped `timeAdded = now`) unless a taint of that key and effect is
/// already there, whose time is then kept.
pub fn changed_taints(taints: &[Taint], add: &[Taint], remove: &[Taint], now: Time) -> Vec<Taint> {
    let mut out: Vec<Taint> = taints
        .iter()
        .filter(|t| !has(remove, t) || has(add, t))
        .cloned()
        .collect();
    for t in add {
        if !has(&out, t) {
            out.push(Taint {
                time_added: Some(now),
                ..t.clone()
            });
        }
    }
    out
}

/// Add and remove taints on `node` through the API (starting from the
/// cached `node`, re-reading it on conflicts). `Ok(false)` when nothing
/// needed to change or the node is gone.
pub async fn swap_taints(
    client: &Client,
    node: &Node,
    add: &[Taint],
    remove: &[Taint],
) -> anyhow::Result<bool> {
    let api: Api<Node> = Api::all(client.clone());
    let name = &node.metadata.name;
    let mut current = node.clone();
    for _ in 0..WRITE_ATTEMPTS {
        let wanted = changed_taints(&current.spec.taints, add, remove, Time::now());
        if wanted == current.spec.taints {
            return Ok(false);
        }
        let patch = Patch::Merge(json!({
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "spec": {"taints": wanted},
        }));
        match api.patch(name, &PatchParams::default(), &patch).await {
            Ok(_) => return Ok(true),
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) if e.is_conflict() => match api.get_opt(name).await? {
                Some(fresh) => current = fresh,
                None => return Ok(false),
            },
            Err(e) => return Err(e).with_context(|| format!("updating the taints of node {name}")),
        }
    }
    anyhow::bail!("node {name} kept changing while its taints were being updated")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(conditions: serde_json::Value, unschedulable: bool, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": unschedulable, "taints": taints},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect()
    }

    #[test]
    fn no_schedule_taints_mirror_conditions_and_unschedulable() {
        let n = node(
            json!([{"type": "Ready", "status": "Unknown"}, {"type": "DiskPressure", "status": "True"},
                   {"type": "MemoryPressure", "status": "False"}]),
            true,
            json!([{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
                   {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                   {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        );
        let (add, remove) = no_schedule_diff(&n);
        assert_eq!(
            keys(&add),
            vec![
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/disk-pressure:NoSchedule",
                "node.kubernetes.io/unschedulable:NoSchedule"
            ]
        );
        assert_eq!(
            keys(&remove),
            vec!["node.kubernetes.io/memory-pressure:NoSchedule"]
        );

        let healthy = node(
            json!([{"type": "Ready", "status": "True"}]),
            false,
            json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        );
        let (add, remove) = no_schedule_diff(&healthy);
        assert!(add.is_empty());
        assert_eq!(
            keys(&remove),
            vec!["node.kubernetes.io/unschedulable:NoSchedule"]
        );
    }

    #[test]
    fn swapping_keeps_other_taints_and_existing_times() {
        let then = Time(chrono::DateTime::from_timestamp(1_000, 0).unwrap());
        let now = Time(chrono::DateTime::from_timestamp(2_000, 0).unwrap());
        let current = vec![
            Taint {
                time_added: Some(then),
                ..taint(TAINT_NODE_NOT_READY, NO_EXECUTE)
            },
            Taint {
                value: "gpu".into(),
                ..taint("dedicated", NO_SCHEDULE)
            },
        ];
        let (add, remove) = no_execute_for("Unknown").unwrap();
        let out = changed_taints(&current, std::slice::from_ref(&add), &[remove], now);
        assert_eq!(
            keys(&out),
            vec![
                "dedicated:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute"
            ]
        );
        assert_eq!(out[1].time_added, Some(now));
        // Adding what is there keeps its time.
        let again = changed_taints(&out, &[add], &[], Time::now());
        assert_eq!(again, out);
        // Healthy: both NoExecute taints go.
        let clean = changed_taints(&out, &[], &no_execute_taints(), now);
        assert_eq!(keys(&clean), vec!["dedicated:NoSchedule"]);
        assert_eq!(no_execute_for("True"), None);
    }
}
