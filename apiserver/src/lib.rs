//! `tug-apiserver` as a library: the binary's `main` is a thin wrapper so
//! tests and benchmarks can assemble a server or reach the storage
//! backends directly.

pub mod auth;
pub mod conn;
pub mod error;
pub mod flags;
pub mod http;
pub mod limits;
pub mod namespaces;
pub mod objects;
pub mod pki_files;
pub mod registry;
pub mod server;
pub mod services;
pub mod storage;
pub mod tls;
pub mod watch_cache;
