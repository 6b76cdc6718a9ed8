//! Nodes: `NAME STATUS ROLES AGE VERSION`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{age, bool_at, list_at, name, or, str_at};
use super::{Cell, Column, Context, KindTable};

pub(super) static NODE: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text(
            "Status",
            "Whether the node is ready, and whether it takes new pods.",
        ),
        Column::text("Roles", "The roles of the node, from its node-role labels."),
        Column::age(),
        Column::text("Version", "The kubelet version the node reports."),
        Column::text("Internal-IP", "The node's first internal IP address.").wide(),
        Column::text("External-IP", "The node's first external IP address.").wide(),
        Column::text("OS-Image", "The operating system image the node reports.").wide(),
        Column::text("Kernel-Version", "The kernel version the node reports.").wide(),
        Column::text(
            "Container-Runtime",
            "The container runtime and version the node reports.",
        )
        .wide(),
    ],
    cells,
};

/// Label prefix whose suffix names a role (`node-role.kubernetes.io/control-plane`).
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// Label whose value names a role.
const ROLE_LABEL: &str = "kubernetes.io/role";

fn cells(node: &Value, ctx: &Context) -> Vec<Cell> {
    let info = &node["status"]["nodeInfo"];
    [
        name(node).to_string(),
        status(node),
        or(&roles(node).join(","), "<none>"),
        age(node, ctx.now),
        str_at(info, &["kubeletVersion"]).to_string(),
        address(node, "InternalIP"),
        address(node, "ExternalIP"),
        or(str_at(info, &["osImage"]), "<unknown>"),
        or(str_at(info, &["kernelVersion"]), "<unknown>"),
        or(str_at(info, &["containerRuntimeVersion"]), "<unknown>"),
    ]
    .into_iter()
    .map(Cell::from)
    .collect()
}

/// STATUS: `Ready`, `NotReady` or `Unknown` from the Ready condition, then
/// `SchedulingDisabled` when cordoned.
fn status(node: &Value) -> String {
    let conditions = list_at(node, &["status", "conditions"]);
    // The last Ready condition wins, as the map upstream builds keeps it.
    let ready = conditions.iter().rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// ROLES: from `node-role.kubernetes.io/<role>` labels and the
/// `kubernetes.io/role` label, sorted.
fn roles(node: &Value) -> Vec<&str> {
    let Some(labels) = node["metadata"]["labels"].as_object() else {
        return Vec::new();
    };
    let roles: BTreeSet<&str> = labels
        .iter()
        .filter_map(|(key, value)| match key.strip_prefix(ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if key == ROLE_LABEL => value.as_str().filter(|v| !v.is_empty()),
            None => None,
        })
        .collect();
    roles.into_iter().collect()
}

/// The first address of type `kind`, or `<none>`.
fn address(node: &Value, kind: &str) -> String {
    list_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == kind)
        .map(|a| str_at(a, &["address"]).to_string())
        .unwrap_or_else(|| "<none>".to_string())
}
