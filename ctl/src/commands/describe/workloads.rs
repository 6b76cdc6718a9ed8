//! Deployments and ReplicaSets.

use serde_json::Value;
use tug_api::core::Pod;
use tug_client::{ApiResource, ListParams};

use super::super::context::Ctx;
use super::super::deployments::{owned_replica_sets, same_template};
use super::super::error::Result;
use super::super::get::list_all;
use super::text::{timestamp, Text};
use super::{annotations, conditions, controlled_by, labels, name_and_namespace, pod_template};
use crate::printers::fields::{int_at, label_selector, or, str_at};

const CONDITION_COLUMNS: &[(&str, &str)] =
    &[("Type", "type"), ("Status", "status"), ("Reason", "reason")];

/// `describe deployment`.
pub async fn deployment(ctx: &Ctx, t: &mut Text, d: &Value) -> Result<()> {
    name_and_namespace(t, d);
    t.kv(
        0,
        "CreationTimestamp",
        timestamp(&d["metadata"]["creationTimestamp"]),
    );
    labels(t, 0, "Labels", &d["metadata"]["labels"]);
    annotations(t, 0, &d["metadata"]["annotations"]);
    t.kv(
        0,
        "Selector",
        label_selector(&d["spec"]["selector"]).unwrap_or_default(),
    );
    let s = &d["status"];
    t.kv(
        0,
        "Replicas",
        format!(
            "{} desired | {} updated | {} total | {} available | {} unavailable",
            d["spec"]["replicas"].as_i64().unwrap_or(1),
            int_at(s, &["updatedReplicas"]),
            int_at(s, &["replicas"]),
            int_at(s, &["availableReplicas"]),
            int_at(s, &["unavailableReplicas"])
        ),
    );
    if d["spec"]["paused"].as_bool() == Some(true) {
        t.kv(0, "Paused", "true");
    }
    let strategy = or(str_at(d, &["spec", "strategy", "type"]), "RollingUpdate");
    t.kv(0, "StrategyType", &strategy);
    t.kv(
        0,
        "MinReadySeconds",
        int_at(d, &["spec", "minReadySeconds"]).to_string(),
    );
    if strategy == "RollingUpdate" {
        let ru = &d["spec"]["strategy"]["rollingUpdate"];
        let text = |v: &Value, default: &str| match v {
            Value::Null => default.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        t.kv(
            0,
            "RollingUpdateStrategy",
            format!(
                "{} max unavailable, {} max surge",
                text(&ru["maxUnavailable"], "25%"),
                text(&ru["maxSurge"], "25%")
            ),
        );
    }
    pod_template(t, &d["spec"]["template"]);
    conditions(t, 0, &d["status"]["conditions"], CONDITION_COLUMNS);
    let owned = owned_replica_sets(ctx, d).await?;
    let template = &d["spec"]["template"];
    let (new, old): (Vec<&Value>, Vec<&Value>) = owned
        .iter()
        .partition(|rs| same_template(&rs["spec"]["template"], template));
    let summary = |rs: &Value| {
        format!(
            "{} ({}/{} replicas created)",
            str_at(rs, &["metadata", "name"]),
            int_at(rs, &["status", "replicas"]),
            rs["spec"]["replicas"].as_i64().unwrap_or(1)
        )
    };
    let old: Vec<String> = old
        .into_iter()
        .filter(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(1) > 0)
        .map(summary)
        .collect();
    t.kv(
        0,
        "OldReplicaSets",
        if old.is_empty() {
            "<none>".to_string()
        } else {
            old.join(", ")
        },
    );
    t.kv(
        0,
        "NewReplicaSet",
        new.first()
            .map(|rs| summary(rs))
            .unwrap_or_else(|| "<none>".to_string()),
    );
    Ok(())
}

/// `describe replicaset`.
pub async fn replica_set(ctx: &Ctx, t: &mut Text, rs: &Value) -> Result<()> {
    name_and_namespace(t, rs);
    let selector = label_selector(&rs["spec"]["selector"]).unwrap_or_default();
    t.kv(0, "Selector", &selector);
    labels(t, 0, "Labels", &rs["metadata"]["labels"]);
    annotations(t, 0, &rs["metadata"]["annotations"]);
    controlled_by(t, rs);
    t.kv(
        0,
        "Replicas",
        format!(
            "{} current / {} desired",
            int_at(rs, &["status", "replicas"]),
            rs["spec"]["replicas"].as_i64().unwrap_or(1)
        ),
    );
    let api = ctx.api(
        &ApiResource::of::<Pod>(),
        rs["metadata"]["namespace"].as_str(),
    );
    let uid = str_at(rs, &["metadata", "uid"]);
    let pods = list_all(&api, &ListParams::default().labels(&selector)).await?;
    let count = |phase: &str| {
        pods.iter()
            .filter(|p| super::super::deployments::controlled_by(p, uid))
            .filter(|p| str_at(p, &["status", "phase"]) == phase)
            .count()
    };
    t.kv(
        0,
        "Pods Status",
        format!(
            "{} Running / {} Waiting / {} Succeeded / {} Failed",
            count("Running"),
            count("Pending"),
            count("Succeeded"),
            count("Failed")
        ),
    );
    pod_template(t, &rs["spec"]["template"]);
    conditions(t, 0, &rs["status"]["conditions"], CONDITION_COLUMNS);
    Ok(())
}
