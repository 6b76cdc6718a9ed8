//! `v1` Binding: the body of `POST .../pods/{name}/binding`, by which the
//! scheduler assigns a pod to a node.

use serde::{Deserialize, Serialize};

use super::object_reference::ObjectReference;
use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;

/// `v1.Binding`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;

    #[test]
    fn target_is_a_named_node() {
        let mut b = Binding {
            metadata: ObjectMeta {
                name: "web-1".into(),
                namespace: "default".into(),
                ..Default::default()
            },
            target: ObjectReference {
                kind: "Node".into(),
                name: "node-1".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(b.validate(), vec![]);
        b.target.kind = "Pod".into();
        b.target.name.clear();
        let lines: Vec<String> = b.validate().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                r#"target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>""#,
                "target.name: Required value",
            ]
        );
        b.set_type_meta();
        assert_eq!((b.api_version.as_str(), b.kind.as_str()), ("v1", "Binding"));
        assert_eq!(Binding::PLURAL, "bindings");
    }
}
