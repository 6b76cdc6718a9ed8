//! `describe`: a readable summary of objects, kind by kind as kubectl
//! writes it, followed by the object's Events.

mod pod;
mod text;
mod types;
mod workloads;

use serde_json::Value;
use tug_api::core::Event;
use tug_client::{ApiResource, ListParams};

use super::context::Ctx;
use super::emit;
use super::error::{Problems, Result};
use super::get::{list_all, with_type};
use super::target;
use crate::cli::DescribeArgs;
use crate::printers::fields::str_at;

pub use pod::pod_template;
pub use text::Text;

/// Run `describe`.
pub async fn run(ctx: &Ctx, args: &DescribeArgs) -> Result<()> {
    let mut problems = Problems::default();
    let mut printed = 0;
    for t in target::resolve(ctx, &args.args).await? {
        let resource = &t.resource.resource;
        let objects = if t.names.is_empty() {
            let lp = ListParams {
                label_selector: args.selector.clone(),
                ..Default::default()
            };
            list_all(
                &ctx.api(resource, ctx.list_namespace(args.all_namespaces)),
                &lp,
            )
            .await?
        } else {
            let api = ctx.api_here(resource);
            let mut found = Vec::new();
            for name in &t.names {
                match api.get(name).await {
                    Ok(o) => found.push(with_type(o, resource)),
                    Err(e) if e.is_not_found() => problems.report_error(&e.into()),
                    Err(e) => return Err(e.into()),
                }
            }
            found
        };
        for object in objects {
            let text = describe(ctx, resource, &object, args.show_events).await?;
            if printed > 0 {
                emit("\n\n");
            }
            emit(&text);
            printed += 1;
        }
    }
    problems.finish()
}

/// The description of one object.
pub async fn describe(
    ctx: &Ctx,
    resource: &ApiResource,
    object: &Value,
    events: bool,
) -> Result<String> {
    let mut t = Text::default();
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Pod") => pod::describe(&mut t, object),
        ("apps", "Deployment") => workloads::deployment(ctx, &mut t, object).await?,
        ("apps", "ReplicaSet") => workloads::replica_set(ctx, &mut t, object).await?,
        ("", "Service") => types::service(ctx, &mut t, object).await?,
        ("", "Node") => types::node(ctx, &mut t, object).await?,
        ("", "Namespace") => types::namespace(&mut t, object),
        ("", "ConfigMap") => types::config_map(&mut t, object),
        ("", "Secret") => types::secret(&mut t, object),
        _ => generic(&mut t, object),
    }
    if events {
        events_section(ctx, &mut t, resource, object).await?;
    }
    Ok(t.render())
}

/// Annotations kubectl leaves out of descriptions.
const SKIPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// `Name:` and, for namespaced objects, `Namespace:`.
pub fn name_and_namespace(t: &mut Text, object: &Value) {
    t.kv(0, "Name", str_at(object, &["metadata", "name"]));
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        t.kv(0, "Namespace", ns);
    }
}

/// `Labels:` one `k=v` per line, sorted.
pub fn labels(t: &mut Text, level: usize, key: &str, map: &Value) {
    t.multiline(level, key, &pairs(map, "="));
}

/// `Annotations:` one `k: v` per line, sorted, without last-applied.
pub fn annotations(t: &mut Text, level: usize, map: &Value) {
    let mut kept = map.clone();
    if let Some(m) = kept.as_object_mut() {
        for skip in SKIPPED_ANNOTATIONS {
            m.remove(*skip);
        }
    }
    t.multiline(level, "Annotations", &pairs(&kept, ": "));
}

/// The entries of a string map as `k{sep}v`, sorted by key.
pub fn pairs(map: &Value, sep: &str) -> Vec<String> {
    let mut out: Vec<String> = map
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}{sep}{}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `Controlled By:  ReplicaSet/web-abc`, when there is a controller.
pub fn controlled_by(t: &mut Text, object: &Value) {
    let owner = object["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| {
            refs.iter()
                .find(|r| r["controller"].as_bool() == Some(true))
        });
    if let Some(o) = owner {
        t.kv(
            0,
            "Controlled By",
            format!("{}/{}", str_at(o, &["kind"]), str_at(o, &["name"])),
        );
    }
}

