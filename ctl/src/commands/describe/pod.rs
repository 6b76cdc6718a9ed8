//! Pods and pod templates: containers with image, ports, state, ready,
//! restarts, resources and probes; conditions; volumes.

use serde_json::Value;

use super::text::{timestamp, Text};
use super::{annotations, conditions, controlled_by, labels, name_and_namespace, pairs};
use crate::printers::fields::{int_at, list_at, or, str_at};

/// `describe pod`.
pub fn describe(t: &mut Text, pod: &Value) {
    name_and_namespace(t, pod);
    t.kv(
        0,
        "Priority",
        int_at(pod, &["spec", "priority"]).to_string(),
    );
    t.kv(
        0,
        "Service Account",
        or(str_at(pod, &["spec", "serviceAccountName"]), "default"),
    );
    let node = str_at(pod, &["spec", "nodeName"]);
    let host_ip = str_at(pod, &["status", "hostIP"]);
    let node = match (node, host_ip) {
        ("", _) => "<none>".to_string(),
        (n, "") => n.to_string(),
        (n, ip) => format!("{n}/{ip}"),
    };
    t.kv(0, "Node", node);
    if pod["status"]["startTime"].is_string() {
        t.kv(0, "Start Time", timestamp(&pod["status"]["startTime"]));
    }
    labels(t, 0, "Labels", &pod["metadata"]["labels"]);
    annotations(t, 0, &pod["metadata"]["annotations"]);
    let status = if pod["metadata"]["deletionTimestamp"].is_string() {
        "Terminating".to_string()
    } else {
        or(str_at(pod, &["status", "phase"]), "Pending")
    };
    t.kv(0, "Status", status);
    for field in ["reason", "message"] {
        if let Some(v) = pod["status"][field].as_str().filter(|v| !v.is_empty()) {
            t.kv(0, &super::title(field), v);
        }
    }
    t.kv(0, "IP", str_at(pod, &["status", "podIP"]));
    let ips = list_at(pod, &["status", "podIPs"]);
    if ips.is_empty() {
        t.kv(0, "IPs", "<none>");
    } else {
        t.heading(0, "IPs");
        for ip in ips {
            t.kv(1, "IP", str_at(ip, &["ip"]));
        }
    }
    controlled_by(t, pod);
    let statuses = list_at(pod, &["status", "containerStatuses"]);
    let init_statuses = list_at(pod, &["status", "initContainerStatuses"]);
    containers(
        t,
        0,
        "Init Containers",
        &pod["spec"]["initContainers"],
        init_statuses,
        false,
    );
    containers(
        t,
        0,
        "Containers",
        &pod["spec"]["containers"],
        statuses,
        true,
    );
    conditions(
        t,
        0,
        &pod["status"]["conditions"],
        &[("Type", "type"), ("Status", "status")],
    );
    volumes(t, 0, &pod["spec"]["volumes"]);
    t.kv(
        0,
        "QoS Class",
        or(str_at(pod, &["status", "qosClass"]), "BestEffort"),
    );
    labels(t, 0, "Node-Selectors", &pod["spec"]["nodeSelector"]);
    tolerations(t, pod);
}

/// The `Pod Template:` block of a Deployment, ReplicaSet or history revision.
pub fn pod_template(t: &mut Text, template: &Value) {
    t.heading(0, "Pod Template");
    labels(t, 1, "Labels", &template["metadata"]["labels"]);
    let annotations = pairs(&template["metadata"]["annotations"], ": ");
    if !annotations.is_empty() {
        t.multiline(1, "Annotations", &annotations);
    }
    let spec = &template["spec"];
    containers(t, 1, "Init Containers", &spec["initContainers"], &[], false);
    containers(t, 1, "Containers", &spec["containers"], &[], true);
    volumes(t, 1, &spec["volumes"]);
    labels(t, 1, "Node-Selectors", &spec["nodeSelector"]);
}

/// One `Containers:` section; `statuses` are the running pod's, if any.
fn containers(
    t: &mut Text,
    level: usize,
    title: &str,
    list: &Value,
    statuses: &[Value],
    always: bool,
) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        if always {
            t.kv(level, title, "<none>");
        }
        return;
    }
    t.heading(level, title);
    for c in items {
        let name = str_at(c, &["name"]);
        let status = statuses.iter().find(|s| str_at(s, &["name"]) == name);
        t.heading(level + 1, name);
        let l = level + 2;
        if let Some(s) = status {
            t.kv(l, "Container ID", str_at(s, &["containerID"]));
        }
        t.kv(l, "Image", str_at(c, &["image"]));
        if let Some(s) = status {
            t.kv(l, "Image ID", str_at(s, &["imageID"]));
        }
        ports(t, l, c);
        for (key, field) in [("Command", "command"), ("Args", "args")] {
            let values: Vec<String> = list_at(c, &[field])
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            if !values.is_empty() {
                t.heading(l, key);
                for v in values {
                    t.cells(l + 1, &[&v]);
                }
            }
        }
        if let Some(s) = status {
            state(t, l, "State", &s["state"]);
            if s["lastState"].as_object().is_some_and(|m| !m.is_empty()) {
                state(t, l, "Last State", &s["lastState"]);
            }
            let ready = if s["ready"].as_bool() == Some(true) {
                "True"
            } else {
                "False"
            };
            t.kv(l, "Ready", ready);
            t.kv(l, "Restart Count", int_at(s, &["restartCount"]).to_string());
        }
        for (key, field) in [("Limits", "limits"), ("Requests", "requests")] {
            let values = pairs(&c["resources"][field], ":");
            if !values.is_empty() {
                t.heading(l, key);
                for v in values {
                    let (k, v) = v.split_once(':').unwrap_or((&v, ""));
                    t.kv(l + 1, k, v);
                }
            }
        }
        for (key, field) in [
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ] {
            if c[field].is_object() {
                t.kv(l, key, probe(&c[field]));
            }
        }
        let env: Vec<String> = list_at(c, &["env"])
            .iter()
            .map(|e| match e["value"].as_str() {
                Some(v) => format!("{}:{v}", str_at(e, &["name"])),
                None => format!("{}:<set from a reference>", str_at(e, &["name"])),
            })
            .collect();
        if env.is_empty() {
            t.kv(l, "Environment", "<none>");
        } else {
            t.heading(l, "Environment");
            for e in env {
                let (k, v) = e.split_once(':').unwrap_or((&e, ""));
                t.kv(l + 1, k, v);
            }
        }
        let mounts: Vec<String> = list_at(c, &["volumeMounts"])
            .iter()
            .map(|m| {
                let ro = if m["readOnly"].as_bool() == Some(true) {
                    "ro"
                } else {
                    "rw"
                };
                format!(
                    "{} from {} ({ro})",
                    str_at(m, &["mountPath"]),
                    str_at(m, &["name"])
                )
            })
            .collect();
        t.multiline(l, "Mounts", &mounts);
    }
}

