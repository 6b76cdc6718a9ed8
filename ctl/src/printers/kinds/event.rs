//! Events: `LAST SEEN TYPE REASON OBJECT MESSAGE`.

use serde_json::Value;

use super::{Context, KindColumns};
use crate::printers::fields::{at, int_at, name, str_at, timestamp_since};

pub(super) static EVENT: KindColumns = KindColumns {
    headers: &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
    wide_headers: &[
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ],
    cells,
};

fn cells(event: &Value, ctx: &Context) -> Vec<String> {
    let first_seen = if at(event, &["firstTimestamp"]).is_null() {
        timestamp_since(event, &["eventTime"], ctx.now)
    } else {
        timestamp_since(event, &["firstTimestamp"], ctx.now)
    };
    let mut last_seen = if at(event, &["lastTimestamp"]).is_null() {
        first_seen.clone()
    } else {
        timestamp_since(event, &["lastTimestamp"], ctx.now)
    };
    let mut count = int_at(event, &["count"]);
    if event["series"].is_object() {
        last_seen = timestamp_since(event, &["series", "lastObservedTime"], ctx.now);
        count = int_at(event, &["series", "count"]);
    } else if count == 0 {
        // Singleton events of the new API have no count.
        count = 1;
    }
    let involved = &event["involvedObject"];
    let kind = str_at(involved, &["kind"]).to_lowercase();
    let object = match str_at(involved, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let message = str_at(event, &["message"]).trim().to_string();
    let kind = str_at(event, &["type"]).to_string();
    let reason = str_at(event, &["reason"]).to_string();
    if !ctx.wide {
        return vec![last_seen, kind, reason, object, message];
    }
    vec![
        last_seen,
        kind,
        reason,
        object,
        str_at(involved, &["fieldPath"]).to_string(),
        source(event),
        message,
        first_seen,
        count.to_string(),
        name(event).to_string(),
    ]
}

/// SOURCE: `component, host`, falling back to the reporting controller
/// and instance, `<unknown>` when there is no component.
fn source(event: &Value) -> String {
    let first = |a: &[&str], b: &[&str]| match str_at(event, a) {
        "" => str_at(event, b).to_string(),
        s => s.to_string(),
    };
    let component = first(&["source", "component"], &["reportingComponent"]);
    let instance = first(&["source", "host"], &["reportingInstance"]);
    match (component.as_str(), instance.as_str()) {
        ("", _) => "<unknown>".to_string(),
        (component, "") => component.to_string(),
        (component, instance) => format!("{component}, {instance}"),
    }
}
