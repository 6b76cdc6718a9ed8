//! The one error type every client call returns.
//!
//! The API server answers every failure with a `Status` object; the client
//! keeps it whole in [`Error::Api`] so callers can branch on the code or
//! reason and show the server's own message (and its field causes). A
//! server that cannot be reached at all is a different problem with a
//! different remedy, so it gets its own variant, [`Error::Connect`], whose
//! message names the URL and says how to start a server.

use std::path::PathBuf;

use tug_api::Status;

/// Result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to the API server (or reading its configuration).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status; the `Status` it sent
    /// (or one built from the HTTP code when the body was not a Status).
    #[error("{}", api_message(.0))]
    Api(Box<Status>),

    /// A watch asked for a resourceVersion the server no longer has
    /// (410 Gone / reason Expired): list again and watch from the new list.
    #[error("{}", api_message(.0))]
    Gone(Box<Status>),

    /// No connection could be made to the server.
    #[error(
        "cannot connect to the Tugboat API server at {url}: {reason}. Is it running? \
         Start one with `tugctl cluster up` or `tug-apiserver --insecure-port 8080`, \
         or point --server/--kubeconfig at a running one",
        reason = root_cause(.source)
    )]
    Connect {
        /// The server URL the client was configured with.
        url: String,
        /// The underlying connection error.
        #[source]
        source: reqwest::Error,
    },

    /// The TLS handshake failed: most often the server's certificate does
    /// not verify against the configured CA, or is not valid for the
    /// address the client connected to. Retrying will not help.
    #[error("{message}")]
    Tls {
        /// The server URL the client was configured with.
        url: String,
        /// One line saying what is wrong and what to check.
        message: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// The connection broke or timed out after it was made.
    #[error("request to {url} failed: {reason}", reason = root_cause(.source))]
    Http {
        /// The URL of the request.
        url: String,
        /// The underlying transport error.
        #[source]
        source: reqwest::Error,
    },

    /// A response body that is not the JSON the caller asked for.
    #[error("cannot decode {what}: {}{source}", if .path.is_empty() || .path == "." { String::new() } else { format!("{}: ", .path) })]
    Decode {
        /// What was being decoded (`the response to GET http://...`).
        what: String,
        /// Where in the document decoding failed (`spec.replicas`).
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// A kubeconfig or other client configuration problem.
    #[error("{0}")]
    Config(String),

    /// A file named by the configuration could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },

    /// A kind or resource name that discovery does not know.
    #[error("the server doesn't have a resource type \"{0}\"")]
    UnknownResource(String),
}

impl Error {
    /// The server's `Status` for [`Error::Api`] and [`Error::Gone`].
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(s) | Error::Gone(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP code of a server error (`None` for transport/config errors).
    pub fn code(&self) -> Option<u16> {
        self.status().map(|s| s.code)
    }

    /// The `reason` of a server error (`NotFound`, `Conflict`, ...).
    pub fn reason(&self) -> Option<&str> {
        self.status().map(|s| s.reason.as_str())
    }

    /// 404 NotFound.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// 409 with reason Conflict (a stale resourceVersion).
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(409) && self.reason() != Some("AlreadyExists")
    }

    /// 409 with reason AlreadyExists (create of an existing name).
    pub fn is_already_exists(&self) -> bool {
        self.code() == Some(409) && self.reason() == Some("AlreadyExists")
    }

    /// 422 Invalid.
    pub fn is_invalid(&self) -> bool {
        self.code() == Some(422)
    }

    /// 410 Gone, from a watch or an expired continue token.
    pub fn is_gone(&self) -> bool {
        matches!(self, Error::Gone(_)) || self.code() == Some(410)
    }

    /// The server could not be reached (or the connection broke): worth
    /// retrying once it is back.
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::Http { .. })
    }
}

/// A server error's text: its message, or the code and reason when the
/// server sent none.
fn api_message(s: &Status) -> String {
    if !s.message.is_empty() {
        s.message.clone()
    } else if !s.reason.is_empty() {
        format!("the server answered {} {}", s.code, s.reason)
    } else {
        format!("the server answered {}", s.code)
    }
}

/// The one-line explanation of a failed TLS handshake with `url`, when
/// `e`'s source chain holds a rustls error.
pub(crate) fn tls_failure(e: &(dyn std::error::Error + 'static), url: &str) -> Option<String> {
    use rustls::{CertificateError, Error as TlsError};
    // io::Error::source() skips the error it wraps (often another
    // io::Error around the rustls one), so descend through get_ref.
    let mut cur = Some(e);
    let tls = loop {
        let err = cur?;
        if let Some(tls) = err.downcast_ref::<TlsError>() {
            break tls;
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    };
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/');
    Some(match tls {
        TlsError::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate is not valid for {host} ({tls}); connect by a name or \
             address it lists, or add one with the apiserver's --tls-san"
        ),
        TlsError::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!("the server's certificate has expired ({tls})"),
        TlsError::InvalidCertificate(_) => format!(
            "the server's certificate is not trusted ({tls}); check certificate-authority \
             in your kubeconfig"
        ),
        TlsError::InvalidMessage(_) => format!(
            "the server at {host} does not speak TLS ({tls}); is it a plain-HTTP port? \
             Use http:// for it"
        ),
        TlsError::AlertReceived(_) => format!(
            "the server at {host} refused the TLS handshake ({tls}); check the client \
             certificate in your kubeconfig"
        ),
        other => format!("the TLS handshake with {host} failed: {other}"),
    })
}

/// The innermost cause of an error chain: for a refused connection that
/// is "Connection refused (os error 111)" rather than reqwest's generic
/// "error sending request".
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The reason phrase upstream uses for an HTTP code, for errors whose body
/// was not a `Status`.
pub(crate) fn reason_for_code(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}
