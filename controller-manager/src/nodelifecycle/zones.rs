//! Zones and disruption, as upstream's `handleDisruption`: how fast nodes
//! of a zone may be tainted `NoExecute` (and so have their pods evicted)
//! depends on how much of the zone is unhealthy.
//!
//! - **Normal**: `--node-eviction-rate` nodes per second (0.1).
//! - **Partial disruption** (at least `--unhealthy-zone-threshold` of the
//!   zone and more than two nodes not ready): `--secondary-node-eviction-rate`
//!   in zones bigger than `--large-cluster-size-threshold`, else none —
//!   when much of a zone fails at once, evicting everything makes it
//!   worse.
//! - **Full disruption** (no node ready): the normal rate, *unless every
//!   zone is fully disrupted*: then the problem is most likely the control
//!   plane's own network, so all evictions stop and the controller takes
//!   its NoExecute taints off every node until some node is ready again.

use std::collections::{BTreeMap, HashMap};

use tug_api::core::Node;

/// Labels naming a node's zone (the current ones, then the deprecated).
const REGION_LABELS: [&str; 2] = [
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/region",
];
const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
/// Nodes with this label never count towards a zone's health.
const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";

/// The health of one zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Seen for the first time.
    Initial,
    /// Few nodes unhealthy.
    Normal,
    /// Many nodes unhealthy.
    PartialDisruption,
    /// No node ready.
    FullDisruption,
}

/// The key of a node's zone (`region:\0:zone`, empty without labels).
pub fn zone_key(node: &Node) -> String {
    let find = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| node.metadata.labels.get(*k))
            .cloned()
            .unwrap_or_default()
    };
    let (region, zone) = (find(&REGION_LABELS), find(&ZONE_LABELS));
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\0:{zone}")
    }
}

/// Whether the node is left out of zone health.
pub fn excluded_from_disruption(node: &Node) -> bool {
    node.metadata.labels.contains_key(EXCLUDE_DISRUPTION_LABEL)
}

/// The eviction rate settings.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// Nodes per second in a healthy zone.
    pub eviction_qps: f64,
    /// Nodes per second in a large, partially disrupted zone.
    pub secondary_qps: f64,
    /// Zones with more nodes than this are "large".
    pub large_cluster_threshold: usize,
    /// Share of not-ready nodes that makes a zone partially disrupted.
    pub unhealthy_threshold: f64,
}

impl Rates {
    /// Upstream `ComputeZoneState`: how many nodes are not ready, and the
    /// state that makes. `None` (never reported) counts as not ready.
    pub fn zone_state(&self, ready: &[Option<String>]) -> (usize, ZoneState) {
        let ready_nodes = ready
            .iter()
            .filter(|r| r.as_deref() == Some("True"))
            .count();
        let not_ready = ready.len() - ready_nodes;
        let state = if ready_nodes == 0 && not_ready > 0 {
            ZoneState::FullDisruption
        } else if not_ready > 2
            && not_ready as f64 / (not_ready + ready_nodes) as f64 >= self.unhealthy_threshold
        {
            ZoneState::PartialDisruption
        } else {
            ZoneState::Normal
        };
        (not_ready, state)
    }

    /// The tainting rate of a zone of `size` nodes in `state`.
    pub fn qps(&self, state: ZoneState, size: usize) -> f64 {
        match state {
            ZoneState::PartialDisruption if size > self.large_cluster_threshold => {
                self.secondary_qps
            }
            ZoneState::PartialDisruption => 0.0,
            ZoneState::Initial | ZoneState::Normal | ZoneState::FullDisruption => self.eviction_qps,
        }
    }
}

/// What a pass over the zones asks the controller to do.
#[derive(Clone, Debug, PartialEq)]
pub enum DisruptionChange {
    /// Set these zones' tainting rates.
    Rates(BTreeMap<String, f64>),
    /// Every zone is fully disrupted: remove the NoExecute taints from
    /// every node and stop tainting (all rates zero).
    EnterFullDisruption(Vec<String>),
    /// Some node is ready again after a full disruption: restart every
    /// node's grace period now, and set these rates.
    ExitFullDisruption(BTreeMap<String, f64>),
}

/// The zone states between passes.
#[derive(Debug, Default)]
pub struct Disruption {
    states: HashMap<String, ZoneState>,
}

