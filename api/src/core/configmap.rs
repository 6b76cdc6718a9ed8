//! `v1` ConfigMap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::status::FieldErrors;
use crate::strategy::Strategy;
use crate::validation;

/// `v1.ConfigMap`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMap {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Base64 on the wire, as upstream.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl_resource!(
    ConfigMap,
    group = "",
    version = "v1",
    kind = "ConfigMap",
    plural = "configmaps",
    singular = "configmap",
    namespaced = true,
    short = ["cm"]
);

impl Strategy for ConfigMap {
    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        for key in self.data.keys().chain(self.binary_data.keys()) {
            errs.extend(validation::config_map_key(&format!("data[{key}]"), key));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = self.validate();
        if old.immutable == Some(true)
            && (self.data != old.data || self.binary_data != old.binary_data)
        {
            errs.push(crate::status::FieldError::forbidden(
                "data",
                "field is immutable when `immutable` is set",
            ));
        }
        errs
    }
}
