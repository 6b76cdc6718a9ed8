//! Nodes: `NAME STATUS ROLES AGE VERSION`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Context, KindColumns};
use crate::printers::fields::{age, bool_at, list_at, name, or, str_at};

pub(super) static NODE: KindColumns = KindColumns {
    headers: &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
    wide_headers: &[
        "NAME",
        "STATUS",
        "ROLES",
        "AGE",
        "VERSION",
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ],
    cells,
};

/// Label prefix whose suffix names a role (`node-role.kubernetes.io/control-plane`).
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// Label whose value names a role.
const ROLE_LABEL: &str = "kubernetes.io/role";

fn cells(node: &Value, ctx: &Context) -> Vec<String> {
    let info = &node["status"]["nodeInfo"];
    let mut cells = vec![
        name(node).to_string(),
        status(node),
        or(&roles(node).join(","), "<none>"),
        age(node, ctx.now),
        str_at(info, &["kubeletVersion"]).to_string(),
    ];
    if ctx.wide {
        cells.extend([
            address(node, "InternalIP"),
            address(node, "ExternalIP"),
            or(str_at(info, &["osImage"]), "<unknown>"),
            or(str_at(info, &["kernelVersion"]), "<unknown>"),
            or(str_at(info, &["containerRuntimeVersion"]), "<unknown>"),
        ]);
    }
    cells
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
