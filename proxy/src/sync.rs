//! The sync loop: watch Services and Endpoints, and whenever they change
//! (at most once per `min_sync_period`, changes in between coalesced),
//! rebuild the model from the informer caches and hand it to the proxier.
//! Every `sync_period` the sync is a full one, which also repairs rules
//! someone else changed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tug_api::core::{Endpoints, Service};
use tug_client::{Client, InformerFactory, Store};

use crate::metrics::Metrics;
use crate::model::{self, ProxyModel};
use crate::nft::NftProxier;
use crate::userspace::UserspaceProxier;

/// What one sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether it rewrote everything.
    pub full: bool,
    /// Whether anything was changed at all.
    pub applied: bool,
    /// How many statements (nft lines, listener changes) it took.
    pub statements: usize,
}

/// The backend that programs the node.
pub enum Proxier {
    /// nftables rules in the kernel.
    Nftables(NftProxier),
    /// Listeners relaying connections in this process.
    Userspace(UserspaceProxier),
}

impl Proxier {
    /// One sync of `model` (see [`NftProxier::sync`]).
    pub async fn sync(&mut self, model: &ProxyModel, full: bool) -> anyhow::Result<SyncReport> {
        match self {
            Proxier::Nftables(p) => p.sync(model, full).await,
            Proxier::Userspace(p) => p.sync(model, full).await,
        }
    }
}

/// How often to sync.
#[derive(Clone, Copy, Debug)]
pub struct SyncPeriods {
    /// At most one sync per this period.
    pub min: Duration,
    /// A full sync at least this often.
    pub full: Duration,
}

/// The Service and Endpoints caches, and a signal raised on every change.
pub struct Watch {
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    changed: Arc<Notify>,
}

impl Watch {
    /// Start informers on Services and Endpoints through `client`.
    pub fn start(client: Client) -> Watch {
        let changed = Arc::new(Notify::new());
        let mut factory = InformerFactory::new(client);
        let c = changed.clone();
        factory.informer::<Service>().add_handler(move |ev| {
            if !ev.is_resync() {
                c.notify_one();
            }
        });
        let c = changed.clone();
        factory.informer::<Endpoints>().add_handler(move |ev| {
            if !ev.is_resync() {
                c.notify_one();
            }
        });
        let services = factory.store::<Service>();
        let endpoints = factory.store::<Endpoints>();
        factory.start();
        Watch {
            services,
            endpoints,
            changed,
        }
    }

    /// The model of what the caches hold now.
    pub fn model(&self) -> ProxyModel {
        let services = self.services.list();
        model::build(services.iter().map(|s| s.as_ref()), |ns, name| {
            self.endpoints.get_namespaced(ns, name)
        })
    }
}

/// Sync for ever: first once both caches are filled, then on changes and
/// on the full-sync timer. Errors are logged and counted; the proxier
/// makes its next sync a full one.
pub async fn run(watch: Watch, proxier: &mut Proxier, periods: SyncPeriods, metrics: Arc<Metrics>) {
    watch.services.wait_synced().await;
    watch.endpoints.wait_synced().await;
    tracing::info!("services and endpoints listed; syncing");
    let mut last_sync: Option<Instant> = None;
    let mut next_full = Instant::now();
    loop {
        if let Some(last) = last_sync {
            tokio::select! {
                _ = watch.changed.notified() => {}
                _ = tokio::time::sleep_until(next_full) => {}
            }
            // Rate limit; changes arriving meanwhile are in this sync.
            tokio::time::sleep_until(last + periods.min).await;
        }
        let started = Instant::now();
        let full = started >= next_full;
        let model = watch.model();
        match proxier.sync(&model, full).await {
            Ok(report) => {
                let took = started.elapsed();
                if report.applied {
                    tracing::info!(
                        full = report.full,
                        statements = report.statements,
                        services = model.service_count(),
                        endpoints = model.endpoint_count(),
                        took_ms = took.as_millis() as u64,
                        "synced proxy rules"
                    );
                }
                metrics.record_sync(&report, took, model.service_count(), model.endpoint_count());
                if report.full {
                    next_full = started + periods.full;
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "proxy sync failed; the next one is full");
                metrics.record_error();
                // Retry after the rate limit, not at the next change.
                watch.changed.notify_one();
            }
        }
        last_sync = Some(started);
    }
}
