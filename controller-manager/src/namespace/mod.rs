//! The namespace controller (upstream `pkg/controller/namespace`): a
//! namespace being deleted (phase `Terminating`, spec finalizer
//! `kubernetes`) is emptied — every namespaced object of every kind the
//! server serves is deleted (discovery, then `deletecollection` with
//! background propagation) — and once nothing is left its `kubernetes`
//! finalizer is removed through `namespaces/{name}/finalize`, after which
//! the apiserver deletes the namespace.
//!
//! This is the one controller that reads the API directly per key: it
//! must see every kind, including ones nothing here watches, and must
//! know the content is really gone. A namespace with objects that take
//! time to go (pods shutting down gracefully, finalizers) is looked at
//! again when they should be gone, or sooner when one of its pods goes.

mod conditions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;
use tug_api::core::{Namespace, Pod, NAMESPACE_FINALIZER};
use tug_api::Time;
use tug_client::{
    Action, Api, Client, DeleteParams, Discovery, DynamicApi, Event, ListParams, PostParams,
    WorkQueue,
};

use crate::context::ControllerContext;
use conditions::{updated_conditions, PassResult};

/// How long objects with finalizers are given before the next look
/// (upstream's `finalizerEstimateSeconds`).
const FINALIZER_ESTIMATE_SECS: i64 = 15;
/// Attempts at the finalize call when the namespace keeps changing.
const FINALIZE_ATTEMPTS: usize = 5;

/// Register the handler and return the controller's run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let q = queue.clone();
    ctx.informers
        .informer::<Namespace>()
        .add_handler(move |ev| match ev {
            Event::Added(ns) | Event::Updated { new: ns, .. }
                if ns.metadata.deletion_timestamp.is_some() =>
            {
                q.add(ev.key())
            }
            _ => {}
        });
    let namespaces = ctx.informers.store::<Namespace>();
    // Pods are what usually takes time to go (graceful termination): the
    // last one gone is a reason to look again before the estimate is up.
    let (q, terminating) = (queue.clone(), namespaces.clone());
    ctx.informers.informer::<Pod>().add_handler(move |ev| {
        if let Event::Deleted(pod) = ev {
            let ns = &pod.metadata.namespace;
            if terminating
                .get(ns)
                .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
            {
                q.add(ns.clone());
            }
        }
    });
    let controller = Arc::new(NamespaceController {
        client: ctx.client.clone(),
    });
    let workers = ctx.options.concurrent_namespace_syncs;
    async move {
        namespaces.wait_synced().await;
        tug_client::run_workers("namespace", queue, workers, move |name| {
            let c = controller.clone();
            async move { c.sync(&name).await }
        })
        .await;
    }
    .boxed()
}

/// What is left of one kind in a namespace after its deletion.
#[derive(Debug, Default, PartialEq)]
struct Leftovers {
    count: usize,
    finalizers: BTreeMap<String, usize>,
    /// Seconds until the last graceful deletion should be over.
    estimate_secs: i64,
    /// Objects left with neither finalizers nor a grace period.
    unexplained: usize,
}

/// Look at the objects still listed after a delete.
fn assess(items: &[Value], now: DateTime<Utc>) -> Leftovers {
    let mut out = Leftovers {
        count: items.len(),
        ..Default::default()
    };
    for item in items {
        let meta = item.get("metadata");
        let finalizers: Vec<&str> = meta
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for f in &finalizers {
            *out.finalizers.entry(f.to_string()).or_default() += 1;
        }
        let graceful_until = meta
            .and_then(|m| m.get("deletionTimestamp"))
            .and_then(|t| serde_json::from_value::<Time>(t.clone()).ok())
            .map(|t| (t.0 - now).num_seconds());
        match graceful_until {
            Some(secs) if secs > 0 => out.estimate_secs = out.estimate_secs.max(secs),
            // Due already: its deleter (a kubelet) should confirm soon.
            Some(_) if finalizers.is_empty() => out.estimate_secs = out.estimate_secs.max(1),
            _ if !finalizers.is_empty() => {
                out.estimate_secs = out.estimate_secs.max(FINALIZER_ESTIMATE_SECS)
            }
            _ => out.unexplained += 1,
        }
    }
    out
}

struct NamespaceController {
    client: Client,
}

