//! How problems reach the user: one readable line each on stderr, in
//! kubectl's words, and a non-zero exit.
//!
//! - an API error: `Error from server (NotFound): deployments.apps "x" not found`;
//! - a validation error: `The Deployment "x" is invalid: spec.replicas: ...`,
//!   or, for an object read from a manifest, the manifest's origin and the
//!   field causes: `manifests/web.yaml: document 2 (Deployment web): spec.replicas: ...`;
//! - no server: `The connection to the server 127.0.0.1:8080 was refused - ...`
//!   with how to start one;
//! - anything else: `error: ...`.

use std::fmt;

use tug_client::Error as ClientError;

/// Result of a command.
pub type Result<T, E = CtlError> = std::result::Result<T, E>;

/// Why a command failed.
#[derive(Debug)]
pub enum CtlError {
    /// A client or server error, worded by [`client_error_line`].
    Client(ClientError),
    /// A usage or state problem, printed as `error: {0}`.
    Usage(String),
    /// Problems already printed one by one (a command that carries on
    /// past a bad object); only the exit code is left to set.
    Reported,
}

impl From<ClientError> for CtlError {
    fn from(e: ClientError) -> Self {
        CtlError::Client(e)
    }
}

impl CtlError {
    /// The line to print, if it was not printed already.
    pub fn line(&self) -> Option<String> {
        match self {
            CtlError::Client(e) => Some(client_error_line(e)),
            CtlError::Usage(m) => Some(format!("error: {m}")),
            CtlError::Reported => None,
        }
    }

    /// Whether no server could be reached (or not trusted): nothing else
    /// will work either, so commands working through many objects stop
    /// at once.
    pub fn is_transport(&self) -> bool {
        matches!(self, CtlError::Client(e) if e.is_transport() || matches!(e, ClientError::Tls { .. }))
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line().unwrap_or_default())
    }
}

/// `error: {message}` as a [`CtlError`].
pub fn usage(message: impl fmt::Display) -> CtlError {
    CtlError::Usage(message.to_string())
}

/// A client error in kubectl's words.
pub fn client_error_line(e: &ClientError) -> String {
    match e {
        ClientError::Api(status) | ClientError::Gone(status) => {
            if status.code == 422 {
                if let Some(details) = &status.details {
                    if !details.causes.is_empty() {
                        return format!(
                            "The {} \"{}\" is invalid: {}",
                            details.kind,
                            details.name,
                            causes_line(e).unwrap_or_default()
                        );
                    }
                }
            }
            let reason = if status.reason.is_empty() {
                "Unknown"
            } else {
                status.reason.as_str()
            };
            format!("Error from server ({reason}): {e}")
        }
        ClientError::Connect { url, source } => connect_line(url, source),
        ClientError::UnknownResource(_) => format!("error: {e}"),
        other => format!("error: {other}"),
    }
}

/// The field causes of a 422 Invalid, `field: message` joined by `; `
/// (`spec.replicas: Invalid value: -1: must be greater than or equal to 0`).
pub fn causes_line(e: &ClientError) -> Option<String> {
    let status = e.status().filter(|s| s.code == 422)?;
    let causes = &status.details.as_ref()?.causes;
    if causes.is_empty() {
        return None;
    }
    let parts: Vec<String> = causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    Some(parts.join("; "))
}

/// The problem with one object read from a manifest, without the origin
/// the caller puts in front: the field causes for a validation error, the
/// kubectl line otherwise.
pub fn object_problem(e: &CtlError) -> String {
    match e {
        CtlError::Client(c) => causes_line(c).unwrap_or_else(|| match c {
            ClientError::Api(_) | ClientError::Gone(_) | ClientError::Connect { .. } => {
                client_error_line(c)
            }
            other => other.to_string(),
        }),
        CtlError::Usage(m) => m.clone(),
        CtlError::Reported => String::new(),
    }
}

/// kubectl's line for a server that cannot be reached, plus how to start one.
fn connect_line(url: &str, source: &(dyn std::error::Error + 'static)) -> String {
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .trim_end_matches('/');
    let port = host.rsplit_once(':').map(|(_, p)| p).unwrap_or("8080");
    if is_refused(source) {
        format!(
            "The connection to the server {host} was refused - did you specify the right host or port? \
             Start one with: tugctl cluster up, or tug-apiserver --insecure-port {port}"
        )
    } else {
        format!(
            "Unable to connect to the server {host}: {}",
            root_cause(source)
        )
    }
}

/// Whether an error chain ends in "connection refused".
fn is_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = err.source();
    }
    root_cause(e).to_lowercase().contains("connection refused")
}

/// The innermost message of an error chain.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Problems met by a command that carries on past them: each is printed
/// on stderr as it happens; [`Problems::finish`] turns any into a
/// non-zero exit.
#[derive(Debug, Default)]
pub struct Problems {
    count: usize,
}

impl Problems {
    /// Print one problem line.
    pub fn report(&mut self, line: impl fmt::Display) {
        eprintln!("{line}");
        self.count += 1;
    }

    /// Print a command error (if it has a line left to print).
    pub fn report_error(&mut self, e: &CtlError) {
        match e.line() {
            Some(line) => self.report(line),
            None => self.count += 1,
        }
    }

    /// Whether any problem was reported.
    pub fn any(&self) -> bool {
        self.count > 0
    }

    /// `Err(Reported)` when there were problems.
    pub fn finish(self) -> Result<()> {
        if self.any() {
            Err(CtlError::Reported)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::status::{StatusCause, StatusDetails};
    use tug_api::Status;

    #[test]
    fn api_errors_read_as_kubectl_prints_them() {
        let not_found = ClientError::Api(Box::new(Status::failure(
            404,
            "NotFound",
            "deployments.apps \"x\" not found",
        )));
        assert_eq!(
            client_error_line(&not_found),
            "Error from server (NotFound): deployments.apps \"x\" not found"
        );
        let invalid = ClientError::Api(Box::new(
            Status::failure(422, "Invalid", "Deployment.apps \"x\" is invalid: ...").with_details(
                StatusDetails {
                    name: "x".into(),
                    kind: "Deployment".into(),
                    causes: vec![
                        StatusCause {
                            field: "spec.replicas".into(),
                            message: "Invalid value: -1: must be greater than or equal to 0".into(),
                            reason: "FieldValueInvalid".into(),
                        },
                        StatusCause {
                            field: "spec.selector".into(),
                            message: "Required value".into(),
                            reason: "FieldValueRequired".into(),
                        },
                    ],
                    ..Default::default()
                },
            ),
        ));
        assert_eq!(
            client_error_line(&invalid),
            "The Deployment \"x\" is invalid: spec.replicas: Invalid value: -1: must be greater \
             than or equal to 0; spec.selector: Required value"
        );
        assert_eq!(
            object_problem(&CtlError::Client(invalid)),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0; \
             spec.selector: Required value"
        );
        assert_eq!(
            client_error_line(&ClientError::UnknownResource("foo".into())),
            "error: the server doesn't have a resource type \"foo\""
        );
    }
}
