//! One accept loop per port. Each connection is served by hyper-util's
//! auto builder (HTTP/1.1 and h2, negotiated by ALPN over TLS or by the
//! preface in plain text) with the axum router behind a small service
//! that inserts the connection's [`ConnectionInfo`] into every request.
//!
//! Connection-level limits, as upstream's `http.Server` settings:
//! - the TLS handshake must finish within `tls_handshake_timeout`;
//! - an HTTP/1 request head must arrive whole within
//!   `header_read_timeout` (slowloris: a client trickling bytes is cut
//!   off; the timer is not reset by each byte);
//! - request heads larger than `max_header_bytes` are answered 431
//!   (HTTP/1) or refused by the h2 header-list limit.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::conn::ConnectionInfo;

/// Connection-level limits of a port.
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Time a client has to send a whole HTTP/1 request head.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), bytes.
    pub max_header_bytes: usize,
    /// How long shutdown waits for open requests (watches never end by
    /// themselves) before closing their connections.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Listen backlog asked of the kernel, which caps it at
/// `net.core.somaxconn` (as Go's listeners do for upstream's apiserver).
const LISTEN_BACKLOG: u32 = 65535;

/// Listen on `addr` with a deep accept queue. The default of tokio (mio,
/// like std) is 128: when hundreds of clients connect at once (a kubelet
/// process hosting 100 hollow nodes, a scheduler opening its binding
/// connections) the queue overflows, the kernel drops their SYNs, and each
/// of those clients waits for a retransmit (1 s, then 3 s, ...).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serve `app` on `listener` until `shutdown` completes: over TLS with
/// `tls` (the secure port), in plain text without (the loopback
/// insecure port). On shutdown, stops accepting, lets open requests
/// finish for up to `limits.shutdown_grace`, then returns.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off a little
                // rather than spin (as Go's http.Server does).
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let (app, acceptor, limits) = (app.clone(), acceptor.clone(), limits.clone());
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                let info = ConnectionInfo {
                    remote,
                    secure: false,
                    client_certificates: Arc::default(),
                };
                return serve_connection(stream, info, app, &limits, watcher).await;
            };
            let tls =
                match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
            let certificates = tls
                .get_ref()
                .1
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default();
            let info = ConnectionInfo {
                remote,
                secure: true,
                client_certificates: Arc::new(certificates),
            };
            serve_connection(tls, info, app, &limits, watcher).await
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::info!("closing connections still open after the shutdown grace period");
        }
    }
    Ok(())
}

/// Serve HTTP on one accepted (and, on the secure port, handshaken)
/// connection.
async fn serve_connection<IO>(
    io: IO,
    info: ConnectionInfo,
    app: Router,
    limits: &ServeLimits,
    watcher: Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(match response {
                Ok(r) => r,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}
