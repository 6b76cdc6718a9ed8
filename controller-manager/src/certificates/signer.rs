//! `csrsigning`: sign approved client certificate requests with the
//! cluster CA (upstream's `kubernetes.io/kube-apiserver-client-kubelet`
//! and `kubernetes.io/kube-apiserver-client` signers). A kubelet request
//! that is not a valid node client request, or a CSR that does not
//! parse, gets a `Failed` condition instead.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::BoxFuture;
use futures::FutureExt;
use tug_api::certificates::{
    CertificateSigningRequest, CertificateSigningRequestCondition, FAILED,
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER, KUBE_APISERVER_CLIENT_SIGNER,
};
use tug_api::duration::parse_duration;
use tug_api::pki::{self, Ca};
use tug_client::{Action, Api, Client, Event, PostParams, Store, WorkQueue};

use super::{is_finished, node_client, request_pem};
use crate::context::ControllerContext;

/// The signer's flags (upstream's names).
#[derive(clap::Args, Clone, Debug)]
pub struct SigningFlags {
    /// PEM certificate of the CA that signs client certificates
    /// (the apiserver's `pki/ca.crt`). Without it the signer is off.
    #[arg(long)]
    pub cluster_signing_cert_file: Option<PathBuf>,
    /// Its private key (`pki/ca.key`).
    #[arg(long)]
    pub cluster_signing_key_file: Option<PathBuf>,
    /// The longest validity of a signed certificate (a request's
    /// `expirationSeconds` may shorten it).
    #[arg(long, default_value = "8760h", value_parser = parse_duration)]
    pub cluster_signing_duration: Duration,
}

/// What the signer signs with.
pub struct SigningCa {
    ca: Ca,
    duration: Duration,
}

impl SigningCa {
    /// The CA the flags name; `None` (signer off) when they name none.
    pub fn from_flags(flags: &SigningFlags) -> anyhow::Result<Option<SigningCa>> {
        let (cert, key) = match (
            &flags.cluster_signing_cert_file,
            &flags.cluster_signing_key_file,
        ) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            _ => anyhow::bail!(
                "--cluster-signing-cert-file and --cluster-signing-key-file go together"
            ),
        };
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
        };
        let ca = Ca::from_pem(&read(cert)?, &read(key)?)
            .with_context(|| format!("loading the signing CA {}", cert.display()))?;
        Ok(Some(SigningCa {
            ca,
            duration: flags.cluster_signing_duration,
        }))
    }

    /// The validity of a certificate for `csr`: the signing duration,
    /// shortened by `expirationSeconds`.
    pub fn validity(&self, csr: &CertificateSigningRequest) -> Duration {
        match csr.spec.expiration_seconds {
            Some(s) if s > 0 => self.duration.min(Duration::from_secs(s as u64)),
            _ => self.duration,
        }
    }

    /// The certificate PEM for `csr`, or why it cannot be issued.
    pub fn sign(&self, csr: &CertificateSigningRequest) -> Result<String, String> {
        let pem = request_pem(csr).ok_or("spec.request is not base64 PEM")?;
        if csr.spec.signer_name == KUBE_APISERVER_CLIENT_KUBELET_SIGNER {
            let subject = pki::csr_subject(&pem).map_err(|e| e.to_string())?;
            node_client::check(&subject, &csr.spec.usages)?;
        } else if !csr.spec.usages.iter().any(|u| u == "client auth")
            || csr.spec.usages.iter().any(|u| u == "server auth")
        {
            return Err(
                "a client certificate needs usage \"client auth\" and no \"server auth\"".into(),
            );
        }
        self.ca
            .sign_client_csr(&pem, self.validity(csr))
            .map_err(|e| e.to_string())
    }
}

/// Whether this signer signs for `signer_name`.
pub fn handles(signer_name: &str) -> bool {
    signer_name == KUBE_APISERVER_CLIENT_KUBELET_SIGNER
        || signer_name == KUBE_APISERVER_CLIENT_SIGNER
}

