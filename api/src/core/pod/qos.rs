//! Pod quality-of-service class (`GetPodQOS` upstream).

use std::collections::BTreeMap;

use super::spec::PodSpec;
use crate::quantity::{ParsedQuantity, Quantity};

/// `Guaranteed`, `Burstable` or `BestEffort`.
///
/// Only `cpu` and `memory` count. Guaranteed: every container limits both,
/// and the pod's summed requests equal its summed limits. BestEffort: no
/// container requests or limits anything. A missing request counts as its
/// limit, as the Pod defaulter makes it, so the answer does not depend on
/// whether defaults were applied first.
pub fn pod_qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, ParsedQuantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, ParsedQuantity> = BTreeMap::new();
    let mut guaranteed = true;
    for c in spec.init_containers.iter().chain(&spec.containers) {
        let res = &c.resources;
        let effective_requests = res.requests.iter().chain(
            res.limits
                .iter()
                .filter(|(k, _)| !res.requests.contains_key(*k)),
        );
        for (name, q) in effective_requests {
            add_positive(&mut requests, name, q);
        }
        let mut limited = Vec::new();
        for (name, q) in &res.limits {
            if add_positive(&mut limits, name, q) {
                limited.push(name.as_str());
            }
        }
        if !(limited.contains(&"cpu") && limited.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// Add a positive cpu/memory quantity to `sums`; true when it counted.
fn add_positive<'a>(
    sums: &mut BTreeMap<&'a str, ParsedQuantity>,
    name: &'a str,
    q: &Quantity,
) -> bool {
    if name != "cpu" && name != "memory" {
        return false;
    }
    let Ok(v) = q.parsed() else { return false };
    if v.nanos() <= 0 {
        return false;
    }
    let sum = sums.entry(name).or_default();
    *sum = sum.checked_add(v).unwrap_or(*sum);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pod::fixtures::pod_from_yaml;

    fn qos(containers: &str) -> &'static str {
        let pod = pod_from_yaml(&format!(
            "metadata: {{name: p, namespace: default}}\nspec:\n  containers:\n{containers}"
        ));
        pod_qos_class(&pod.spec)
    }

    #[test]
    fn classes() {
        assert_eq!(qos("  - {name: a, image: x}\n"), "BestEffort");
        assert_eq!(
            qos("  - {name: a, image: x, resources: {requests: {cpu: 100m}}}\n"),
            "Burstable"
        );
        assert_eq!(
            qos("  - {name: a, image: x, resources: {limits: {cpu: 500m, memory: 256Mi}}}\n"),
            "Guaranteed",
            "requests default to limits"
        );
        assert_eq!(
            qos("  - {name: a, image: x, resources: {limits: {cpu: \"1\", memory: 1Gi}, requests: {cpu: 1000m, memory: 1024Mi}}}\n"),
            "Guaranteed",
            "equal by value, not by spelling"
        );
        assert_eq!(
            qos("  - {name: a, image: x, resources: {limits: {cpu: \"1\", memory: 1Gi}, requests: {cpu: 500m}}}\n"),
            "Burstable"
        );
        assert_eq!(
            qos("  - {name: a, image: x, resources: {limits: {cpu: \"1\", memory: 1Gi}}}\n  - {name: b, image: y}\n"),
            "Burstable",
            "every container must be limited"
        );
        assert_eq!(
            qos("  - {name: a, image: x, resources: {limits: {ephemeral-storage: 1Gi}}}\n"),
            "BestEffort",
            "only cpu and memory count"
        );
    }

    #[test]
    fn independent_of_defaulting() {
        let mut spec = pod_from_yaml(
            "metadata: {name: p, namespace: default}\nspec:\n  containers:\n  - {name: a, image: x, resources: {limits: {cpu: 500m, memory: 256Mi}}}\n",
        )
        .spec;
        spec.containers[0].resources.requests.clear();
        assert_eq!(pod_qos_class(&spec), "Guaranteed");
    }
}
