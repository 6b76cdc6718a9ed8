//! Test harness: starts real binaries (etcd, the apiserver, ...) on free
//! loopback ports and cleans up after them.

pub mod apiserver;
pub mod bins;
pub mod etcd;
pub mod host_state;
pub mod http;
pub mod images;
pub mod kubectl;
pub mod net;
pub mod netns;
pub mod prereq;
pub mod proxy;
pub mod python;
pub mod registry;
pub mod watched;
