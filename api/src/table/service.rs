//! Services and Endpoints.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{age, format_labels, int_at, list_at, name, str_at};
use super::{Cell, Column, Context, KindTable};

pub(super) static SERVICE: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text(
            "Type",
            "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
        ),
        Column::text("Cluster-IP", "The virtual IP address of the service."),
        Column::text(
            "External-IP",
            "The addresses the service is reachable on from outside the cluster.",
        ),
        Column::text(
            "Port(s)",
            "The ports the service exposes, with their node ports.",
        ),
        Column::age(),
        Column::text(
            "Selector",
            "The labels of the pods the service routes traffic to.",
        )
        .wide(),
    ],
    cells: service,
};

pub(super) static ENDPOINTS: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text("Endpoints", "The addresses and ports of the endpoints."),
        Column::age(),
    ],
    cells: endpoints,
};

/// Load-balancer addresses longer than this are cut short outside `-o wide`.
const LOAD_BALANCER_WIDTH: usize = 16;
/// How many endpoints the ENDPOINTS column lists before `+ N more...`.
const MAX_ENDPOINTS: usize = 3;

fn service(svc: &Value, ctx: &Context) -> Vec<Cell> {
    let cluster_ip = list_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let ports = ports(svc);
    [
        name(svc).to_string(),
        str_at(svc, &["spec", "type"]).to_string(),
        cluster_ip.to_string(),
        external_ip(svc, ctx.wide),
        if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports
        },
        age(svc, ctx.now),
        format_labels(&svc["spec"]["selector"]),
    ]
    .into_iter()
    .map(Cell::from)
    .collect()
}

/// EXTERNAL-IP by service type (`getServiceExternalIP`).
fn external_ip(svc: &Value, wide: bool) -> String {
    let external_ips: Vec<&str> = list_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match str_at(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let ingress = load_balancer_ingress(svc, wide);
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = ingress.split(',').filter(|s| !s.is_empty()).collect();
                all.extend(external_ips);
                all.join(",")
            } else if !ingress.is_empty() {
                ingress
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// The load balancer's ingress IPs (or hostnames), sorted, comma-separated;
/// cut to 13 characters and `...` unless `wide`.
fn load_balancer_ingress(svc: &Value, wide: bool) -> String {
    let addresses: BTreeSet<&str> = list_at(svc, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|i| match str_at(i, &["ip"]) {
            "" => str_at(i, &["hostname"]),
            ip => ip,
        })
        .filter(|a| !a.is_empty())
        .collect();
    let joined = addresses.into_iter().collect::<Vec<_>>().join(",");
    if !wide && joined.len() > LOAD_BALANCER_WIDTH {
        let cut: String = joined.chars().take(LOAD_BALANCER_WIDTH - 3).collect();
        return format!("{cut}...");
    }
    joined
}

/// PORT(S): `80/TCP`, or `80:30080/TCP` with a node port, comma-separated.
fn ports(svc: &Value) -> String {
    list_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = str_at(p, &["protocol"]);
            match int_at(p, &["nodePort"]) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn endpoints(ep: &Value, ctx: &Context) -> Vec<Cell> {
    vec![
        name(ep).into(),
        format_endpoints(ep).into(),
        age(ep, ctx.now).into(),
    ]
}

/// ENDPOINTS: the first three `ip:port` pairs and `+ N more...`
/// (`formatEndpoints`); a subset without ports lists bare IPs.
fn format_endpoints(ep: &Value) -> String {
    let subsets = list_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown = Vec::new();
    let mut count = 0;
    for subset in subsets {
        let addresses: Vec<&str> = list_at(subset, &["addresses"])
            .iter()
            .map(|a| str_at(a, &["ip"]))
            .collect();
        let ports = list_at(subset, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            shown.extend(addresses.iter().map(|ip| ip.to_string()));
            continue;
        }
        for port in ports {
            count += addresses.len();
            let port = int_at(port, &["port"]);
            shown.extend(addresses.iter().map(|ip| join_host_port(ip, port)));
        }
    }
    let more = shown.len() > MAX_ENDPOINTS;
    shown.truncate(MAX_ENDPOINTS);
    let list = shown.join(",");
    if more {
        format!("{list} + {} more...", count - MAX_ENDPOINTS)
    } else {
        list
    }
}

/// `net.JoinHostPort`: IPv6 addresses go in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
