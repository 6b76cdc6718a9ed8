//! `tokencleaner`: delete bootstrap token Secrets once they expire
//! (upstream's `TokenCleaner`), so an expired token stops existing as
//! well as stops authenticating.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use futures::FutureExt;
use tug_api::core::Secret;
use tug_client::bootstrap::{TokenInfo, TOKEN_NAMESPACE};
use tug_client::{Action, Api, Client, DeleteParams, Event, Preconditions, Store, WorkQueue};

use crate::context::ControllerContext;

/// Register the handler and return the controller's run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let q = queue.clone();
    ctx.informers
        .informer::<Secret>()
        .add_handler(move |ev| match ev {
            Event::Added(s) | Event::Updated { new: s, .. }
                if s.metadata.namespace == TOKEN_NAMESPACE
                    && TokenInfo::from_secret(s).is_some() =>
            {
                q.add(ev.key())
            }
            _ => {}
        });
    let store = ctx.informers.store::<Secret>();
    let cleaner = Arc::new(Cleaner {
        client: ctx.client.clone(),
        store: store.clone(),
    });
    async move {
        store.wait_synced().await;
        tug_client::run_workers("tokencleaner", queue, 1, move |key| {
            let c = cleaner.clone();
            async move { c.sync(&key).await }
        })
        .await;
    }
    .boxed()
}

struct Cleaner {
    client: Client,
    store: Store<Secret>,
}

impl Cleaner {
    async fn sync(&self, key: &str) -> anyhow::Result<Action> {
        let Some(secret) = self.store.get(key) else {
            return Ok(Action::Done);
        };
        let Some(token) = TokenInfo::from_secret(&secret) else {
            return Ok(Action::Done);
        };
        let now = Utc::now();
        match token.expiration {
            None => Ok(Action::Done),
            Some(at) if at > now => Ok(Action::RequeueAfter(
                (at - now).to_std().unwrap_or_default(),
            )),
            Some(_) => {
                let api: Api<Secret> = Api::namespaced(self.client.clone(), TOKEN_NAMESPACE);
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(secret.metadata.uid.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                match api.delete(&secret.metadata.name, &params).await {
                    Ok(_) => {
                        tracing::info!(token = %token.id, "deleted the expired bootstrap token")
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(Action::Done)
            }
        }
    }
}
