//! `apply --prune`: delete the objects an earlier apply created that the
//! manifests no longer hold.
//!
//! As kubectl: candidates are objects of the prunable kinds (kubectl's
//! default allowlist that this server serves, plus the kinds just applied)
//! in the namespaces the manifests touched, selected by `-l`, carrying
//! the last-applied annotation (so only objects created by apply are ever
//! pruned), and not among the objects just applied.

use std::collections::BTreeSet;

use tug_client::{ApiResource, DeleteParams, ListParams};

use super::apply::LAST_APPLIED;
use super::context::Ctx;
use super::emit_line;
use super::error::Result;
use super::get::list_all;
use super::manifests::Placed;
use crate::cli::DryRun;

/// kubectl's default prune allowlist, as (group, kind).
const ALLOWLIST: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Endpoints"),
    ("", "Namespace"),
    ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"),
    ("", "Pod"),
    ("", "ReplicationController"),
    ("", "Secret"),
    ("", "Service"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"),
    ("apps", "DaemonSet"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
];

/// What one apply run applied: objects, kinds and namespaces.
#[derive(Debug, Default)]
pub struct Applied {
    objects: BTreeSet<(String, String, String)>,
    kinds: Vec<ApiResource>,
    namespaces: BTreeSet<String>,
}

impl Applied {
    /// Remember an applied object.
    pub fn add(&mut self, p: &Placed<'_>) {
        let ns = p.namespace.clone().unwrap_or_default();
        self.objects
            .insert((p.resource.plural_group(), ns.clone(), p.name.clone()));
        if !self.kinds.contains(&p.resource) {
            self.kinds.push(p.resource.clone());
        }
        if p.namespace.is_some() {
            self.namespaces.insert(ns);
        }
    }

    fn contains(&self, resource: &ApiResource, ns: &str, name: &str) -> bool {
        self.objects
            .contains(&(resource.plural_group(), ns.to_string(), name.to_string()))
    }
}

/// Prune what `applied` no longer holds; prints `KIND/NAME pruned`.
pub async fn run(
    ctx: &Ctx,
    applied: &Applied,
    selector: Option<&str>,
    dry_run: DryRun,
) -> Result<()> {
    let mut kinds: Vec<ApiResource> = Vec::new();
    for r in ctx
        .discovery()
        .await?
        .resources()
        .iter()
        .filter(|r| r.preferred)
    {
        let res = &r.resource;
        let allowed = ALLOWLIST
            .iter()
            .any(|(g, k)| *g == res.group && *k == res.kind);
        if allowed && r.supports("list") && r.supports("delete") {
            kinds.push(res.clone());
        }
    }
    for k in &applied.kinds {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    let params = ListParams {
        label_selector: selector.map(str::to_string),
        ..Default::default()
    };
    for resource in &kinds {
        let namespaces: Vec<Option<&str>> = if resource.namespaced {
            applied
                .namespaces
                .iter()
                .map(|n| Some(n.as_str()))
                .collect()
        } else {
            vec![None]
        };
        for ns in namespaces {
            let api = ctx.api(resource, ns);
            for object in list_all(&api, &params).await? {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let object_ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
                let annotated = object["metadata"]["annotations"][LAST_APPLIED].is_string();
                if !annotated || applied.contains(resource, object_ns, name) {
                    continue;
                }
                if dry_run != DryRun::Client {
                    let dp = DeleteParams {
                        dry_run: dry_run == DryRun::Server,
                        ..DeleteParams::background()
                    };
                    let api = ctx.api(resource, Some(object_ns));
                    match api.delete(name, &dp).await {
                        Ok(_) => {}
                        Err(e) if e.is_not_found() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                emit_line(format!(
                    "{}/{name} pruned{}",
                    resource.kind_group(),
                    dry_run.suffix()
                ));
            }
        }
    }
    Ok(())
}
