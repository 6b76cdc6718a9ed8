//! Deployments and ReplicaSets.

use serde_json::Value;

use super::fields::{age, container_cells, int_at, label_selector, name};
use super::{Cell, Column, Context, KindTable};

const CONTAINERS: Column =
    Column::text("Containers", "The names of the pod template's containers.").wide();
const IMAGES: Column =
    Column::text("Images", "The images of the pod template's containers.").wide();
const SELECTOR: Column =
    Column::text("Selector", "The label query over the pods it manages.").wide();

pub(super) static DEPLOYMENT: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text(
            "Ready",
            "The number of ready replicas out of those desired.",
        ),
        Column::integer(
            "Up-to-date",
            "The number of replicas running the latest pod template.",
        ),
        Column::integer(
            "Available",
            "The number of replicas available to users (ready for minReadySeconds).",
        ),
        Column::age(),
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: deployment,
};

pub(super) static REPLICA_SET: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::integer("Desired", "The number of replicas desired."),
        Column::integer("Current", "The number of replicas that exist."),
        Column::integer("Ready", "The number of ready replicas."),
        Column::age(),
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: replica_set,
};

/// `READY` is ready/desired replicas; the SELECTOR of `-o wide` is empty
/// for a selector that selects everything.
fn deployment(d: &Value, ctx: &Context) -> Vec<Cell> {
    let (containers, images) = container_cells(&d["spec"]["template"]["spec"]);
    let selector =
        label_selector(&d["spec"]["selector"]).unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        name(d).into(),
        format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            int_at(d, &["spec", "replicas"])
        )
        .into(),
        int_at(d, &["status", "updatedReplicas"]).into(),
        int_at(d, &["status", "availableReplicas"]).into(),
        age(d, ctx.now).into(),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

/// The SELECTOR of `-o wide` is `<none>` for a selector that selects
/// everything (`metav1.FormatLabelSelector`).
fn replica_set(rs: &Value, ctx: &Context) -> Vec<Cell> {
    let (containers, images) = container_cells(&rs["spec"]["template"]["spec"]);
    let selector = match label_selector(&rs["spec"]["selector"]) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(_) => "<error>".to_string(),
    };
    vec![
        name(rs).into(),
        int_at(rs, &["spec", "replicas"]).into(),
        int_at(rs, &["status", "replicas"]).into(),
        int_at(rs, &["status", "readyReplicas"]).into(),
        age(rs, ctx.now).into(),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}
