//! What the listener knows about the connection a request arrived on.

use std::net::SocketAddr;
use std::sync::Arc;

/// Inserted into every request's extensions by the serve loop (secure or
/// insecure port) before the router sees it.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// Served over TLS (the secure port); false only on the loopback
    /// insecure port.
    pub secure: bool,
    /// The client's certificate chain, leaf first, DER, already verified
    /// against the client CA during the handshake; empty when the client
    /// presented none.
    pub client_certificates: Arc<Vec<Vec<u8>>>,
}