/// Register the handler and return the controller's run loop.
pub fn start(ctx: &mut ControllerContext, ca: SigningCa) -> BoxFuture<'static, ()> {
    let queue: WorkQueue<String> = WorkQueue::new();
    let q = queue.clone();
    ctx.informers
        .informer::<CertificateSigningRequest>()
        .add_handler(move |ev| match ev {
            Event::Added(_) | Event::Updated { .. } => q.add(ev.key()),
            _ => {}
        });
    let store = ctx.informers.store::<CertificateSigningRequest>();
    let signer = Arc::new(Signer {
        client: ctx.client.clone(),
        store: store.clone(),
        ca,
    });
    async move {
        store.wait_synced().await;
        tug_client::run_workers("csrsigning", queue, 2, move |key| {
            let s = signer.clone();
            async move { s.sync(&key).await }
        })
        .await;
    }
    .boxed()
}

struct Signer {
    client: Client,
    store: Store<CertificateSigningRequest>,
    ca: SigningCa,
}

impl Signer {
    async fn sync(&self, key: &str) -> anyhow::Result<Action> {
        let Some(csr) = self.store.get(key) else {
            return Ok(Action::Done);
        };
        if !handles(&csr.spec.signer_name) || !csr.is_approved() || is_finished(&csr) {
            return Ok(Action::Done);
        }
        let mut signed = (*csr).clone();
        match self.ca.sign(&csr) {
            Ok(cert) => signed.status.certificate = STANDARD.encode(cert),
            Err(why) => {
                tracing::warn!(csr = %key, reason = %why, "refusing to sign");
                signed
                    .status
                    .conditions
                    .push(CertificateSigningRequestCondition {
                        type_: FAILED.into(),
                        status: "True".into(),
                        reason: "SignerValidationFailure".into(),
                        message: why,
                        ..Default::default()
                    });
            }
        }
        let api: Api<CertificateSigningRequest> = Api::all(self.client.clone());
        api.replace_status(&csr.metadata.name, &PostParams::default(), &signed)
            .await?;
        tracing::info!(csr = %key, issued = !signed.status.certificate.is_empty(), "signed");
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::certificates::APPROVED;

    fn signing_ca() -> SigningCa {
        let ca = pki::new_ca("test-ca").unwrap();
        SigningCa {
            ca: Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap(),
            duration: Duration::from_secs(8760 * 3600),
        }
    }

    fn csr(cn: &str, groups: &[&str], signer: &str, usages: &[&str]) -> CertificateSigningRequest {
        let (pem, _key) = pki::new_client_csr(cn, groups).unwrap();
        let mut c = CertificateSigningRequest::default();
        c.spec.request = STANDARD.encode(pem);
        c.spec.signer_name = signer.into();
        c.spec.usages = usages.iter().map(|s| s.to_string()).collect();
        c.status
            .conditions
            .push(CertificateSigningRequestCondition {
                type_: APPROVED.into(),
                status: "True".into(),
                ..Default::default()
            });
        c
    }

    #[test]
    fn a_node_request_gets_a_certificate_naming_the_node() {
        let ca = signing_ca();
        let mut c = csr(
            "system:node:n1",
            &["system:nodes"],
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            &["digital signature", "client auth"],
        );
        c.spec.expiration_seconds = Some(3600);
        let cert = ca.sign(&c).unwrap();
        let not_after = pki::cert_not_after(&cert).unwrap();
        let left = not_after - chrono::Utc::now();
        assert!(
            left <= chrono::TimeDelta::seconds(3700),
            "expirationSeconds shortens it: {left}"
        );
        assert!(left >= chrono::TimeDelta::seconds(3000));
    }

    #[test]
    fn the_kubelet_signer_refuses_other_subjects() {
        let ca = signing_ca();
        let admin = csr(
            "system:node:n1",
            &["system:masters"],
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            &["client auth"],
        );
        assert!(ca.sign(&admin).unwrap_err().contains("organization"));
        let server = csr(
            "someone",
            &[],
            KUBE_APISERVER_CLIENT_SIGNER,
            &["client auth", "server auth"],
        );
        assert!(ca.sign(&server).is_err());
        let client = csr(
            "jane",
            &["dev"],
            KUBE_APISERVER_CLIENT_SIGNER,
            &["client auth"],
        );
        assert!(ca.sign(&client).is_ok());
        assert!(!handles("example.com/other"));
    }
}
