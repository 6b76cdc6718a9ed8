//! One real node: the control plane and a `tug-kubelet --runtime runc`
//! started by the same launcher as `tugctl cluster up --runtime runc`,
//! running real containers (runc, a pause sandbox, CNI bridge networking)
//! from images pushed to a local registry (Debian's `docker-registry`) and
//! pulled by the kubelet. Needs root; without it every test says SKIP.
//!
//! Each test has its own cluster, bridge, pod range and registry, so the
//! tests run side by side and clean up after themselves.
//!
//! Run `cargo build --workspace --bins` first (scripts/test.sh does).

mod support;

mod images;
mod lifecycle;
mod logs;
mod networking;
mod probes;
mod restart;
mod termination;
