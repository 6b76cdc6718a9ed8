//! Pod networking on a node: a pinned network namespace per pod
//! sandbox ([`netns`]), the standard CNI plugins called with the CNI
//! protocol ([`cni`]: bridge `tug0` + host-local + loopback + portmap),
//! and the host-gw routes to the other nodes' pod CIDRs ([`routes`]).

pub mod cni;
pub mod netns;
pub mod routes;
