//! `tugctl`: the kubectl-style command line for Tugboat.
//!
//! The library holds the parts of the CLI that need no connection to a
//! cluster, so they can be tested on their own:
//!
//! - [`manifest`]: reading `-f FILE|DIR|-` into objects that remember where
//!   they came from (file, document, list item), for error lines such as
//!   `manifests/web.yaml: document 2 (Deployment web): spec.replicas: ...`.
//! - [`printers`]: kubectl's output formats over JSON objects — the
//!   per-kind tables (and `-o wide`), `-o yaml|json|name|jsonpath=...`, and
//!   the rows `get -w` prints as objects change.
//!
//! and the verbs themselves:
//!
//! - [`cli`]: the command line's flags and subcommands (clap);
//! - [`commands`]: one module per verb, run against the API server.

pub mod cli;
pub mod commands;
pub mod manifest;
pub mod printers;
