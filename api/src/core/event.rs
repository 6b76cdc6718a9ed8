//! `v1` Event (the core-group event kubectl describes).

use serde::{Deserialize, Serialize};

use super::object_reference::ObjectReference;
use crate::core::skip::is_zero_i32;
use crate::impl_resource;
use crate::meta::{MicroTime, ObjectMeta, Time};
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

/// `v1.Event`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub involved_object: ObjectReference,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub source: EventSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub count: i32,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<MicroTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<EventSeries>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<ObjectReference>,
    /// Always present on output (possibly empty), as upstream.
    #[serde(default)]
    pub reporting_component: String,
    #[serde(default)]
    pub reporting_instance: String,
}

/// `v1.EventSource`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub component: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// `v1.EventSeries`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSeries {
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<MicroTime>,
}

impl_resource!(
    Event,
    group = "",
    version = "v1",
    kind = "Event",
    plural = "events",
    singular = "event",
    namespaced = true,
    short = ["ev"]
);

impl Strategy for Event {
    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_event(self));
        errs
    }

    /// Core-group events may be updated freely (the recorder bumps `count`
    /// and `lastTimestamp`); only the generic metadata rules apply.
    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_event(self));
        errs
    }

    fn field_value(&self, path: &str) -> Option<String> {
        let io = &self.involved_object;
        Some(match path {
            "involvedObject.kind" => io.kind.clone(),
            "involvedObject.namespace" => io.namespace.clone(),
            "involvedObject.name" => io.name.clone(),
            "involvedObject.uid" => io.uid.clone(),
            "involvedObject.apiVersion" => io.api_version.clone(),
            "involvedObject.resourceVersion" => io.resource_version.clone(),
            "involvedObject.fieldPath" => io.field_path.clone(),
            "reason" => self.reason.clone(),
            "reportingComponent" => self.reporting_component.clone(),
            "source" => self.source.component.clone(),
            "type" => self.type_.clone(),
            _ => return None,
        })
    }
}

/// `legacyValidateEvent`: old-style events (no `eventTime`) must agree on
/// the namespace; new-style events must name their reporter and action.
fn validate_event(ev: &Event) -> FieldErrors {
    let mut errs = Vec::new();
    let ns = &ev.metadata.namespace;
    let io_ns = &ev.involved_object.namespace;
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            io_ns,
            "does not match event.namespace",
        )
    };
    if ev.event_time.is_none() {
        if io_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != io_ns {
            errs.push(mismatch());
        }
    } else {
        if io_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        if ev.reporting_component.is_empty() {
            errs.push(FieldError::required("reportingComponent", ""));
        } else {
            errs.extend(validation::qualified_name(
                "reportingComponent",
                &ev.reporting_component,
            ));
        }
        for (field, value, max) in [
            ("reportingInstance", &ev.reporting_instance, 128),
            ("action", &ev.action, 128),
            ("reason", &ev.reason, 128),
        ] {
            if value.is_empty() {
                errs.push(FieldError::required(field, ""));
            } else if value.len() > max {
                errs.push(FieldError::invalid(
                    field,
                    "",
                    &format!("can have at most {max} characters"),
                ));
            }
        }
        if ev.message.len() > 1024 {
            errs.push(FieldError::invalid(
                "message",
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn event() -> Event {
        decode_strict(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-1.17c", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1",
                "uid": "u1", "apiVersion": "v1", "resourceVersion": "42",
                "fieldPath": "spec.containers{web}"},
            "reason": "Pulled",
            "message": "Container image \"nginx:1.27\" already present on machine",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-05-01T10:00:00Z",
            "lastTimestamp": "2024-05-01T10:00:00Z",
            "count": 1,
            "type": "Normal",
            "eventTime": null,
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        }))
        .unwrap()
    }

    #[test]
    fn decodes_validates_and_selects() {
        let e = event();
        assert_eq!(e.validate(), vec![]);
        assert_eq!(e.field_value("involvedObject.kind").as_deref(), Some("Pod"));
        assert_eq!(
            e.field_value("involvedObject.name").as_deref(),
            Some("web-1")
        );
        assert_eq!(e.field_value("involvedObject.uid").as_deref(), Some("u1"));
        assert_eq!(
            e.field_value("involvedObject.fieldPath").as_deref(),
            Some("spec.containers{web}")
        );
        assert_eq!(
            e.field_value("involvedObject.resourceVersion").as_deref(),
            Some("42")
        );
        assert_eq!(
            e.field_value("involvedObject.apiVersion").as_deref(),
            Some("v1")
        );
        assert_eq!(
            e.field_value("involvedObject.namespace").as_deref(),
            Some("default")
        );
        assert_eq!(e.field_value("reason").as_deref(), Some("Pulled"));
        assert_eq!(e.field_value("source").as_deref(), Some("kubelet"));
        assert_eq!(e.field_value("type").as_deref(), Some("Normal"));
        assert_eq!(
            e.field_value("reportingComponent").as_deref(),
            Some("kubelet")
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["source"]["host"], "node-1");
        assert_eq!(v["count"], 1);
    }

    #[test]
    fn namespace_must_match_involved_object() {
        let mut e = event();
        e.involved_object.namespace = "other".into();
        assert_eq!(
            e.validate()[0].to_string(),
            r#"involvedObject.namespace: Invalid value: "other": does not match event.namespace"#
        );
    }

    #[test]
    fn new_style_events_name_their_reporter() {
        let mut e = event();
        e.event_time = Some(MicroTime::now());
        e.reporting_component.clear();
        e.action.clear();
        let lines: Vec<String> = e.validate().iter().map(|x| x.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "reportingComponent: Required value",
                "action: Required value"
            ]
        );
        let mut updated = event();
        updated.count = 2;
        assert_eq!(
            updated.validate_update(&event()),
            vec![],
            "the recorder bumps count"
        );
    }
}
