//! `metav1` shapes the API speaks that have no Rust type in this crate
//! (the apiserver reads them as plain JSON): the PATCH body, watch events
//! and `DeleteOptions`. Marker types give them a place in the generator.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

/// `metav1.Patch`: the body of a PATCH, whose shape depends on its
/// content type.
pub(crate) struct Patch;

impl JsonSchema for Patch {
    fn schema_name() -> Cow<'static, str> {
        "Patch".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object"
        })
    }
}

/// `metav1.WatchEvent`: one line of a watch stream.
pub(crate) struct WatchEvent;

impl JsonSchema for WatchEvent {
    fn schema_name() -> Cow<'static, str> {
        "WatchEvent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Event represents a single event to a watched resource.",
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."},
                "object": {"type": "object", "description": "Object is: the object that changed (ADDED, MODIFIED, DELETED), a bookmark carrying only metadata.resourceVersion (BOOKMARK), or a Status (ERROR)."}
            },
            "required": ["type", "object"]
        })
    }
}

/// `metav1.DeleteOptions`: the optional body of a DELETE.
pub(crate) struct DeleteOptions;

impl JsonSchema for DeleteOptions {
    fn schema_name() -> Cow<'static, str> {
        "DeleteOptions".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "DeleteOptions may be provided when deleting an API object.",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "dryRun": {"type": "array", "items": {"type": "string"}, "description": "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"},
                "gracePeriodSeconds": {"type": "integer", "format": "int64", "description": "The duration in seconds before the object should be deleted. Zero means delete immediately."},
                "orphanDependents": {"type": "boolean", "description": "Deprecated: please use the PropagationPolicy."},
                "preconditions": {
                    "type": "object",
                    "description": "Must be fulfilled before a deletion is carried out. If not possible, a 409 Conflict status will be returned.",
                    "properties": {
                        "resourceVersion": {"type": "string"},
                        "uid": {"type": "string"}
                    }
                },
                "propagationPolicy": {"type": "string", "description": "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."}
            }
        })
    }
}
