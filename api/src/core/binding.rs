//! `v1` Binding: the body of `POST .../pods/{name}/binding`, by which the
//! scheduler assigns a pod to a node.

use serde::{Deserialize, Serialize};

use super::object_reference::ObjectReference;
use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;

/// `v1.Binding`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Binding {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `{kind: Node, name: <node>}`.
    #[serde(default)]
    pub target: ObjectReference,
}

impl_resource!(
    Binding,
    group = "",
    version = "v1",
    kind = "Binding",
    plural = "bindings",
    singular = "binding",
    namespaced = true,
    short = []
);

impl Strategy for Binding {
    /// `ValidatePodBinding`: the target is a Node (or kind left empty) and
    /// has a name.
    fn validate(&self) -> FieldErrors {
        let mut errs = Vec::new();
        let kind = &self.target.kind;
        if !kind.is_empty() && kind != "Node" {
            errs.push(FieldError::not_supported(
                "target.kind",
                kind,
                &["Node", "<empty>"],
            ));
        }
        if self.target.name.is_empty() {
            errs.push(FieldError::required("target.name", ""));
        }
        errs
    }
}