impl Disruption {
    /// Take a pass's Ready statuses per zone; what to change.
    pub fn update(
        &mut self,
        rates: &Rates,
        zones: &HashMap<String, Vec<Option<String>>>,
    ) -> DisruptionChange {
        let mut new_states = HashMap::new();
        let mut all_fully = true;
        for (zone, ready) in zones {
            let (_, state) = rates.zone_state(ready);
            if state != ZoneState::FullDisruption {
                all_fully = false;
            }
            new_states.insert(zone.clone(), state);
            self.states
                .entry(zone.clone())
                .or_insert(ZoneState::Initial);
        }
        self.states.retain(|zone, _| zones.contains_key(zone));
        let all_were_fully = self
            .states
            .values()
            .all(|s| *s == ZoneState::FullDisruption);
        let mut rates_out = BTreeMap::new();
        if all_fully && all_were_fully {
            // Still fully disrupted everywhere: nothing changes.
            return DisruptionChange::Rates(rates_out);
        }
        if all_fully {
            let zones: Vec<String> = self.states.keys().cloned().collect();
            for state in self.states.values_mut() {
                *state = ZoneState::FullDisruption;
            }
            let mut zones = zones;
            zones.sort();
            return DisruptionChange::EnterFullDisruption(zones);
        }
        for (zone, state) in self.states.iter_mut() {
            let new = new_states[zone];
            if all_were_fully || *state != new {
                rates_out.insert(zone.clone(), rates.qps(new, zones[zone].len()));
                *state = new;
            }
        }
        if all_were_fully {
            DisruptionChange::ExitFullDisruption(rates_out)
        } else {
            DisruptionChange::Rates(rates_out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: Rates = Rates {
        eviction_qps: 0.1,
        secondary_qps: 0.01,
        large_cluster_threshold: 50,
        unhealthy_threshold: 0.55,
    };

    fn statuses(ready: usize, not_ready: usize) -> Vec<Option<String>> {
        let mut v = vec![Some("True".to_string()); ready];
        v.extend(vec![Some("Unknown".to_string()); not_ready]);
        v
    }

    #[test]
    fn zone_states_follow_the_share_of_unhealthy_nodes() {
        assert_eq!(RATES.zone_state(&statuses(3, 0)), (0, ZoneState::Normal));
        assert_eq!(RATES.zone_state(&statuses(2, 1)), (1, ZoneState::Normal));
        // Two of three unhealthy is not enough: more than two are needed.
        assert_eq!(RATES.zone_state(&statuses(1, 2)), (2, ZoneState::Normal));
        assert_eq!(
            RATES.zone_state(&statuses(2, 3)),
            (3, ZoneState::PartialDisruption)
        );
        assert_eq!(RATES.zone_state(&statuses(3, 3)), (3, ZoneState::Normal));
        assert_eq!(
            RATES.zone_state(&statuses(0, 1)),
            (1, ZoneState::FullDisruption)
        );
        assert_eq!(RATES.zone_state(&[None, Some("True".into())]).0, 1);
    }

    #[test]
    fn partial_disruption_slows_or_stops_tainting() {
        assert_eq!(RATES.qps(ZoneState::Normal, 10), 0.1);
        assert_eq!(RATES.qps(ZoneState::PartialDisruption, 10), 0.0);
        assert_eq!(RATES.qps(ZoneState::PartialDisruption, 100), 0.01);
        assert_eq!(RATES.qps(ZoneState::FullDisruption, 10), 0.1);
    }

    #[test]
    fn all_zones_down_stops_evictions_until_one_node_is_back() {
        let mut d = Disruption::default();
        let zones = |a: (usize, usize), b: (usize, usize)| {
            HashMap::from([
                ("a".to_string(), statuses(a.0, a.1)),
                ("b".to_string(), statuses(b.0, b.1)),
            ])
        };
        assert_eq!(
            d.update(&RATES, &zones((3, 0), (3, 0))),
            DisruptionChange::Rates(BTreeMap::from([("a".into(), 0.1), ("b".into(), 0.1)]))
        );
        // One zone fully down, the other fine: that zone is evicted normally.
        assert_eq!(
            d.update(&RATES, &zones((0, 3), (3, 0))),
            DisruptionChange::Rates(BTreeMap::from([("a".into(), 0.1)]))
        );
        assert_eq!(
            d.update(&RATES, &zones((0, 3), (0, 3))),
            DisruptionChange::EnterFullDisruption(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            d.update(&RATES, &zones((0, 3), (0, 3))),
            DisruptionChange::Rates(BTreeMap::new())
        );
        assert_eq!(
            d.update(&RATES, &zones((1, 2), (0, 3))),
            DisruptionChange::ExitFullDisruption(BTreeMap::from([
                ("a".into(), 0.1),
                ("b".into(), 0.1)
            ]))
        );
    }

    #[test]
    fn zone_keys_come_from_topology_labels() {
        let mut n = Node::default();
        assert_eq!(zone_key(&n), "");
        n.metadata
            .labels
            .insert("topology.kubernetes.io/zone".into(), "z1".into());
        assert_eq!(zone_key(&n), ":\0:z1");
        n.metadata
            .labels
            .insert(EXCLUDE_DISRUPTION_LABEL.into(), String::new());
        assert!(excluded_from_disruption(&n));
    }
}
