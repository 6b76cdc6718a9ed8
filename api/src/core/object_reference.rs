//! `v1.ObjectReference` and `v1.LocalObjectReference`.

use serde::{Deserialize, Serialize};

/// `v1.ObjectReference`: points at another object (Event.involvedObject,
/// Endpoints targetRef, Binding target).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// A path inside the object (`spec.containers{nginx}`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

/// `v1.LocalObjectReference`: a name in the same namespace
/// (`imagePullSecrets`, `envFrom.configMapRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}
