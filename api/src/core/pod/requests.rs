//! What a pod asks of its node: resource requests as the scheduler counts
//! them (`resourcehelper.PodRequests`) and the host ports it needs.

use std::collections::BTreeMap;

use super::{Container, PodSpec};
use crate::quantity::Quantity;

/// The resources a pod reserves on its node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
}

impl PodRequests {
    fn of(requests: &BTreeMap<String, Quantity>) -> PodRequests {
        PodRequests {
            milli_cpu: requests.get("cpu").map_or(0, Quantity::milli_value),
            memory: requests.get("memory").map_or(0, Quantity::value),
        }
    }

    fn of_container(c: &Container) -> PodRequests {
        PodRequests::of(&c.resources.requests)
    }

    fn add(self, o: PodRequests) -> PodRequests {
        PodRequests {
            milli_cpu: self.milli_cpu.saturating_add(o.milli_cpu),
            memory: self.memory.saturating_add(o.memory),
        }
    }

    fn max(self, o: PodRequests) -> PodRequests {
        PodRequests {
            milli_cpu: self.milli_cpu.max(o.milli_cpu),
            memory: self.memory.max(o.memory),
        }
    }
}

/// The pod's effective requests: the larger of the sum of its app (and
/// sidecar) containers and the largest ordinary init container, plus the
/// pod overhead, as Kubernetes computes them.
pub fn pod_requests(spec: &PodSpec) -> PodRequests {
    let mut apps = spec
        .containers
        .iter()
        .map(PodRequests::of_container)
        .fold(PodRequests::default(), PodRequests::add);
    let mut init_peak = PodRequests::default();
    // Sidecars (restartPolicy Always) keep running next to later init
    // containers and the app containers.
    let mut sidecars = PodRequests::default();
    for c in &spec.init_containers {
        let r = PodRequests::of_container(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.add(r);
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(sidecars.add(r));
        }
    }
    apps = apps.add(sidecars);
    apps.max(init_peak).add(PodRequests::of(&spec.overhead))
}

/// The `(protocol, hostIP, hostPort)` triples the pod binds on its node.
pub fn pod_host_ports(spec: &PodSpec) -> Vec<(String, String, i32)> {
    spec.containers
        .iter()
        .chain(&spec.init_containers)
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0)
        .map(|p| {
            let protocol = if p.protocol.is_empty() {
                "TCP"
            } else {
                &p.protocol
            };
            (protocol.to_string(), p.host_ip.clone(), p.host_port)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(cpu: &str, mem: &str) -> Container {
        let mut c = Container::default();
        c.resources
            .requests
            .insert("cpu".into(), Quantity(cpu.into()));
        c.resources
            .requests
            .insert("memory".into(), Quantity(mem.into()));
        c
    }

    #[test]
    fn requests_sum_apps_and_take_the_init_peak() {
        let mut spec = PodSpec {
            containers: vec![container("100m", "64Mi"), container("200m", "64Mi")],
            ..Default::default()
        };
        assert_eq!(
            pod_requests(&spec),
            PodRequests {
                milli_cpu: 300,
                memory: 128 << 20
            }
        );
        spec.init_containers.push(container("1", "1Mi"));
        assert_eq!(pod_requests(&spec).milli_cpu, 1000);
        assert_eq!(pod_requests(&spec).memory, 128 << 20);
    }
}