/// Conditions as a table of the given columns (`type`, `status`, ...).
pub fn conditions(t: &mut Text, level: usize, list: &Value, columns: &[(&str, &str)]) {
    let Some(items) = list.as_array().filter(|l| !l.is_empty()) else {
        return;
    };
    t.heading(level, "Conditions");
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|c| {
            columns
                .iter()
                .map(|(_, field)| match &c[*field] {
                    Value::String(s) if field.ends_with("Time") => {
                        text::timestamp(&Value::String(s.clone()))
                    }
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    t.table(level + 1, &header, &rows);
}

/// Any other kind: the metadata, then every other top-level field.
fn generic(t: &mut Text, object: &Value) {
    name_and_namespace(t, object);
    labels(t, 0, "Labels", &object["metadata"]["labels"]);
    annotations(t, 0, &object["metadata"]["annotations"]);
    t.kv(0, "API Version", str_at(object, &["apiVersion"]));
    t.kv(0, "Kind", str_at(object, &["kind"]));
    if let Some(map) = object.as_object() {
        for (key, value) in map {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                tree(t, 0, &title(key), value);
            }
        }
    }
}

/// A nested value as indented `Key:  value` lines.
fn tree(t: &mut Text, level: usize, key: &str, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            t.heading(level, key);
            for (k, v) in map {
                tree(t, level + 1, &title(k), v);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            t.heading(level, key);
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => tree(t, level + 1, "-", item),
                    scalar => t.cells(level + 1, &[&scalar_text(scalar)]),
                }
            }
        }
        other => t.kv(level, key, scalar_text(other)),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".to_string(),
        Value::Object(_) | Value::Array(_) => "<none>".to_string(),
        other => other.to_string(),
    }
}

/// `spec` → `Spec`, `podCIDR` → `Pod CIDR`: kubectl's field titles.
fn title(field: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
            continue;
        }
        let prev_lower = chars[i - 1].is_lowercase();
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if c.is_uppercase() && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
            out.push(' ');
        }
        out.push(*c);
    }
    out
}

/// The object's Events: `Events:  <none>` or kubectl's event table.
async fn events_section(
    ctx: &Ctx,
    t: &mut Text,
    resource: &ApiResource,
    object: &Value,
) -> Result<()> {
    let name = str_at(object, &["metadata", "name"]);
    let ns = object["metadata"]["namespace"].as_str();
    let mut selector = format!(
        "involvedObject.name={name},involvedObject.kind={}",
        resource.kind
    );
    if let Some(ns) = ns {
        selector.push_str(&format!(",involvedObject.namespace={ns}"));
    }
    let api = ctx.api(&ApiResource::of::<Event>(), ns);
    let mut events = list_all(&api, &ListParams::default().fields(&selector)).await?;
    if events.is_empty() {
        t.kv(0, "Events", "<none>");
        return Ok(());
    }
    events.sort_by_key(|e| last_seen(e).to_string());
    t.heading(0, "Events");
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let count = e["count"].as_i64().unwrap_or(1);
            let first = if e["firstTimestamp"].is_string() {
                &e["firstTimestamp"]
            } else {
                &e["eventTime"]
            };
            let age = if count > 1 {
                format!(
                    "{} (x{count} over {})",
                    text::age(&Value::String(last_seen(e).to_string())),
                    text::age(first)
                )
            } else {
                text::age(&Value::String(last_seen(e).to_string()))
            };
            vec![
                str_at(e, &["type"]).to_string(),
                str_at(e, &["reason"]).to_string(),
                age,
                event_source(e),
                str_at(e, &["message"]).trim().to_string(),
            ]
        })
        .collect();
    t.table(1, &["Type", "Reason", "Age", "From", "Message"], &rows);
    Ok(())
}

/// When an event last happened.
fn last_seen(e: &Value) -> &str {
    ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .find_map(|f| e[*f].as_str())
        .unwrap_or_default()
}

/// `kubelet, node-1` or the reporting controller.
fn event_source(e: &Value) -> String {
    let component = str_at(e, &["source", "component"]);
    let host = str_at(e, &["source", "host"]);
    let (component, host) = if component.is_empty() {
        (
            str_at(e, &["reportingComponent"]),
            str_at(e, &["reportingInstance"]),
        )
    } else {
        (component, host)
    };
    if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_titles() {
        assert_eq!(title("spec"), "Spec");
        assert_eq!(title("holderIdentity"), "Holder Identity");
        assert_eq!(title("podCIDR"), "Pod CIDR");
        assert_eq!(title("leaseDurationSeconds"), "Lease Duration Seconds");
    }
}
