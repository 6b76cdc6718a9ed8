//! One scheduling decision (upstream `schedulePod`): filter nodes until
//! enough feasible ones are found, score those, pick the best (ties broken
//! at random). Pure over the [`Cache`]: no I/O, no cloning of pods or
//! nodes, so a benchmark can drive it directly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cache::Cache;
use crate::framework::{Diagnosis, FitError, Profile};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// Below this many nodes every node is checked (upstream
/// `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (upstream
/// `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to look for among `all` before scoring
/// (upstream `numFeasibleNodesToFind`): every node below 100; else
/// `percentage` of them (0 = adaptive: `50 − all/125`, at least 5 %), and
/// never fewer than 100. 5000 nodes → 500.
pub fn num_feasible_nodes_to_find(percentage: u32, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut percent = percentage as usize;
    if percent == 0 {
        percent = 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    let n = all * percent.min(100) / 100;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Where a pod goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The chosen node.
    pub node: String,
    /// How many nodes were run through the filters.
    pub evaluated: usize,
    /// How many of those were feasible (and scored).
    pub feasible: usize,
}

/// The decision procedure, with its round-robin position and random
/// source.
pub struct Algorithm {
    profile: Profile,
    percentage_of_nodes_to_score: u32,
    /// Where the next scan starts, so that successive decisions on a large
    /// cluster look at different nodes.
    next_start: usize,
    rng: StdRng,
}

impl Algorithm {
    /// A decision procedure running `profile`; `percentage_of_nodes_to_score`
    /// as upstream's setting (0: adaptive).
    pub fn new(profile: Profile, percentage_of_nodes_to_score: u32) -> Algorithm {
        Algorithm {
            profile,
            percentage_of_nodes_to_score,
            next_start: 0,
            rng: StdRng::from_entropy(),
        }
    }

    /// The same with a fixed random seed (tests, benchmarks).
    pub fn with_seed(mut self, seed: u64) -> Algorithm {
        self.rng = StdRng::seed_from_u64(seed);
        self
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Choose a node for `pod` among `cache`'s nodes, or say why none fits.
    pub fn schedule(&mut self, cache: &Cache, pod: &PodInfo) -> Result<Placement, FitError> {
        let all = cache.node_count();
        let mut diagnosis = Diagnosis::default();
        if all == 0 {
            return Err(FitError {
                num_all_nodes: 0,
                diagnosis,
            });
        }
        let wanted = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, all);
        let start = self.next_start % all;
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(all));
        let mut evaluated = 0;
        for i in 0..all {
            let node = cache.node_at((start + i) % all);
            evaluated += 1;
            match self.profile.run_filters(pod, node) {
                Ok(()) => {
                    feasible.push(node);
                    if feasible.len() >= wanted {
                        break;
                    }
                }
                Err(unfit) => diagnosis.record(&unfit),
            }
        }
        self.next_start = (start + evaluated) % all;
        if feasible.is_empty() {
            return Err(FitError {
                num_all_nodes: all,
                diagnosis,
            });
        }
        let chosen = if feasible.len() == 1 {
            0
        } else {
            let scores = self.profile.run_scores(pod, &feasible);
            self.select_host(&scores)
        };
        Ok(Placement {
            node: feasible[chosen].name().to_string(),
            evaluated,
            feasible: feasible.len(),
        })
    }

    /// The index of a highest score, uniformly at random among ties
    /// (reservoir sampling, as upstream `selectHost`).
    fn select_host(&mut self, scores: &[i64]) -> usize {
        let mut best = 0;
        let mut ties = 1u32;
        for (i, &s) in scores.iter().enumerate().skip(1) {
            if s > scores[best] {
                best = i;
                ties = 1;
            } else if s == scores[best] {
                ties += 1;
                if self.rng.gen_range(0..ties) == 0 {
                    best = i;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod, pod_with};
    use tug_api::core::Pod;
    use tug_api::OwnerReference;

    fn cache_of(nodes: &[(&str, &str, &str)]) -> Cache {
        let mut cache = Cache::new();
        for (name, cpu, mem) in nodes {
            cache.set_node(Arc::new(node(name, cpu, mem, 110)));
        }
        cache
    }

    fn replica(i: usize, cpu: &str) -> Pod {
        let mut p = pod_with(&format!("web-{i}"), cpu, "");
        p.metadata.owner_references.push(OwnerReference {
            uid: "rs-web".into(),
            controller: Some(true),
            ..Default::default()
        });
        p
    }

    /// Schedule and assume each pod in turn; the node counts.
    fn place_all(alg: &mut Algorithm, cache: &mut Cache, pods: Vec<Pod>) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for p in pods {
            let info = Arc::new(PodInfo::new(Arc::new(p)));
            let placement = alg.schedule(cache, &info).expect("fits");
            cache.assume(info, &placement.node).unwrap();
            *counts.entry(placement.node).or_default() += 1;
        }
        counts
    }

    #[test]
    fn feasible_nodes_to_find_follows_upstream() {
        assert_eq!(num_feasible_nodes_to_find(0, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(0, 100), 100);
        // 500 nodes: 50 − 4 = 46 % → 230.
        assert_eq!(num_feasible_nodes_to_find(0, 500), 230);
        assert_eq!(num_feasible_nodes_to_find(0, 5000), 500);
        // The floor of 5 % and of 100 nodes.
        assert_eq!(num_feasible_nodes_to_find(0, 10000), 500);
        assert_eq!(num_feasible_nodes_to_find(10, 500), 100);
        assert_eq!(num_feasible_nodes_to_find(100, 500), 500);
    }

    #[test]
    fn replicas_of_one_owner_spread_evenly() {
        let mut cache = cache_of(&[("n1", "4", "8Gi"), ("n2", "4", "8Gi"), ("n3", "4", "8Gi")]);
        let mut alg = Algorithm::new(Profile::default(), 0).with_seed(7);
        let counts = place_all(
            &mut alg,
            &mut cache,
            (0..9).map(|i| replica(i, "")).collect(),
        );
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![3, 3, 3]);
    }

    #[test]
    fn resources_are_never_overbooked() {
        let mut cache = cache_of(&[("n1", "2", "8Gi"), ("n2", "1", "8Gi")]);
        let mut alg = Algorithm::new(Profile::default(), 0).with_seed(1);
        let counts = place_all(
            &mut alg,
            &mut cache,
            (0..3).map(|i| replica(i, "1")).collect(),
        );
        assert_eq!(counts["n1"], 2);
        assert_eq!(counts["n2"], 1);
        let info = PodInfo::new(Arc::new(replica(9, "1")));
        let err = alg.schedule(&cache, &info).unwrap_err();
        assert_eq!(
            err.to_string(),
            "0/2 nodes are available: 2 Insufficient cpu."
        );
    }

    #[test]
    fn the_emptier_node_wins_for_unrelated_pods() {
        let mut cache = cache_of(&[("busy", "4", "8Gi"), ("idle", "4", "8Gi")]);
        let hog = Arc::new(PodInfo::new(Arc::new(pod_with("hog", "3", "6Gi"))));
        cache.assume(hog, "busy").unwrap();
        let mut alg = Algorithm::new(Profile::default(), 0).with_seed(3);
        for i in 0..5 {
            let p = PodInfo::new(Arc::new(pod_with(&format!("p{i}"), "100m", "100Mi")));
            assert_eq!(alg.schedule(&cache, &p).unwrap().node, "idle");
        }
    }

    #[test]
    fn every_node_reports_its_reason() {
        let mut cache = cache_of(&[("n1", "1", "1Gi"), ("n2", "1", "1Gi"), ("n3", "8", "8Gi")]);
        let mut cordoned = node("n3", "8", "8Gi", 110);
        cordoned.spec.unschedulable = true;
        cache.set_node(Arc::new(cordoned));
        let mut alg = Algorithm::new(Profile::default(), 0);
        let info = PodInfo::new(Arc::new(pod_with("big", "2", "")));
        assert_eq!(
            alg.schedule(&cache, &info).unwrap_err().to_string(),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
        );
        let none = Cache::new();
        assert_eq!(
            alg.schedule(&none, &info).unwrap_err().to_string(),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn large_clusters_scan_part_of_the_nodes_round_robin() {
        let mut cache = Cache::new();
        for i in 0..500 {
            cache.set_node(Arc::new(node(&format!("n{i:03}"), "4", "8Gi", 110)));
        }
        let mut alg = Algorithm::new(Profile::default(), 0);
        let info = PodInfo::new(Arc::new(pod("p")));
        let first = alg.schedule(&cache, &info).unwrap();
        assert_eq!(first.evaluated, 230);
        assert_eq!(first.feasible, 230);
        assert_eq!(alg.next_start, 230);
        alg.schedule(&cache, &info).unwrap();
        assert_eq!(alg.next_start, 460);
    }

    #[test]
    fn ties_are_broken_at_random() {
        let cache = cache_of(&[("n1", "4", "8Gi"), ("n2", "4", "8Gi"), ("n3", "4", "8Gi")]);
        let mut alg = Algorithm::new(Profile::default(), 0).with_seed(11);
        let info = PodInfo::new(Arc::new(pod("p")));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..60 {
            seen.insert(alg.schedule(&cache, &info).unwrap().node);
        }
        assert_eq!(
            seen.len(),
            3,
            "every equally good node gets chosen: {seen:?}"
        );
    }
}
