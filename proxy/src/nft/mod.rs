//! The nftables proxier: render the model into table `ip <name>` and
//! apply the difference from what is programmed as one `nft -f`
//! transaction.

pub mod exec;
pub mod render;
pub mod ruleset;
pub mod transaction;

use crate::model::ProxyModel;
use crate::nft::render::{removed_udp_endpoints, render, RenderConfig};
use crate::nft::ruleset::Ruleset;
use crate::nft::transaction::{parse_listing, transaction, Mode};
use crate::sync::SyncReport;

/// Keeps a node's nftables table in step with the model.
pub struct NftProxier {
    config: RenderConfig,
    /// What the kernel holds, as far as this process knows; `None` after
    /// an error or before the first sync (the table is then read back so a
    /// full sync can delete leftovers).
    applied: Option<Ruleset>,
    /// The model behind `applied` (to find removed UDP endpoints).
    applied_model: ProxyModel,
}

impl NftProxier {
    /// A proxier for `config.table`; it touches nothing until the first sync.
    pub fn new(config: RenderConfig) -> NftProxier {
        NftProxier {
            config,
            applied: None,
            applied_model: ProxyModel::default(),
        }
    }

    /// Program `model`: everything when `full` (or when the last sync
    /// failed), else only what changed; nothing at all when nothing did.
    pub async fn sync(&mut self, model: &ProxyModel, full: bool) -> anyhow::Result<SyncReport> {
        let full = full || self.applied.is_none();
        if !full && *model == self.applied_model {
            // Same model, same rules: skip rendering altogether.
            return Ok(SyncReport {
                full,
                applied: false,
                statements: 0,
            });
        }
        if self.applied.is_none() {
            self.applied = match exec::list_table(&self.config.table).await? {
                Some(listing) => Some(parse_listing(&self.config.table, &listing)),
                None => None,
            };
        }
        let next = render(model, &self.config);
        let mode = if full { Mode::Full } else { Mode::Partial };
        let script = transaction(self.applied.as_ref(), &next, mode);
        let report = SyncReport {
            full,
            applied: !script.is_empty(),
            statements: script.lines().count(),
        };
        if script.is_empty() {
            return Ok(report);
        }
        if let Err(e) = exec::apply(&script).await {
            // The transaction is atomic, but something other than us may
            // have changed the table: read it back and rewrite it all.
            self.applied = None;
            return Err(e);
        }
        for (cluster_ip, node_port, endpoint) in removed_udp_endpoints(&self.applied_model, model) {
            exec::clear_udp_flows(cluster_ip, node_port, endpoint).await;
        }
        self.applied = Some(next);
        self.applied_model = model.clone();
        Ok(report)
    }
}
