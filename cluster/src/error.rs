//! Why a launcher operation failed, in words a user can act on. A
//! component that failed brings the end of its log along, so one message
//! says what went wrong without opening files.

use std::path::PathBuf;

/// Result of a launcher operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A launcher failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec asks for something impossible.
    #[error("{0}")]
    Invalid(String),
    /// The spec asks for something that is not built yet.
    #[error("{0}")]
    Unsupported(String),
    /// `up` found the cluster's processes running.
    #[error("cluster {name:?} is already running; tugctl cluster down --name {name}")]
    AlreadyRunning {
        /// The cluster.
        name: String,
    },
    /// No state file for the cluster.
    #[error("no cluster {name:?} (no {} found)", state_file.display())]
    NotFound {
        /// The cluster.
        name: String,
        /// Where its state would be.
        state_file: PathBuf,
    },
    /// A program the cluster needs is not installed or not built.
    #[error("cannot find {binary}: looked in {}{hint}", searched.join(", "))]
    BinaryNotFound {
        /// The program (`tug-scheduler`).
        binary: String,
        /// Where it was looked for.
        searched: Vec<String>,
        /// What to do about it.
        hint: String,
    },
    /// A component exited while the cluster was starting.
    #[error("{component} exited during start-up ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// The component.
        component: String,
        /// How it exited.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// The cluster did not become ready in time.
    #[error("{0}")]
    Timeout(String),
    /// No component of that id.
    #[error("no component {0:?} in this cluster")]
    UnknownComponent(String),
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file could not be read or written.
    #[error("{context}: {message}")]
    State {
        /// Which file.
        context: String,
        /// What is wrong with it.
        message: String,
    },
    /// Setting up or taking down the nodes' network failed.
    #[error("{0}")]
    Network(String),
    /// Talking to the apiserver failed.
    #[error(transparent)]
    Client(#[from] tug_client::Error),
}

/// Attach `context` to an I/O error.
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
