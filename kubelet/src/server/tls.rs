//! HTTPS for the kubelet's port: the serving certificate (self-signed,
//! kept at `<root-dir>/pki/kubelet.crt` and `.key`, made on first start),
//! client certificates required and verified against the client CA, and
//! the accept loop that hands each request the verified client's subject.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tug_api::pki::{self, CertAndKey, ClientAuth, Subject};

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the serving certificate is valid (upstream kubelets' self-
/// signed certificates last a year).
const SERVING_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// The verified client of a connection, in each request's extensions.
#[derive(Clone, Debug)]
pub struct Peer(pub Option<Subject>);

/// The serving certificate under `pki_dir` (`kubelet.crt`, `kubelet.key`),
/// made self-signed for `host` and `ips` when absent.
pub fn serving_identity(pki_dir: &Path, host: &str, ips: &[IpAddr]) -> anyhow::Result<CertAndKey> {
    let (cert, key) = (pki_dir.join("kubelet.crt"), pki_dir.join("kubelet.key"));
    if cert.exists() && key.exists() {
        return Ok(CertAndKey {
            cert_pem: std::fs::read_to_string(&cert)
                .with_context(|| format!("reading {}", cert.display()))?,
            key_pem: std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?,
        });
    }
    let made = pki::self_signed_serving(host, &[host.to_string()], ips, SERVING_VALIDITY)
        .context("making the kubelet's serving certificate")?;
    crate::bootstrap::write_private(&cert, made.cert_pem.as_bytes())?;
    crate::bootstrap::write_private(&key, made.key_pem.as_bytes())?;
    Ok(made)
}

/// The TLS settings of the kubelet's port: `identity`, and client
/// certificates required, signed by `client_ca_pem`.
pub fn server_config(
    identity: &CertAndKey,
    client_ca_pem: &str,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let config = pki::server_tls_config(
        &identity.cert_pem,
        &identity.key_pem,
        Some(client_ca_pem),
        ClientAuth::Required,
    )
    .context("the kubelet's TLS settings")?;
    Ok(Arc::new(config))
}

/// Serve `app` over TLS on `listener` until the future is dropped; every
/// request carries the connection's [`Peer`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let (tcp, remote) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let peer = Peer(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| pki::cert_subject(leaf).ok()),
            );
            let service =
                hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer.clone());
                    let app = app.clone();
                    async move {
                        use tower::ServiceExt;
                        app.oneshot(req.map(axum::body::Body::new)).await
                    }
                });
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
        });
    }
}
