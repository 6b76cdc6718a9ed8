//! Test harness: starts real binaries (etcd, the apiserver, ...) on free
//! loopback ports and cleans up after them.

pub mod etcd;
