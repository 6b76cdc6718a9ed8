//! `tug-client`: everything a Tugboat program needs to talk to the API
//! server and be a good citizen of it.
//!
//! - [`Config`] from a kubeconfig (the same file kubectl reads) and
//!   kubectl's global flags;
//! - [`Client`]: the HTTP connection, credentials and error decoding;
//! - [`Api<K>`]: get, list, create, replace, patch, delete and watch of one
//!   kind, plus the `status`, `scale` and `binding` subresources;
//!   [`DynamicApi`] and [`Discovery`] for kinds known only at run time;
//! - [`Informer`] and [`Store`]: list + watch into an indexed local cache,
//!   resuming after dropped connections and relisting on 410 Gone;
//! - [`WorkQueue`]: de-duplicated keys, one worker per key, per-key backoff;
//! - [`leader`]: leader election on a Lease;
//! - [`InformerFactory`]: one shared informer per kind per process;
//! - [`EventRecorder`]: Events about objects, aggregated and never blocking;
//! - [`run_workers`]: the reconcile loop of a level-triggered controller.
//!
//! ```no_run
//! # async fn demo() -> tug_client::Result<()> {
//! use tug_client::{Api, Client, Config, ListParams};
//! use tug_client::api_types::core::Pod;
//!
//! let client = Client::new(Config::new("http://127.0.0.1:8080")?)?;
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! for pod in pods.list(&ListParams::default().labels("app=web")).await?.items {
//!     println!("{}", pod.metadata.name);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
pub mod api;
mod backoff;
pub mod bootstrap;
pub mod client;
pub mod component;
pub mod config;
pub mod controller;
pub mod discovery;
pub mod error;
pub mod events;
pub mod factory;
pub mod informer;
pub mod leader;
pub mod params;
pub mod resource;
pub mod review;
pub mod store;
pub mod watch;
pub mod workqueue;

pub use tug_api as api_types;

pub use crate::api::{Api, ApiObject, Deleted, DynamicApi};
pub use crate::client::{Client, Request};
pub use crate::config::{Config, Kubeconfig, KubeconfigOptions};
pub use crate::controller::{run_workers, Action};
pub use crate::discovery::{DiscoveredResource, Discovery};
pub use crate::error::{Error, Result};
pub use crate::events::{reference_to, EventRecorder};
pub use crate::factory::InformerFactory;
pub use crate::informer::{Event, Informer, InformerStats};
pub use crate::leader::{LeaderElectionConfig, LeaderElector, Leadership};
pub use crate::params::{
    DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, Preconditions,
    PropagationPolicy,
};
pub use crate::resource::ApiResource;
pub use crate::store::{key_of, split_key, Store};
pub use crate::watch::{Bookmark, WatchEvent};
pub use crate::workqueue::{RateLimiter, WorkQueue};
pub use reqwest::Method;
