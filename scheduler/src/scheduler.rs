//! [`Scheduler`]: the parts wired together — informer handlers feeding the
//! cache and the queue, the scheduling loop, the binder and the events.

use std::sync::{Arc, Mutex};

use tug_api::core::{Node, Pod};
use tug_client::{Client, EventRecorder, InformerFactory, Store};

use crate::algorithm::Algorithm;
use crate::binder::Binder;
use crate::cache::Cache;
use crate::config::SchedulerConfig;
use crate::framework::Profile;
use crate::handlers::Handlers;
use crate::queue::SchedulingQueue;
use crate::schedule_one::ScheduleOne;

/// A scheduler registered on an [`InformerFactory`]'s pod and node
/// informers.
pub struct Scheduler {
    client: Client,
    config: SchedulerConfig,
    cache: Arc<Mutex<Cache>>,
    queue: Arc<SchedulingQueue>,
    pods: Store<Pod>,
    nodes: Store<Node>,
}

impl Scheduler {
    /// Register the scheduler's handlers on `factory`'s pod and node
    /// informers (before `factory.start()`).
    pub fn new(
        client: Client,
        factory: &mut InformerFactory,
        config: SchedulerConfig,
    ) -> Scheduler {
        let cache = Arc::new(Mutex::new(Cache::new()));
        let queue = Arc::new(SchedulingQueue::new(config.queue()));
        let handlers = Handlers::new(cache.clone(), queue.clone(), &config.scheduler_name);
        let h = handlers.clone();
        factory
            .informer::<Pod>()
            .add_handler(move |ev| h.on_pod(ev));
        factory
            .informer::<Node>()
            .add_handler(move |ev| handlers.on_node(ev));
        Scheduler {
            client,
            pods: factory.store::<Pod>(),
            nodes: factory.store::<Node>(),
            config,
            cache,
            queue,
        }
    }

    /// The scheduler cache (nodes, bound and assumed pods).
    pub fn cache(&self) -> Arc<Mutex<Cache>> {
        self.cache.clone()
    }

    /// The scheduling queue.
    pub fn queue(&self) -> Arc<SchedulingQueue> {
        self.queue.clone()
    }

    /// Wait for the informers' first lists, then schedule pods until the
    /// queue is closed. Must run inside a tokio runtime.
    pub async fn run(self) {
        self.pods.wait_synced().await;
        self.nodes.wait_synced().await;
        let events = EventRecorder::new(self.client.clone(), &self.config.scheduler_name, "");
        let binder = Binder::new(
            self.client.clone(),
            self.config.bind_concurrency as usize,
            self.cache.clone(),
            self.queue.clone(),
            events.clone(),
        );
        let algorithm =
            Algorithm::new(Profile::default(), self.config.percentage_of_nodes_to_score);
        tracing::info!(
            scheduler = %self.config.scheduler_name,
            nodes = self.nodes.len(),
            pods = self.pods.len(),
            "caches synced; scheduling"
        );
        let mut step = ScheduleOne {
            client: self.client.clone(),
            scheduler_name: self.config.scheduler_name.clone(),
            cache: self.cache.clone(),
            queue: self.queue.clone(),
            pods: self.pods.clone(),
            algorithm,
            binder,
            events,
        };
        while let Some(popped) = self.queue.pop().await {
            step.run(popped).await;
        }
    }
}
