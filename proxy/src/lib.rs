//! `tug-proxy`: the node component that makes Services work, as
//! Kubernetes' kube-proxy in nftables mode.
//!
//! - [`sync`] watches Services and Endpoints and, rate-limited, rebuilds
//!   the [`model`] (every service port with its ready endpoints);
//! - [`nft`] renders the model into table `ip <name>` ([`nft::render`],
//!   pure), diffs it against what is programmed ([`nft::transaction`],
//!   pure) and applies the difference as one `nft -f` transaction;
//! - [`userspace`] is the fallback for machines without nftables;
//! - [`server`] serves `/healthz` and `/metrics` from [`metrics`];
//! - [`sysctl`] sets the node's forwarding settings.
//!
//! When a UDP endpoint goes away its conntrack entries are deleted, so
//! clients' flows move to a live endpoint; TCP connections are left alone
//! on purpose, so a terminating pod finishes its in-flight requests
//! (graceful termination), as kube-proxy does. The rules stay when the
//! proxy exits (SIGTERM), so traffic keeps flowing across a restart;
//! `tug-proxy cleanup` removes them.

#![warn(missing_docs)]

pub mod flags;
pub mod metrics;
pub mod model;
pub mod nft;
pub mod server;
pub mod sync;
pub mod sysctl;
pub mod userspace;

/// `tug-proxy cleanup`: delete table `ip <table>` and any ClusterIPs a
/// userspace proxy left on `lo`. Nothing to delete is not an error.
pub async fn cleanup(table: &str) -> anyhow::Result<()> {
    match nft::exec::delete_table(table).await {
        Ok(true) => tracing::info!(table, "deleted the nftables table"),
        Ok(false) => tracing::info!(table, "no nftables table to delete"),
        // Without nft there is no table: only the userspace state matters.
        Err(e) if nft_missing(&e) => tracing::debug!(error = %e, "nft not installed"),
        Err(e) => return Err(e),
    }
    let removed = userspace::remove_lo_addresses().await.unwrap_or(0);
    if removed > 0 {
        tracing::info!(removed, "removed userspace ClusterIPs from lo");
    }
    Ok(())
}

/// Whether `e` is the `nft` command not being there to run.
fn nft_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[test]
    fn a_missing_nft_is_told_from_other_failures() {
        let missing = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound))
            .context("running nft list table")
            .unwrap_err();
        assert!(super::nft_missing(&missing));
        let failed = anyhow::anyhow!("nft list table ip t: Operation not permitted");
        assert!(!super::nft_missing(&failed));
    }
}
