//! Deployments and ReplicaSets.

use serde_json::Value;

use super::{Context, KindColumns};
use crate::printers::fields::{age, container_cells, int_at, label_selector, name};

pub(super) static DEPLOYMENT: KindColumns = KindColumns {
    headers: &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
    wide_headers: &[
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ],
    cells: deployment,
};

pub(super) static REPLICA_SET: KindColumns = KindColumns {
    headers: &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
    wide_headers: &[
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ],
    cells: replica_set,
};

/// `READY` is ready/desired replicas; the SELECTOR of `-o wide` is empty
/// for a selector that selects everything.
fn deployment(d: &Value, ctx: &Context) -> Vec<String> {
    let mut cells = vec![
        name(d).to_string(),
        format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            int_at(d, &["spec", "replicas"])
        ),
        int_at(d, &["status", "updatedReplicas"]).to_string(),
        int_at(d, &["status", "availableReplicas"]).to_string(),
        age(d, ctx.now),
    ];
    if ctx.wide {
        let (containers, images) = container_cells(&d["spec"]["template"]["spec"]);
        let selector =
            label_selector(&d["spec"]["selector"]).unwrap_or_else(|_| "<invalid>".to_string());
        cells.extend([containers, images, selector]);
    }
    cells
}

/// The SELECTOR of `-o wide` is `<none>` for a selector that selects
/// everything (`metav1.FormatLabelSelector`).
fn replica_set(rs: &Value, ctx: &Context) -> Vec<String> {
    let mut cells = vec![
        name(rs).to_string(),
        int_at(rs, &["spec", "replicas"]).to_string(),
        int_at(rs, &["status", "replicas"]).to_string(),
        int_at(rs, &["status", "readyReplicas"]).to_string(),
        age(rs, ctx.now),
    ];
    if ctx.wide {
        let (containers, images) = container_cells(&rs["spec"]["template"]["spec"]);
        let selector = match label_selector(&rs["spec"]["selector"]) {
            Ok(s) if s.is_empty() => "<none>".to_string(),
            Ok(s) => s,
            Err(_) => "<error>".to_string(),
        };
        cells.extend([containers, images, selector]);
    }
    cells
}
