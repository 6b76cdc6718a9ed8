//! Where an owner reference's `apiVersion` + `kind` lives in the API.
//!
//! The kinds the collector monitors are known up front; any other kind an
//! owner reference names is looked up through discovery (refreshed on a
//! miss, at most every [`REFRESH`]), as upstream's REST mapper does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tug_client::{ApiResource, Client, Discovery};

/// The least time between two discovery refreshes.
const REFRESH: Duration = Duration::from_secs(30);

/// Resolves `apiVersion` + `kind` to a resource.
pub struct Resources {
    client: Client,
    known: Mutex<HashMap<(String, String), ApiResource>>,
    discovery: tokio::sync::Mutex<Option<(Instant, Discovery)>>,
}

impl Resources {
    /// A resolver asking `client`'s server when it must.
    pub fn new(client: Client) -> Resources {
        Resources {
            client,
            known: Mutex::new(HashMap::new()),
            discovery: tokio::sync::Mutex::new(None),
        }
    }

    /// Remember a resource (a monitored kind).
    pub fn register(&self, resource: ApiResource) {
        let key = (resource.api_version(), resource.kind.clone());
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, resource);
    }

    /// The resource of `api_version` + `kind`.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> anyhow::Result<ApiResource> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(r) = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        let mut cached = self.discovery.lock().await;
        let stale = cached.as_ref().is_none_or(|(at, d)| {
            d.resolve_kind(api_version, kind).is_err() && at.elapsed() >= REFRESH
        });
        if stale {
            *cached = Some((Instant::now(), Discovery::run(&self.client).await?));
        }
        let (_, discovery) = cached.as_ref().expect("filled above");
        let resource = discovery.resolve_kind(api_version, kind)?.resource.clone();
        self.register(resource.clone());
        Ok(resource)
    }
}
