//! Serving the API: the accept loops of the secure (HTTPS) and the
//! loopback insecure port, with the connection-level limits (TLS
//! handshake timeout, header size, slow clients).

pub mod serve;

pub use serve::{listen, serve, ServeLimits};