impl NamespaceController {
    async fn sync(&self, name: &str) -> anyhow::Result<Action> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        // The latest state, not the cache's: several writers act on a
        // terminating namespace.
        let Some(ns) = api.get_opt(name).await? else {
            return Ok(Action::Done);
        };
        if ns.metadata.deletion_timestamp.is_none()
            || !ns.spec.finalizers.iter().any(|f| f == NAMESPACE_FINALIZER)
        {
            return Ok(Action::Done);
        }
        let mut pass = PassResult::default();
        let outcome = self.delete_all_content(name, &mut pass).await;
        self.update_status(&api, &ns, &pass).await;
        let estimate = outcome?;
        if estimate > 0 {
            let wait = Duration::from_secs((estimate / 2 + 1) as u64);
            tracing::info!(namespace = name, remaining = ?pass.remaining, retry_in = ?wait, "namespace content still going away");
            return Ok(Action::RequeueAfter(wait));
        }
        self.finalize(&api, ns).await?;
        tracing::info!(namespace = name, "namespace emptied and finalized");
        Ok(Action::Done)
    }

    /// Delete everything in the namespace; the seconds to wait before it
    /// should all be gone (0: it is).
    async fn delete_all_content(&self, name: &str, pass: &mut PassResult) -> anyhow::Result<i64> {
        let discovery = match Discovery::run(&self.client).await {
            Ok(d) => d,
            Err(e) => {
                pass.discovery_error = Some(e.to_string());
                return Err(e).context("discovering the served resources");
            }
        };
        let mut estimate = 0;
        for r in discovery.resources() {
            if !r.resource.namespaced || !r.preferred || !r.supports("delete") {
                continue;
            }
            let label = format!("{}.{}", r.resource.plural, r.resource.group);
            let api = DynamicApi::namespaced_with(self.client.clone(), name, &r.resource);
            match self
                .delete_resource(&api, r.supports("deletecollection"), r.supports("list"))
                .await
            {
                Ok(Some(left)) => {
                    if left.count > 0 {
                        pass.remaining.insert(label.clone(), left.count);
                    }
                    for (f, n) in &left.finalizers {
                        *pass.finalizers.entry(f.clone()).or_default() += n;
                    }
                    if left.unexplained > 0 {
                        pass.delete_errors.push(format!(
                            "unexpected items still remain in namespace: {name} for {label}"
                        ));
                    }
                    estimate = estimate.max(left.estimate_secs);
                }
                Ok(None) => {}
                Err(e) => pass.delete_errors.push(format!("{label}: {e:#}")),
            }
        }
        if !pass.delete_errors.is_empty() {
            anyhow::bail!(
                "deleting the content of namespace {name}: {}",
                pass.delete_errors.join("; ")
            );
        }
        Ok(estimate)
    }

    /// Delete every object of one kind; what is left (`None` when the
    /// kind cannot be listed to check).
    async fn delete_resource(
        &self,
        api: &DynamicApi,
        collection: bool,
        list: bool,
    ) -> anyhow::Result<Option<Leftovers>> {
        let dp = DeleteParams::background();
        if collection {
            api.delete_collection(&dp, &ListParams::default()).await?;
        } else if list {
            for item in api.list(&ListParams::default()).await?.items {
                let Some(item_name) = item.pointer("/metadata/name").and_then(Value::as_str) else {
                    continue;
                };
                match api.delete(item_name, &dp).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if !list {
            return Ok(None);
        }
        let left = api.list(&ListParams::default()).await?;
        Ok(Some(assess(&left.items, Utc::now())))
    }

    /// Write the namespace's conditions (and `Terminating`) when they
    /// changed. Best effort: they only inform.
    async fn update_status(&self, api: &Api<Namespace>, ns: &Namespace, pass: &PassResult) {
        let conditions = updated_conditions(&ns.status.conditions, pass, Time::now());
        if conditions.is_none() && ns.status.phase == "Terminating" {
            return;
        }
        let mut updated = ns.clone();
        updated.status.phase = "Terminating".into();
        if let Some(c) = conditions {
            updated.status.conditions = c;
        }
        if let Err(e) = api
            .replace_status(&ns.metadata.name, &PostParams::default(), &updated)
            .await
        {
            tracing::debug!(namespace = %ns.metadata.name, error = %e, "could not update namespace conditions");
        }
    }

    /// Remove the `kubernetes` finalizer through `finalize`.
    async fn finalize(&self, api: &Api<Namespace>, mut ns: Namespace) -> anyhow::Result<()> {
        let name = ns.metadata.name.clone();
        for _ in 0..FINALIZE_ATTEMPTS {
            if !ns.spec.finalizers.iter().any(|f| f == NAMESPACE_FINALIZER) {
                return Ok(());
            }
            ns.spec.finalizers.retain(|f| f != NAMESPACE_FINALIZER);
            let result: tug_client::Result<Namespace> = api
                .replace_subresource(&name, Some("finalize"), &PostParams::default(), &ns)
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => match api.get_opt(&name).await? {
                    Some(fresh) => ns = fresh,
                    None => return Ok(()),
                },
                Err(e) => return Err(e).context("finalizing the namespace"),
            }
        }
        anyhow::bail!("namespace {name} kept changing while it was finalized")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leftovers_explain_why_the_namespace_waits() {
        let now = Utc::now();
        let in_20s = Time(now + chrono::Duration::seconds(20));
        let items = vec![
            json!({"metadata": {"name": "graceful", "deletionTimestamp": in_20s}}),
            json!({"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}),
            json!({"metadata": {"name": "fg", "finalizers": ["foregroundDeletion"],
                                "deletionTimestamp": Time(now - chrono::Duration::seconds(5))}}),
        ];
        let left = assess(&items, now);
        assert_eq!(left.count, 3);
        assert_eq!(left.unexplained, 0);
        assert!(
            (19..=20).contains(&left.estimate_secs),
            "{}",
            left.estimate_secs
        );
        assert_eq!(
            left.finalizers,
            BTreeMap::from([
                ("example.com/keep".to_string(), 1),
                ("foregroundDeletion".to_string(), 1)
            ])
        );

        let stuck = assess(&[json!({"metadata": {"name": "x"}})], now);
        assert_eq!((stuck.unexplained, stuck.estimate_secs), (1, 0));
        assert_eq!(assess(&[], now), Leftovers::default());
    }
}
