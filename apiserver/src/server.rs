//! The assembled apiserver: registry, object store, watch caches and
//! allocators over one storage backend, plus start-up bootstrapping.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde_json::json;

use crate::auth::{Auth, AuthConfig};
use crate::limits::{Limits, LimitsConfig};
use crate::namespaces::NamespaceView;
use crate::objects::Objects;
use crate::registry::{all_kinds, Handler, Registry, ResourceInfo};
use crate::services::ServiceAllocator;
use crate::storage::{ListOptions, Storage};
use crate::watch_cache::WatchCache;

/// Namespaces that exist from the first start.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Settings the apiserver runs with (from flags).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub service_cluster_ip_range: Ipv4Net,
    pub service_node_port_range: RangeInclusive<u16>,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// Events each resource's watch cache keeps in memory.
    pub watch_cache_size: usize,
    /// Authentication and authorization.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// How the apiserver calls kubelets (logs).
    pub kubelet_client: KubeletClientConfig,
}

/// The credential the apiserver presents to kubelets (their port 10250
/// serves only it and admins), as `--kubelet-client-certificate` and
/// `--kubelet-client-key`. As upstream without
/// `--kubelet-certificate-authority`, kubelets' serving certificates are
/// not verified.
#[derive(Clone, Debug, Default)]
pub struct KubeletClientConfig {
    /// Client certificate chain followed by its private key, PEM.
    pub identity_pem: Option<Vec<u8>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            service_cluster_ip_range: "10.96.0.0/12".parse().expect("valid default range"),
            service_node_port_range: 30000..=32767,
            bookmark_interval: Duration::from_secs(60),
            watch_cache_size: crate::watch_cache::DEFAULT_CACHE_CAPACITY,
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            kubelet_client: KubeletClientConfig::default(),
        }
    }
}

/// Everything a request handler needs.
pub struct ApiServer {
    pub config: ServerConfig,
    pub registry: Registry,
    pub objects: Objects,
    pub services: ServiceAllocator,
    /// Which namespaces exist (for create admission without a storage read).
    pub namespace_view: Arc<NamespaceView>,
    /// Authenticators and authorizers.
    pub auth: Auth,
    /// Request limits.
    pub limits: Limits,
    caches: HashMap<(&'static str, &'static str), Arc<WatchCache>>,
}

impl ApiServer {
    /// Assemble over `storage`, start the watch caches and make sure the
    /// system namespaces exist.
    pub async fn start(
        storage: Arc<dyn Storage>,
        config: ServerConfig,
    ) -> anyhow::Result<Arc<ApiServer>> {
        let registry = Registry::new(all_kinds());
        let mut caches = HashMap::new();
        for h in registry.all() {
            let info = h.info();
            let cache =
                WatchCache::start(h.clone(), storage.clone(), config.watch_cache_size).await?;
            caches.insert((info.group, info.plural), cache);
        }
        let services = ServiceAllocator::new(
            storage.clone(),
            config.service_cluster_ip_range,
            config.service_node_port_range.clone(),
        );
        let namespaces = registry
            .get("", "v1", "namespaces")
            .expect("namespaces are always served")
            .info()
            .clone();
        let namespace_view = NamespaceView::spawn(
            storage.clone(),
            namespaces.prefix(""),
            caches[&(namespaces.group, namespaces.plural)].clone(),
        );
        let auth = Auth::new(&config.auth)?;
        let limits = Limits::new(&config.limits);
        let server = Arc::new(ApiServer {
            auth,
            limits,
            config,
            registry,
            objects: Objects::new(storage),
            services,
            namespace_view,
            caches,
        });
        server.bootstrap_namespaces().await?;
        server.repair_service_allocations().await;
        Ok(server)
    }

    /// The watch cache of a served resource.
    pub fn cache(&self, info: &ResourceInfo) -> &Arc<WatchCache> {
        self.caches
            .get(&(info.group, info.plural))
            .expect("every served kind has a watch cache")
    }

    /// The handler for Namespaces (used to check namespaces exist).
    pub fn namespaces(&self) -> &Handler {
        self.registry
            .get("", "v1", "namespaces")
            .expect("namespaces are always served")
    }

    async fn bootstrap_namespaces(&self) -> anyhow::Result<()> {
        let handler = self.namespaces().clone();
        for name in SYSTEM_NAMESPACES {
            if self.objects.get(handler.info(), "", name).await.is_ok() {
                continue;
            }
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let object = handler
                .prepare_create(body, "")
                .map_err(|e| anyhow::anyhow!(e.0.message))?;
            match self.objects.insert(handler.info(), object, false).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.code() == 409 => {}
                Err(e) => anyhow::bail!("creating namespace {name}: {}", e.0.message),
            }
        }
        Ok(())
    }

    /// Reconcile service address keys with the Services that hold them.
    pub async fn repair_service_allocations(&self) {
        let Some(handler) = self.registry.get("", "v1", "services") else {
            return;
        };
        let prefix = handler.info().prefix("");
        let services = match self
            .objects
            .storage()
            .list(&prefix, ListOptions::default())
            .await
        {
            Ok(l) => l
                .items
                .iter()
                .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
                .collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = %e, "service allocation repair could not list services");
                return;
            }
        };
        match self.services.repair(&services).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "repaired service allocations"),
            Err(e) => tracing::warn!(error = %e, "service allocation repair failed"),
        }
    }
}
