//! One shared informer per kind for a whole program, as client-go's
//! `SharedInformerFactory`: every controller that needs pods registers its
//! handlers on the same pod informer, so a process holds one pod cache and
//! one pod watch however many controllers read pods.
//!
//! ```no_run
//! # async fn demo(client: tug_client::Client) {
//! use tug_client::{InformerFactory, WorkQueue};
//! use tug_client::api_types::core::Pod;
//!
//! let mut factory = InformerFactory::new(client);
//! let queue = WorkQueue::new();
//! let q = queue.clone();
//! factory.informer::<Pod>().add_handler(move |ev| q.add(ev.key()));
//! let pods = factory.store::<Pod>();
//! factory.start();
//! pods.wait_synced().await;
//! # }
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tug_api::Resource;

use crate::api::{Api, ApiObject};
use crate::client::Client;
use crate::informer::Informer;
use crate::params::ListParams;
use crate::store::Store;

/// An informer whose kind has been erased, so the factory can hold
/// informers of every kind in one map.
trait ErasedInformer: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn spawn(self: Box<Self>) -> JoinHandle<()>;
}

impl<K: Resource + ApiObject> ErasedInformer for Informer<K> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn spawn(self: Box<Self>) -> JoinHandle<()> {
        tokio::spawn((*self).run())
    }
}

/// Builds at most one cluster-wide informer per kind; handlers and indexes
/// are registered before [`InformerFactory::start`].
pub struct InformerFactory {
    client: Client,
    resync: Option<Duration>,
    informers: HashMap<TypeId, Box<dyn ErasedInformer>>,
}

impl InformerFactory {
    /// A factory whose informers watch every namespace through `client`.
    pub fn new(client: Client) -> Self {
        InformerFactory {
            client,
            resync: None,
            informers: HashMap::new(),
        }
    }

    /// Resync every informer built from now on each `period`.
    pub fn with_resync(mut self, period: Duration) -> Self {
        self.resync = Some(period);
        self
    }

    /// The client the informers use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The informer of kind `K`, created on first use.
    pub fn informer<K: Resource + ApiObject>(&mut self) -> &mut Informer<K> {
        let client = self.client.clone();
        let resync = self.resync;
        let slot = self.informers.entry(TypeId::of::<K>()).or_insert_with(|| {
            let mut informer = Informer::new(Api::<K>::all(client), ListParams::default());
            if let Some(period) = resync {
                informer = informer.with_resync(period);
            }
            Box::new(informer)
        });
        slot.as_any_mut()
            .downcast_mut::<Informer<K>>()
            .expect("the factory keys informers by their kind's TypeId")
    }

    /// The store of kind `K`'s informer (created on first use).
    pub fn store<K: Resource + ApiObject>(&mut self) -> Store<K> {
        self.informer::<K>().store()
    }

    /// Run every informer on its own task.
    pub fn start(self) -> Vec<JoinHandle<()>> {
        self.informers.into_values().map(|i| i.spawn()).collect()
    }
}
