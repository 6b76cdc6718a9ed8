//! `autoscaling/v1` Scale: the body of the `scale` subresource of
//! Deployments and ReplicaSets.

use serde::{Deserialize, Serialize};

use crate::core::skip::is_zero_i32;
use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::resource::Resource;
use crate::status::FieldErrors;
use crate::strategy::{Scalable, Strategy};
use crate::validation;

/// `autoscaling/v1.Scale`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scale {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ScaleSpec,
    #[serde(default)]
    pub status: ScaleStatus,
}

/// `autoscaling/v1.ScaleSpec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleSpec {
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub replicas: i32,
}

/// `autoscaling/v1.ScaleStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleStatus {
    #[serde(default)]
    pub replicas: i32,
    /// The target's label selector in string form (`app=web`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
}

// Scale is not a listable kind; its "plural" is the subresource name
// (`deployments/scale`).
impl_resource!(
    Scale,
    group = "autoscaling",
    version = "v1",
    kind = "Scale",
    plural = "scale",
    singular = "scale",
    namespaced = true,
    short = []
);

impl Scale {
    /// The Scale view of a scalable object: its identity (name, namespace,
    /// uid, resourceVersion, creationTimestamp), desired and current
    /// replicas, and selector. What `GET .../scale` returns.
    pub fn of<T: Scalable>(obj: &T) -> Scale {
        let m = obj.meta();
        let mut scale = Scale {
            metadata: ObjectMeta {
                name: m.name.clone(),
                namespace: m.namespace.clone(),
                uid: m.uid.clone(),
                resource_version: m.resource_version.clone(),
                creation_timestamp: m.creation_timestamp,
                ..Default::default()
            },
            spec: ScaleSpec {
                replicas: obj.spec_replicas(),
            },
            status: ScaleStatus {
                replicas: obj.status_replicas(),
                selector: obj.selector_string(),
            },
            ..Default::default()
        };
        scale.set_type_meta();
        scale
    }

    /// Write this Scale's `spec.replicas` into the target (`PUT .../scale`).
    pub fn apply_to<T: Scalable>(&self, obj: &mut T) {
        obj.set_spec_replicas(self.spec.replicas);
    }
}

impl Strategy for Scale {
    /// `ValidateScale`: metadata, and `spec.replicas >= 0`.
    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validation::non_negative(
            "spec.replicas",
            self.spec.replicas.into(),
        ));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::{ReplicaSet, ReplicaSetSpec};
    use crate::meta::{LabelSelector, LabelSelectorRequirement};

    fn rs() -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: "web-abc".into(),
                namespace: "default".into(),
                uid: "u1".into(),
                resource_version: "7".into(),
                ..Default::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(3),
                selector: Some(LabelSelector {
                    match_labels: [("app".to_string(), "web".to_string())].into(),
                    match_expressions: vec![
                        LabelSelectorRequirement {
                            key: "tier".into(),
                            operator: "In".into(),
                            values: vec!["fe".into(), "be".into()],
                        },
                        LabelSelectorRequirement {
                            key: "canary".into(),
                            operator: "DoesNotExist".into(),
                            values: vec![],
                        },
                        LabelSelectorRequirement {
                            key: "env".into(),
                            operator: "Exists".into(),
                            values: vec![],
                        },
                    ],
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn scale_of_a_replicaset() {
        let mut r = rs();
        r.status.replicas = 2;
        let s = Scale::of(&r);
        assert_eq!(s.api_version, "autoscaling/v1");
        assert_eq!(s.kind, "Scale");
        assert_eq!(s.metadata.resource_version, "7");
        assert_eq!(s.spec.replicas, 3);
        assert_eq!(s.status.replicas, 2);
        assert_eq!(s.status.selector, "app=web,!canary,env,tier in (be,fe)");
        let mut s2 = s.clone();
        s2.spec.replicas = 5;
        s2.apply_to(&mut r);
        assert_eq!(r.spec.replicas, Some(5));
    }

    #[test]
    fn negative_replicas_rejected() {
        let mut s = Scale::of(&rs());
        s.spec.replicas = -2;
        assert_eq!(
            s.validate()[0].to_string(),
            "spec.replicas: Invalid value: -2: must be greater than or equal to 0"
        );
    }
}
