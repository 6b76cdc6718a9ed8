//! Events: `LAST SEEN TYPE REASON OBJECT MESSAGE`.

use serde_json::Value;

use super::fields::{at, int_at, name, str_at, timestamp_since};
use super::{Cell, Column, Context, KindTable};

pub(super) static EVENT: KindTable = KindTable {
    columns: &[
        Column::text("Last Seen", "The time since the event was last seen."),
        Column::text("Type", "The type of the event: Normal or Warning."),
        Column::text("Reason", "Why the event happened, in one CamelCase word."),
        Column::text("Object", "The object the event is about."),
        Column::text(
            "Subobject",
            "The part of the object the event is about (a container).",
        )
        .wide(),
        Column::text(
            "Source",
            "The component (and host) that reported the event.",
        )
        .wide(),
        Column::text("Message", "What happened, for a human."),
        Column::text("First Seen", "The time since the event was first seen.").wide(),
        Column::integer("Count", "How many times the event happened.").wide(),
        Column {
            format: "name",
            ..Column::text("Name", "The name of the Event object.").wide()
        },
    ],
    cells,
};

fn cells(event: &Value, ctx: &Context) -> Vec<Cell> {
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
    vec![
        last_seen.into(),
        kind.into(),
        reason.into(),
        object.into(),
        str_at(involved, &["fieldPath"]).into(),
        source(event).into(),
        message.into(),
        first_seen.into(),
        count.into(),
        name(event).into(),
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
