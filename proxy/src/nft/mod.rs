//! The nftables proxier: render the model into table `ip <name>` and
//! apply the difference from what is programmed as one `nft -f`
//! transaction.

pub mod exec;
pub mod render;
pub mod ruleset;
pub mod transaction;

use crate::model::{changed_ports, ProxyModel};
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
        let (script, outcome) = plan(
            self.applied.as_ref(),
            &self.applied_model,
            model,
            &self.config,
            full,
        );
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
        match outcome {
            Outcome::Replace(next) => self.applied = Some(next),
            Outcome::Splice(old, new) => {
                if let Some(applied) = self.applied.as_mut() {
                    applied.splice(&old, &new);
                }
            }
        }
        for (cluster_ip, node_port, endpoint) in removed_udp_endpoints(&self.applied_model, model) {
            exec::clear_udp_flows(cluster_ip, node_port, endpoint).await;
        }
        self.applied_model = model.clone();
        Ok(report)
    }
}

/// What the applied ruleset becomes once a transaction succeeds.
enum Outcome {
    /// The whole new ruleset (a full sync).
    Replace(Ruleset),
    /// The changed ports' old rendering replaced by their new one.
    Splice(Ruleset, Ruleset),
}

/// The transaction from `applied` (rendered from `applied_model`) to
/// `model`. A partial one renders and diffs only the service ports that
/// changed: at 10,000 endpoints that is the difference between a few
/// milliseconds and a few tens.
fn plan(
    applied: Option<&Ruleset>,
    applied_model: &ProxyModel,
    model: &ProxyModel,
    config: &RenderConfig,
    full: bool,
) -> (String, Outcome) {
    match applied {
        Some(_) if !full => {
            let (before, after) = changed_ports(applied_model, model);
            let (old, new) = (render(&before, config), render(&after, config));
            let script = transaction(Some(&old), &new, Mode::Partial);
            (script, Outcome::Splice(old, new))
        }
        _ => {
            let next = render(model, config);
            let script = transaction(applied, &next, Mode::Full);
            (script, Outcome::Replace(next))
        }
    }
}

/// Models and a configuration the nft modules' tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::net::Ipv4Addr;

    use crate::model::{Endpoint, Protocol, ProxyModel, ServicePort, ServicePortName};
    use crate::nft::render::RenderConfig;

    /// `services` TCP services `default/svc<i>` on port 80, each with
    /// `endpoints` distinct endpoints on 8080; no node ports, no affinity.
    pub(crate) fn big_model(services: usize, endpoints: usize) -> ProxyModel {
        let mut m = ProxyModel::default();
        for s in 0..services {
            let id = ServicePortName {
                namespace: "default".into(),
                name: format!("svc{s}"),
                port: 80,
                protocol: Protocol::Tcp,
            };
            let eps = (0..endpoints)
                .map(|e| Endpoint {
                    ip: Ipv4Addr::new(10, 244, (s / 200) as u8, (e + 10 * (s % 20)) as u8),
                    port: 8080,
                })
                .collect();
            m.ports.insert(
                id.clone(),
                ServicePort {
                    id,
                    port_name: String::new(),
                    cluster_ip: Ipv4Addr::new(10, 96, (s / 250) as u8, (s % 250) as u8 + 1),
                    node_port: None,
                    affinity_timeout: None,
                    endpoints: eps,
                },
            );
        }
        m
    }

    /// Table `ip t`, pod range 10.244.0.0/16.
    pub(crate) fn config() -> RenderConfig {
        RenderConfig {
            table: "t".into(),
            cluster_cidr: Some("10.244.0.0/16".parse().unwrap()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{big_model, config};
    use super::*;

    #[test]
    fn a_partial_plan_equals_diffing_the_full_renderings() {
        let config = config();
        let mut before = big_model(20, 4);
        for (i, port) in before.ports.values_mut().enumerate() {
            port.node_port = Some(30000 + i as u16);
            port.affinity_timeout = Some(60);
        }
        let mut after = before.clone();
        let mut ports = after.ports.values_mut();
        ports.next().unwrap().endpoints.pop(); // one endpoint fewer
        ports.next().unwrap().endpoints.clear(); // no endpoints
        let gone = after.ports.keys().nth(5).unwrap().clone();
        after.ports.remove(&gone); // a service deleted
        let applied = render(&before, &config);
        let (script, outcome) = plan(Some(&applied), &before, &after, &config, false);
        let full_next = render(&after, &config);
        assert_eq!(
            script,
            transaction(Some(&applied), &full_next, Mode::Partial)
        );
        let Outcome::Splice(old, new) = outcome else {
            panic!("a partial plan splices");
        };
        let mut spliced = applied.clone();
        spliced.splice(&old, &new);
        assert_eq!(spliced, full_next, "the applied ruleset stays exact");
    }
}
