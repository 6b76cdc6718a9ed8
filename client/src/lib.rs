//! `tug-client`: the typed REST client, informers, work queue and leader
//! election arrive with the Client issue. The crate exists now so the
//! workspace has its final shape; it re-exports the API types.

pub use tug_api as api;
