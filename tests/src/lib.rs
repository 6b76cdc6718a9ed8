//! Test harness: starts real binaries (etcd, the apiserver, ...) on free
//! loopback ports and cleans up after them.

pub mod apiserver;
pub mod bins;
pub mod etcd;
pub mod images;
pub mod net;
pub mod proxy;
pub mod registry;