/// `Port:  80/TCP` (or `Ports:` for several).
fn ports(t: &mut Text, level: usize, container: &Value) {
    let ports: Vec<String> = list_at(container, &["ports"])
        .iter()
        .map(|p| {
            let proto = or(str_at(p, &["protocol"]), "TCP");
            let port = format!("{}/{proto}", int_at(p, &["containerPort"]));
            match p["name"].as_str() {
                Some(n) if !n.is_empty() => format!("{port} ({n})"),
                _ => port,
            }
        })
        .collect();
    match ports.len() {
        0 => t.kv(level, "Port", "<none>"),
        1 => t.kv(level, "Port", &ports[0]),
        _ => t.kv(level, "Ports", ports.join(", ")),
    }
}

/// `State:  Running` with its details underneath.
fn state(t: &mut Text, level: usize, key: &str, state: &Value) {
    if let Some(running) = state.get("running") {
        t.kv(level, key, "Running");
        t.kv(level + 1, "Started", timestamp(&running["startedAt"]));
    } else if let Some(waiting) = state.get("waiting") {
        t.kv(level, key, "Waiting");
        t.kv(level + 1, "Reason", str_at(waiting, &["reason"]));
    } else if let Some(term) = state.get("terminated") {
        t.kv(level, key, "Terminated");
        t.kv(level + 1, "Reason", str_at(term, &["reason"]));
        t.kv(
            level + 1,
            "Exit Code",
            int_at(term, &["exitCode"]).to_string(),
        );
        t.kv(level + 1, "Started", timestamp(&term["startedAt"]));
        t.kv(level + 1, "Finished", timestamp(&term["finishedAt"]));
    } else {
        t.kv(level, key, "Waiting");
    }
}

/// `http-get http://:http/ delay=0s timeout=1s period=2s #success=1 #failure=3`.
fn probe(p: &Value) -> String {
    let how = if let Some(h) = p.get("httpGet") {
        let port = match &h["port"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let scheme = or(str_at(h, &["scheme"]), "HTTP").to_lowercase();
        format!(
            "http-get {scheme}://{}:{port}{}",
            str_at(h, &["host"]),
            str_at(h, &["path"])
        )
    } else if let Some(tcp) = p.get("tcpSocket") {
        format!(
            "tcp-socket {}:{}",
            str_at(tcp, &["host"]),
            tcp["port"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| tcp["port"].to_string())
        )
    } else if let Some(exec) = p.get("exec") {
        let cmd: Vec<&str> = list_at(exec, &["command"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        format!("exec [{}]", cmd.join(" "))
    } else {
        "unknown".to_string()
    };
    let n = |f: &str, d: i64| p[f].as_i64().unwrap_or(d);
    format!(
        "{how} delay={}s timeout={}s period={}s #success={} #failure={}",
        n("initialDelaySeconds", 0),
        n("timeoutSeconds", 1),
        n("periodSeconds", 10),
        n("successThreshold", 1),
        n("failureThreshold", 3)
    )
}

/// `Volumes:` with each volume's type.
fn volumes(t: &mut Text, level: usize, list: &Value) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        t.kv(level, "Volumes", "<none>");
        return;
    }
    t.heading(level, "Volumes");
    for v in items {
        t.heading(level + 1, str_at(v, &["name"]));
        let kind = v
            .as_object()
            .and_then(|m| m.keys().find(|k| *k != "name"))
            .cloned()
            .unwrap_or_default();
        t.kv(level + 2, "Type", super::title(&kind));
    }
}

/// `Tolerations:` one per line.
fn tolerations(t: &mut Text, pod: &Value) {
    let lines: Vec<String> = list_at(pod, &["spec", "tolerations"])
        .iter()
        .map(|tol| {
            let mut s = str_at(tol, &["key"]).to_string();
            if let Some(v) = tol["value"].as_str().filter(|v| !v.is_empty()) {
                s.push_str(&format!("={v}"));
            }
            if let Some(e) = tol["effect"].as_str().filter(|e| !e.is_empty()) {
                s.push_str(&format!(":{e}"));
            }
            if tol["operator"] == "Exists" && s.is_empty() {
                s = "op=Exists".to_string();
            }
            if let Some(secs) = tol["tolerationSeconds"].as_i64() {
                s.push_str(&format!(" for {secs}s"));
            }
            s
        })
        .collect();
    t.multiline(0, "Tolerations", &lines);
}
