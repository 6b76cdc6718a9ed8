//! The registry: one [`KindHandler`] per served kind, reached by
//! group/version/plural. Handlers turn request bodies into canonical stored
//! objects (decode strictly, default, validate, apply the kind's strategy);
//! the HTTP layer and the object store only ever see `serde_json::Value`s.

mod catalog;
mod typed;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub use catalog::{all_kinds, Registry};

use crate::error::ApiResult;

/// Static facts about a served resource (what discovery reports).
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Subresources served (`status`, `scale`, `binding`, ...).
    pub subresources: &'static [&'static str],
    /// Whether the kind tracks `metadata.generation`.
    pub has_generation: bool,
}

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }

    /// Storage key of one object.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("/registry/{}/{}/{}", self.plural, namespace, name)
        } else {
            format!("/registry/{}/{}", self.plural, name)
        }
    }

    /// Storage prefix of a collection: one namespace, or every object
    /// (`namespace` empty).
    pub fn prefix(&self, namespace: &str) -> String {
        if self.namespaced && !namespace.is_empty() {
            format!("/registry/{}/{}/", self.plural, namespace)
        } else {
            format!("/registry/{}/", self.plural)
        }
    }
}

/// Labels and selectable fields of one object, computed once so selectors
/// can be evaluated against it many times (lists, every watcher).
#[derive(Clone, Debug, Default)]
pub struct ObjectAttrs {
    pub labels: BTreeMap<String, String>,
    pub fields: BTreeMap<String, String>,
}

/// Every field path any kind lets field selectors use; each kind answers
/// for the ones it knows (see `Strategy::field_value`).
pub const SELECTABLE_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.schedulerName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "spec.unschedulable",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
    "status.replicas",
    "type",
    "reason",
    "reportingComponent",
    "source",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
];

/// The kind-specific half of every write, over JSON values.
pub trait KindHandler: Send + Sync {
    fn info(&self) -> &ResourceInfo;

    /// Turn a create body into the object to store: strict decode, check
    /// apiVersion/kind and namespace, set server fields (uid,
    /// creationTimestamp, generation, a name from generateName), reset what
    /// clients may not set, default, validate.
    fn prepare_create(&self, body: Value, namespace: &str) -> ApiResult<Value>;

    /// Turn an update body (PUT, or the result of a patch) into the object
    /// to store over `old`: the same checks as create, immutable metadata
    /// kept from `old`, status kept from `old` when the kind has a status
    /// subresource, generation bumped on a spec change.
    fn prepare_update(&self, body: Value, old: &Value) -> ApiResult<Value>;

    /// The `/status` update: `old` with the status of `body`.
    fn prepare_status_update(&self, body: Value, old: &Value) -> ApiResult<Value>;

    /// The unknown fields of a body, by path, and the body without them
    /// (field validation: Strict refuses them, Warn and Ignore drop them).
    fn unknown_fields(&self, body: &Value) -> (Vec<String>, Value) {
        (Vec::new(), body.clone())
    }

    /// Labels and selectable fields (for label and field selectors).
    fn attrs(&self, object: &Value) -> ObjectAttrs;

    /// The `scale` subresource, for kinds that have one.
    fn scale(&self) -> Option<&dyn ScaleHandler> {
        None
    }
}

/// The `scale` subresource of a kind (`autoscaling/v1` Scale).
pub trait ScaleHandler: Send + Sync {
    /// The Scale view of a stored object.
    fn scale_of(&self, object: &Value) -> ApiResult<Value>;
    /// The stored object with `spec.replicas` from a Scale body.
    fn with_replicas(&self, object: &Value, scale: Value) -> ApiResult<Value>;
}

pub type Handler = Arc<dyn KindHandler>;
