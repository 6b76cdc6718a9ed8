//! The table columns kubectl prints for each kind, and how each cell is
//! computed (`pkg/printers/internalversion/printers.go` upstream).
//!
//! Each kind has its default columns, the extra columns `-o wide` adds,
//! and a function that turns one object (as JSON) into its cells. Kinds
//! without a table of their own get `NAME AGE`, as the apiserver's default
//! table gives them.

mod core;
mod event;
mod node;
mod pod;
mod service;
mod workloads;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a row may depend on besides the object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context {
    /// "Now", for AGE and other durations.
    pub now: DateTime<Utc>,
    /// `-o wide`: compute the wide columns too.
    pub wide: bool,
}

/// The table of one kind.
pub(crate) struct KindColumns {
    /// Headers of the default columns, upper-case (`NAME`, `READY`, ...).
    pub headers: &'static [&'static str],
    /// Headers under `-o wide`: all of them, as the wide columns are not
    /// always at the end (events put SUBOBJECT and SOURCE in the middle).
    pub wide_headers: &'static [&'static str],
    /// The cells of one object, matching `headers`, or `wide_headers` when
    /// `Context::wide`.
    pub cells: fn(&Value, &Context) -> Vec<String>,
}

impl KindColumns {
    /// The headers for a table with or without the wide columns.
    pub fn headers(&self, wide: bool) -> &'static [&'static str] {
        if wide {
            self.wide_headers
        } else {
            self.headers
        }
    }
}

/// The columns for objects of `kind` (`Pod`, `Deployment`, ...).
pub(crate) fn for_kind(kind: &str) -> &'static KindColumns {
    match kind {
        "Pod" => &pod::POD,
        "Deployment" => &workloads::DEPLOYMENT,
        "ReplicaSet" => &workloads::REPLICA_SET,
        "Service" => &service::SERVICE,
        "Endpoints" => &service::ENDPOINTS,
        "Node" => &node::NODE,
        "Namespace" => &core::NAMESPACE,
        "Event" => &event::EVENT,
        "ConfigMap" => &core::CONFIG_MAP,
        "Secret" => &core::SECRET,
        "Lease" => &core::LEASE,
        _ => &core::DEFAULT,
    }
}

#[cfg(test)]
mod tests;
