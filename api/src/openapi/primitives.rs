//! Hand-written schemas for the types whose JSON form is not their Rust
//! shape: quantities, int-or-strings and timestamps are strings (or
//! numbers) on the wire, and `managedFields` entries are kept opaque in
//! memory but published with their upstream structure.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::intstr::IntOrString;
use crate::meta::{MicroTime, Time};
use crate::quantity::Quantity;

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Quantity is a fixed-point representation of a number: a string such as `100m`, `1.5`, `128Mi` or `1G`, or a plain number.",
            "oneOf": [{"type": "string"}, {"type": "number"}]
        })
    }
}

impl JsonSchema for IntOrString {
    fn schema_name() -> Cow<'static, str> {
        "IntOrString".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "IntOrString is a type that can hold an int32 or a string (a port number or name, a count or a percentage).",
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}]
        })
    }
}

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Time is a timestamp in RFC 3339 form with second precision.",
            "type": "string",
            "format": "date-time"
        })
    }
}

impl JsonSchema for MicroTime {
    fn schema_name() -> Cow<'static, str> {
        "MicroTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "MicroTime is a timestamp in RFC 3339 form with microsecond precision.",
            "type": "string",
            "format": "date-time"
        })
    }
}

/// `metav1.ManagedFieldsEntry`, the element of `metadata.managedFields`.
struct ManagedFieldsEntry;

impl JsonSchema for ManagedFieldsEntry {
    fn schema_name() -> Cow<'static, str> {
        "ManagedFieldsEntry".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let time = generator.subschema_for::<Time>();
        json_schema!({
            "description": "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.",
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion defines the version of this resource that this field set applies to.", "type": "string"},
                "fieldsType": {"description": "FieldsType is the discriminator for the different fields format and version. There is currently only one possible value: \"FieldsV1\"", "type": "string"},
                "fieldsV1": {"description": "FieldsV1 holds the first JSON version format as described in the \"FieldsV1\" type.", "type": "object"},
                "manager": {"description": "Manager is an identifier of the workflow managing these fields.", "type": "string"},
                "operation": {"description": "Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only valid values for this field are 'Apply' and 'Update'.", "type": "string"},
                "subresource": {"description": "Subresource is the name of the subresource used to update that object, or empty string if the object was updated through the main resource.", "type": "string"},
                "time": time
            }
        })
    }
}

/// The schema of `metadata.managedFields`: a list of
/// [`ManagedFieldsEntry`] whatever the Rust field holds.
pub(crate) fn managed_fields(generator: &mut SchemaGenerator) -> Schema {
    let entry = generator.subschema_for::<ManagedFieldsEntry>();
    json_schema!({
        "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.",
        "type": "array",
        "items": entry
    })
}
