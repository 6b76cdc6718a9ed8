//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}`,
//! `/api/v1` and `/apis/{group}/{version}`, in the Kubernetes formats.

use serde_json::{json, Value};

use crate::auth::reviews::REVIEW_RESOURCES;
use crate::error::{ApiError, ApiResult};
use crate::registry::{Registry, ResourceInfo};

/// The Kubernetes version this API corresponds to (kubectl warns on skew).
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "35";

pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-tugboat.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    })
}

fn group_doc(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

fn named_groups(registry: &Registry) -> Vec<(String, Vec<&'static str>)> {
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for (g, v) in registry.groups() {
        if g.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(name, _)| name == g) {
            Some((_, vs)) => vs.push(v),
            None => out.push((g.to_string(), vec![v])),
        }
    }
    for (g, v, _, _) in REVIEW_RESOURCES {
        if !out.iter().any(|(name, _)| name == g) {
            out.push((g.to_string(), vec![v]));
        }
    }
    out
}

pub fn groups(registry: &Registry) -> Value {
    let groups: Vec<Value> = named_groups(registry)
        .iter()
        .map(|(g, vs)| group_doc(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(registry: &Registry, name: &str) -> ApiResult<Value> {
    let (g, vs) = named_groups(registry)
        .into_iter()
        .find(|(g, _)| g == name)
        .ok_or_else(|| ApiError::no_route(&format!("/apis/{name}")))?;
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Ok(doc)
}

/// Every served kind supports every verb on its main resource.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn subresource_doc(info: &ResourceInfo, sub: &str) -> Value {
    let (kind, group, version, verbs): (&str, &str, &str, Vec<&str>) = match sub {
        "scale" => ("Scale", "autoscaling", "v1", vec!["get", "patch", "update"]),
        "binding" => ("Binding", "", "v1", vec!["create"]),
        "finalize" => (info.kind, "", "", vec!["update"]),
        "log" => ("Pod", "", "", vec!["get"]),
        _ => (info.kind, "", "", vec!["get", "patch", "update"]),
    };
    let mut doc = json!({
        "name": format!("{}/{sub}", info.plural),
        "singularName": "",
        "namespaced": info.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if !group.is_empty() || !version.is_empty() {
        doc["group"] = json!(group);
        doc["version"] = json!(version);
    }
    doc
}

pub fn resources(registry: &Registry, group: &str, version: &str) -> ApiResult<Value> {
    let mut resources = Vec::new();
    for h in registry.all() {
        let info = h.info();
        if info.group != group || info.version != version {
            continue;
        }
        let mut doc = json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": VERBS,
        });
        if !info.short_names.is_empty() {
            doc["shortNames"] = json!(info.short_names);
        }
        if info.plural == "pods"
            || info.plural == "deployments"
            || info.plural == "replicasets"
            || info.plural == "services"
        {
            doc["categories"] = json!(["all"]);
        }
        resources.push(doc);
        for sub in info.subresources {
            resources.push(subresource_doc(info, sub));
        }
    }
    for (g, v, plural, kind) in REVIEW_RESOURCES {
        if *g == group && *v == version {
            resources.push(json!({
                "name": plural,
                "singularName": "",
                "namespaced": false,
                "kind": kind,
                "verbs": ["create"],
            }));
        }
    }
    if resources.is_empty() {
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        return Err(ApiError::no_route(&path));
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}
