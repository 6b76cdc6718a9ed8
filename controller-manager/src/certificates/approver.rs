//! `csrapproving`: approve kubelet client certificate requests whose
//! requester may ask for one (upstream's `sarapprove`). A request for
//! the requester's own node (`spec.username` = the CSR's CN) needs
//! `create certificatesigningrequests/selfnodeclient`; any other one
//! `.../nodeclient` (bootstrap tokens have it, nodes do not: a node
//! cannot get another node's credential). Requests that do not qualify
//! are left pending for an admin (`kubectl certificate approve|deny`).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tug_api::authorization::ResourceAttributes;
use tug_api::certificates::{
    CertificateSigningRequest, CertificateSigningRequestCondition, APPROVED,
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
};
use tug_api::pki;
use tug_client::review::{self, Subject};
use tug_client::{Action, Api, Client, Event, PostParams, Store, WorkQueue};

use super::{is_finished, node_client, request_pem};
use crate::context::ControllerContext;

/// Register the handler and return the controller's run loop.
pub fn start(ctx: &mut ControllerContext) -> BoxFuture<'static, ()> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let q = queue.clone();
    ctx.informers
        .informer::<CertificateSigningRequest>()
        .add_handler(move |ev| match ev {
            Event::Added(_) | Event::Updated { .. } => q.add(ev.key()),
            _ => {}
        });
    let store = ctx.informers.store::<CertificateSigningRequest>();
    let approver = Arc::new(Approver {
        client: ctx.client.clone(),
        store: store.clone(),
    });
    async move {
        store.wait_synced().await;
        tug_client::run_workers("csrapproving", queue, 2, move |key| {
            let a = approver.clone();
            async move { a.sync(&key).await }
        })
        .await;
    }
    .boxed()
}

struct Approver {
    client: Client,
    store: Store<CertificateSigningRequest>,
}

/// The subresource of `certificatesigningrequests` the requester must be
/// allowed to create: `selfnodeclient` for its own node, else
/// `nodeclient`.
pub fn permission_for(requester: &str, common_name: &str) -> &'static str {
    if requester == common_name {
        "selfnodeclient"
    } else {
        "nodeclient"
    }
}

impl Approver {
    async fn sync(&self, key: &str) -> anyhow::Result<Action> {
        let Some(csr) = self.store.get(key) else {
            return Ok(Action::Done);
        };
        if csr.spec.signer_name != KUBE_APISERVER_CLIENT_KUBELET_SIGNER
            || csr.is_approved()
            || is_finished(&csr)
        {
            return Ok(Action::Done);
        }
        let Some(subject) = request_pem(&csr).and_then(|pem| pki::csr_subject(&pem).ok()) else {
            return Ok(Action::Done);
        };
        if let Err(why) = node_client::check(&subject, &csr.spec.usages) {
            tracing::info!(csr = %key, reason = %why, "not a kubelet client certificate request; left for an admin");
            return Ok(Action::Done);
        }
        let subresource = permission_for(&csr.spec.username, &subject.common_name);
        let requester = Subject {
            user: csr.spec.username.clone(),
            uid: csr.spec.uid.clone(),
            groups: csr.spec.groups.clone(),
        };
        let attributes = ResourceAttributes {
            verb: "create".into(),
            group: "certificates.k8s.io".into(),
            resource: "certificatesigningrequests".into(),
            subresource: subresource.into(),
            ..Default::default()
        };
        if !review::may(&self.client, &requester, attributes).await? {
            tracing::info!(csr = %key, requester = %csr.spec.username, node = %subject.common_name, subresource, "the requester may not ask for this certificate; left pending");
            return Ok(Action::Done);
        }
        self.approve(&csr).await?;
        tracing::info!(csr = %key, node = %subject.common_name, "approved");
        Ok(Action::Done)
    }

    async fn approve(&self, csr: &CertificateSigningRequest) -> anyhow::Result<()> {
        let mut approved = csr.clone();
        approved
            .status
            .conditions
            .push(CertificateSigningRequestCondition {
                type_: APPROVED.into(),
                status: "True".into(),
                reason: "AutoApproved".into(),
                message: "Auto approving kubelet client certificate after SubjectAccessReview."
                    .into(),
                ..Default::default()
            });
        let api: Api<CertificateSigningRequest> = Api::all(self.client.clone());
        api.replace_subresource::<_, CertificateSigningRequest>(
            &csr.metadata.name,
            Some("approval"),
            &PostParams::default(),
            &approved,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::permission_for;

    #[test]
    fn only_a_node_asking_for_itself_is_a_self_request() {
        assert_eq!(
            permission_for("system:node:a", "system:node:a"),
            "selfnodeclient"
        );
        assert_eq!(
            permission_for("system:node:a", "system:node:b"),
            "nodeclient"
        );
        assert_eq!(
            permission_for("system:bootstrap:abcdef", "system:node:a"),
            "nodeclient"
        );
    }
}
