//! `v1` Pod: the types (container, volume, scheduling, spec, status),
//! defaulting, validation shared with workload templates, QoS class and
//! the registry strategy.

mod container;
mod defaults;
#[cfg(test)]
pub(crate) mod fixtures;
mod lifecycle;
mod qos;
mod requests;
mod scheduling;
mod spec;
mod status;
mod strategy;
mod validation;
mod volume;

pub use container::*;
pub use defaults::{
    default_image_pull_policy, default_pod, default_pod_spec, DEFAULT_SCHEDULER_NAME,
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, DEFAULT_VOLUME_MODE,
    TERMINATION_MESSAGE_PATH_DEFAULT,
};
pub use lifecycle::*;
pub use qos::pod_qos_class;
pub use requests::{pod_host_ports, pod_requests, PodRequests};
pub use scheduling::*;
pub use spec::*;
pub use status::*;
pub use validation::{validate_pod_spec, validate_pod_spec_update, validate_pod_template_spec};
pub use volume::*;

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::ObjectMeta;

/// `v1.Pod`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pod {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

impl_resource!(
    Pod,
    group = "",
    version = "v1",
    kind = "Pod",
    plural = "pods",
    singular = "pod",
    namespaced = true,
    short = ["po"]
);
