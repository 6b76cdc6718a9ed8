//! [`Ctx`]: what every command that talks to a cluster shares — the
//! client built from the kubeconfig and global flags, the namespace, and
//! the server's discovery (asked for once, on first need).

use tokio::sync::OnceCell;
use tug_client::config::load_kubeconfig;
use tug_client::{
    ApiResource, Client, Config, DiscoveredResource, Discovery, DynamicApi, KubeconfigOptions,
};

use super::error::Result;
use crate::cli::GlobalFlags;

/// Where kubectl looks when there is no kubeconfig and no `--server`.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The kubeconfig options the global flags ask for.
pub fn kubeconfig_options(g: &GlobalFlags) -> KubeconfigOptions {
    KubeconfigOptions {
        kubeconfig: g.kubeconfig.clone(),
        context: g.context.clone(),
        cluster: g.cluster.clone(),
        user: g.user.clone(),
        server: g.server.clone(),
        token: g.token.clone(),
        insecure_skip_tls_verify: g.insecure_skip_tls_verify,
        namespace: g.namespace.clone(),
    }
}

/// A connection to the cluster and the namespace commands work in.
pub struct Ctx {
    pub client: Client,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
    /// Whether `-n` was given (a manifest naming another namespace is
    /// then an error, as in kubectl).
    pub explicit_namespace: bool,
    discovery: OnceCell<Discovery>,
}

impl Ctx {
    /// Build the client from the kubeconfig and the flags. With no
    /// kubeconfig at all and no `--server`, talk to [`DEFAULT_SERVER`]
    /// as kubectl talks to localhost:8080.
    pub fn new(g: &GlobalFlags) -> Result<Ctx> {
        let mut opts = kubeconfig_options(g);
        if opts.server.is_none() && load_kubeconfig(&opts)?.0.is_none() {
            opts.server = Some(DEFAULT_SERVER.to_string());
        }
        let config = Config::from_kubeconfig(&opts)?;
        let namespace = config.default_namespace.clone();
        Ok(Ctx {
            client: Client::new(config)?,
            namespace,
            explicit_namespace: g.namespace.as_deref().is_some_and(|n| !n.is_empty()),
            discovery: OnceCell::new(),
        })
    }

    /// What the server serves (asked once per command).
    pub async fn discovery(&self) -> Result<&Discovery> {
        Ok(self
            .discovery
            .get_or_try_init(|| Discovery::run(&self.client))
            .await?)
    }

    /// The resource a user means by `name` (`po`, `deploy`, `deployments.apps`).
    pub async fn resolve(&self, name: &str) -> Result<DiscoveredResource> {
        Ok(self.discovery().await?.resolve(name)?.clone())
    }

    /// An API for `resource` in `namespace` (`None`: all namespaces, or a
    /// cluster-scoped kind).
    pub fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> DynamicApi {
        match namespace {
            Some(ns) if resource.namespaced => {
                DynamicApi::namespaced_with(self.client.clone(), ns, resource)
            }
            _ => DynamicApi::all_with(self.client.clone(), resource),
        }
    }

    /// An API for `resource` in the command's namespace.
    pub fn api_here(&self, resource: &ApiResource) -> DynamicApi {
        self.api(resource, Some(&self.namespace))
    }

    /// The namespace a listing covers: `None` with `-A`.
    pub fn list_namespace(&self, all_namespaces: bool) -> Option<&str> {
        (!all_namespaces).then_some(self.namespace.as_str())
    }
}
