//! Which kinds this apiserver serves, and lookup by URL coordinates.

use std::collections::HashMap;
use std::sync::Arc;

use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::certificates::CertificateSigningRequest;
use tug_api::coordination::Lease;
use tug_api::core::{ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service};

use super::typed::Typed;
use super::Handler;

/// Every served kind, in discovery order.
pub fn all_kinds() -> Vec<Handler> {
    vec![
        Arc::new(Typed::<Namespace>::new(&["status", "finalize"])),
        Arc::new(Typed::<Pod>::new(&["status", "binding", "log"])),
        Arc::new(Typed::<Node>::new(&["status"])),
        Arc::new(Typed::<Service>::new(&["status"])),
        Arc::new(Typed::<Endpoints>::new(&[])),
        Arc::new(Typed::<Event>::new(&[])),
        Arc::new(Typed::<ConfigMap>::new(&[])),
        Arc::new(Typed::<Secret>::new(&[])),
        Arc::new(Typed::<Deployment>::scalable(&["status", "scale"])),
        Arc::new(Typed::<ReplicaSet>::scalable(&["status", "scale"])),
        Arc::new(Typed::<Lease>::new(&[])),
        Arc::new(Typed::<CertificateSigningRequest>::new(&[
            "status", "approval",
        ])),
    ]
}

/// Handlers by (group, version, plural).
pub struct Registry {
    handlers: Vec<Handler>,
    by_path: HashMap<(String, String, String), Handler>,
}

impl Registry {
    pub fn new(handlers: Vec<Handler>) -> Self {
        let by_path = handlers
            .iter()
            .map(|h| {
                let i = h.info();
                (
                    (
                        i.group.to_string(),
                        i.version.to_string(),
                        i.plural.to_string(),
                    ),
                    h.clone(),
                )
            })
            .collect();
        Registry { handlers, by_path }
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Handler> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    pub fn all(&self) -> &[Handler] {
        &self.handlers
    }

    /// Served groups with their versions, core group first.
    pub fn groups(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&'static str, &'static str)> = Vec::new();
        for h in &self.handlers {
            let key = (h.info().group, h.info().version);
            if !out.contains(&key) {
                out.push(key);
            }
        }
        out
    }
}
