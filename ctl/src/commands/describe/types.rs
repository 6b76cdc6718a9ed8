//! Services, Nodes, Namespaces, ConfigMaps and Secrets.

use base64::Engine;
use serde_json::Value;
use tug_api::core::{Endpoints, Pod};
use tug_client::{ApiResource, ListParams};

use super::super::context::Ctx;
use super::super::error::Result;
use super::super::get::list_all;
use super::text::{timestamp, Text};
use super::{annotations, conditions, labels, name_and_namespace};
use crate::printers::fields::{int_at, list_at, or, str_at};

/// `describe service`, with its endpoints.
pub async fn service(ctx: &Ctx, t: &mut Text, svc: &Value) -> Result<()> {
    name_and_namespace(t, svc);
    labels(t, 0, "Labels", &svc["metadata"]["labels"]);
    annotations(t, 0, &svc["metadata"]["annotations"]);
    labels(t, 0, "Selector", &svc["spec"]["selector"]);
    let spec = &svc["spec"];
    t.kv(0, "Type", or(str_at(spec, &["type"]), "ClusterIP"));
    if let Some(p) = spec["ipFamilyPolicy"].as_str() {
        t.kv(0, "IP Family Policy", p);
    }
    let families: Vec<&str> = list_at(spec, &["ipFamilies"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !families.is_empty() {
        t.kv(0, "IP Families", families.join(","));
    }
    t.kv(0, "IP", or(str_at(spec, &["clusterIP"]), "None"));
    let ips: Vec<&str> = list_at(spec, &["clusterIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !ips.is_empty() {
        t.kv(0, "IPs", ips.join(","));
    }
    let endpoints = ctx
        .api(
            &ApiResource::of::<Endpoints>(),
            svc["metadata"]["namespace"].as_str(),
        )
        .get_opt(str_at(svc, &["metadata", "name"]))
        .await?;
    for port in list_at(spec, &["ports"]) {
        let name = or(str_at(port, &["name"]), "<unset>");
        let proto = or(str_at(port, &["protocol"]), "TCP");
        t.kv(
            0,
            "Port",
            format!("{name}  {}/{proto}", int_at(port, &["port"])),
        );
        let target = match &port["targetPort"] {
            Value::String(s) => s.clone(),
            Value::Null => int_at(port, &["port"]).to_string(),
            other => other.to_string(),
        };
        t.kv(0, "TargetPort", format!("{target}/{proto}"));
        if let Some(node_port) = port["nodePort"].as_i64() {
            t.kv(0, "NodePort", format!("{name}  {node_port}/{proto}"));
        }
        t.kv(0, "Endpoints", endpoint_list(endpoints.as_ref(), port));
    }
    t.kv(
        0,
        "Session Affinity",
        or(str_at(spec, &["sessionAffinity"]), "None"),
    );
    Ok(())
}

/// The ready addresses of `endpoints` for one service port, `ip:port,...`.
fn endpoint_list(endpoints: Option<&Value>, port: &Value) -> String {
    let Some(ep) = endpoints else {
        return "<none>".to_string();
    };
    let mut out = Vec::new();
    for subset in list_at(ep, &["subsets"]) {
        let ports = list_at(subset, &["ports"]);
        let p = ports
            .iter()
            .find(|p| str_at(p, &["name"]) == str_at(port, &["name"]))
            .or(ports.first());
        let Some(p) = p else { continue };
        for a in list_at(subset, &["addresses"]) {
            out.push(format!("{}:{}", str_at(a, &["ip"]), int_at(p, &["port"])));
        }
    }
    if out.is_empty() {
        "<none>".to_string()
    } else {
        out.join(",")
    }
}

/// `describe node`, with the pods bound to it.
pub async fn node(ctx: &Ctx, t: &mut Text, node: &Value) -> Result<()> {
    name_and_namespace(t, node);
    let roles: Vec<String> = node["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    t.kv(
        0,
        "Roles",
        if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        },
    );
    labels(t, 0, "Labels", &node["metadata"]["labels"]);
    annotations(t, 0, &node["metadata"]["annotations"]);
    t.kv(
        0,
        "CreationTimestamp",
        timestamp(&node["metadata"]["creationTimestamp"]),
    );
    let taints: Vec<String> = list_at(node, &["spec", "taints"])
        .iter()
        .map(|taint| {
            let value = str_at(taint, &["value"]);
            let value = if value.is_empty() {
                String::new()
            } else {
                format!("={value}")
            };
            format!(
                "{}{value}:{}",
                str_at(taint, &["key"]),
                str_at(taint, &["effect"])
            )
        })
        .collect();
    t.multiline(0, "Taints", &taints);
    let unschedulable = node["spec"]["unschedulable"].as_bool().unwrap_or(false);
    t.kv(0, "Unschedulable", unschedulable.to_string());
    conditions(
        t,
        0,
        &node["status"]["conditions"],
        &[
            ("Type", "type"),
            ("Status", "status"),
            ("LastHeartbeatTime", "lastHeartbeatTime"),
            ("LastTransitionTime", "lastTransitionTime"),
            ("Reason", "reason"),
            ("Message", "message"),
        ],
    );
    let addresses = list_at(node, &["status", "addresses"]);
    if !addresses.is_empty() {
        t.heading(0, "Addresses");
        for a in addresses {
            t.kv(1, str_at(a, &["type"]), str_at(a, &["address"]));
        }
    }
    for (key, field) in [("Capacity", "capacity"), ("Allocatable", "allocatable")] {
        if let Some(map) = node["status"][field].as_object().filter(|m| !m.is_empty()) {
            t.heading(0, key);
            for (k, v) in map {
                t.kv(1, k, v.as_str().unwrap_or_default());
            }
        }
    }
    if let Some(cidr) = node["spec"]["podCIDR"].as_str() {
        t.kv(0, "PodCIDR", cidr);
    }
    let name = str_at(node, &["metadata", "name"]);
    let pods_api = ctx.api(&ApiResource::of::<Pod>(), None);
    let pods = list_all(
        &pods_api,
        &ListParams::default().fields(&format!("spec.nodeName={name}")),
    )
    .await?;
    let running: Vec<&Value> = pods
        .iter()
        .filter(|p| !matches!(str_at(p, &["status", "phase"]), "Succeeded" | "Failed"))
        .collect();
    t.kv(
        0,
        "Non-terminated Pods",
        format!("({} in total)", running.len()),
    );
    if !running.is_empty() {
        let rows: Vec<Vec<String>> = running
            .iter()
            .map(|p| {
                vec![
                    str_at(p, &["metadata", "namespace"]).to_string(),
                    str_at(p, &["metadata", "name"]).to_string(),
                    super::text::age(&p["metadata"]["creationTimestamp"]),
                ]
            })
            .collect();
        t.table(1, &["Namespace", "Name", "Age"], &rows);
    }
    Ok(())
}

/// `describe namespace`.
pub fn namespace(t: &mut Text, ns: &Value) {
    name_and_namespace(t, ns);
    labels(t, 0, "Labels", &ns["metadata"]["labels"]);
    annotations(t, 0, &ns["metadata"]["annotations"]);
    t.kv(0, "Status", or(str_at(ns, &["status", "phase"]), "Active"));
}

/// `describe configmap`: every key and its value.
pub fn config_map(t: &mut Text, cm: &Value) {
    name_and_namespace(t, cm);
    labels(t, 0, "Labels", &cm["metadata"]["labels"]);
    annotations(t, 0, &cm["metadata"]["annotations"]);
    t.cells(0, &[""]);
    t.cells(0, &["Data"]);
    t.cells(0, &["===="]);
    if let Some(data) = cm["data"].as_object() {
        for (k, v) in data {
            t.cells(0, &[&format!("{k}:")]);
            t.cells(0, &["----"]);
            t.cells(0, &[v.as_str().unwrap_or_default()]);
            t.cells(0, &[""]);
        }
    }
    t.cells(0, &[""]);
    t.cells(0, &["BinaryData"]);
    t.cells(0, &["===="]);
    if let Some(data) = cm["binaryData"].as_object() {
        for (k, v) in data {
            let len = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .map(|b| b.len())
                .unwrap_or(0);
            t.cells(0, &[&format!("{k}: {len} bytes")]);
        }
    }
    t.cells(0, &[""]);
}

/// `describe secret`: the keys and their sizes, never the values.
pub fn secret(t: &mut Text, s: &Value) {
    name_and_namespace(t, s);
    labels(t, 0, "Labels", &s["metadata"]["labels"]);
    annotations(t, 0, &s["metadata"]["annotations"]);
    t.cells(0, &[""]);
    t.kv(0, "Type", or(str_at(s, &["type"]), "Opaque"));
    t.cells(0, &[""]);
    t.cells(0, &["Data"]);
    t.cells(0, &["===="]);
    if let Some(data) = s["data"].as_object() {
        for (k, v) in data {
            let len = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .map(|b| b.len())
                .unwrap_or(0);
            t.kv(0, k, format!("{len} bytes"));
        }
    }
}
