//! Per-kind rules the apiserver applies around a write: defaulting,
//! validation, what the main resource and the `status` subresource may
//! change, and which fields field selectors can see. Pure functions; the
//! apiserver's registry calls them.

use crate::resource::Resource;
use crate::status::FieldErrors;

/// The create/update rules for one kind (`rest.RESTCreateStrategy` and
/// friends upstream).
pub trait Strategy: Resource {
    /// The kind has a `status` subresource: the main resource ignores
    /// status changes and `/status` ignores everything else.
    const HAS_STATUS_SUBRESOURCE: bool = false;
    /// The kind tracks `metadata.generation` (bumped when the spec changes).
    const HAS_GENERATION: bool = false;

    /// Fill in defaults the way the Kubernetes defaulters do.
    fn apply_defaults(&mut self) {}

    /// Validate a new object (after defaulting).
    fn validate(&self) -> FieldErrors;

    /// Validate an update: the rules for a new object plus immutability.
    fn validate_update(&self, _old: &Self) -> FieldErrors {
        self.validate()
    }

    /// Before create: reset what a client may not set (usually status).
    fn prepare_for_create(&mut self) {}

    /// Before an update of the main resource: carry over what only the
    /// status subresource may change (usually status) from `old`.
    fn prepare_for_update(&mut self, _old: &Self) {}

    /// For an update through `/status`: the object to store is `old` with
    /// the status of `self`. Only called when `HAS_STATUS_SUBRESOURCE`.
    fn status_update(&self, old: &Self) -> Self {
        old.clone()
    }

    /// Whether the spec differs (bumps `metadata.generation` when
    /// `HAS_GENERATION`).
    fn spec_changed(&self, _old: &Self) -> bool {
        false
    }

    /// The value of a kind-specific field selector path (`spec.nodeName`,
    /// `status.phase`, `involvedObject.name`, ...). `metadata.name` and
    /// `metadata.namespace` are handled for every kind by the caller.
    /// `None` means the field is not selectable for this kind.
    fn field_value(&self, _path: &str) -> Option<String> {
        None
    }
}

/// Kinds with a `scale` subresource (Deployment, ReplicaSet).
pub trait Scalable: Resource {
    fn spec_replicas(&self) -> i32;
    fn set_spec_replicas(&mut self, replicas: i32);
    fn status_replicas(&self) -> i32;
    /// The selector in string form (`app=web,tier in (a,b)`), as
    /// `autoscaling/v1` Scale reports it.
    fn selector_string(&self) -> String;
}

/// Writes `Strategy::status_update` for a kind whose status lives in its
/// `status` field: the stored object with the new status, defaulted as
/// every written body is (so derived fields like `podIPs` stay in step).
#[macro_export]
macro_rules! status_update_from_status_field {
    () => {
        fn status_update(&self, old: &Self) -> Self {
            let mut out = old.clone();
            out.status = self.status.clone();
            $crate::strategy::Strategy::apply_defaults(&mut out);
            out
        }
    };
}
