//! `deploy/` as the guide (deploy/README.md) uses it: `scripts/install.sh`
//! installs the binaries, units and example settings; `systemd-analyze
//! verify` accepts the installed units; and the units' own `ExecStart=`
//! command lines, expanded from an env file edited from
//! `tugboat.env.example`, bring up a working cluster: etcd and the control
//! plane on the host ("VM 1"), kubelet and proxy in network namespaces on
//! a bridge (the other VMs), `tugctl get nodes` shows them Ready, a
//! Deployment runs on them and its NodePort answers on every VM's address.
//!
//! The cluster test needs root, runc, the CNI plugins, nft, etcd and
//! busybox-static, and says SKIP without them. Run `cargo build
//! --workspace --bins` first (scripts/test.sh does).

mod support;
mod systemd;

mod guide;
mod install;
