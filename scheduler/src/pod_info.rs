//! What the scheduler needs to know about a pod, computed once per pod
//! rather than once per node: its requests (as fitting counts them and as
//! scoring counts them), the host ports it binds, the group it spreads
//! with, and its priority.

use std::collections::BTreeMap;
use std::sync::Arc;

use tug_api::core::{pod_host_ports, pod_requests, Container, Pod, PodSpec};
use tug_api::quantity::Quantity;

/// CPU a container without a CPU request is counted as using when scores
/// compare nodes (upstream `DefaultMilliCPURequest`), so best-effort pods
/// still spread instead of piling onto one "empty" node.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory a container without a memory request is counted as using when
/// scoring (upstream `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// CPU (millicores) and memory (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
}

impl Resources {
    /// The sum of both.
    pub fn plus(self, o: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.saturating_add(o.milli_cpu),
            memory: self.memory.saturating_add(o.memory),
        }
    }

    /// The difference of both.
    pub fn minus(self, o: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.saturating_sub(o.milli_cpu),
            memory: self.memory.saturating_sub(o.memory),
        }
    }

    fn max(self, o: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.max(o.milli_cpu),
            memory: self.memory.max(o.memory),
        }
    }
}

/// A host port a pod binds: `(protocol, hostIP, port)`; an empty host IP
/// means every address (`0.0.0.0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The address, `0.0.0.0` for all.
    pub ip: String,
    /// The port number.
    pub port: i32,
}

/// A pod with what scheduling needs precomputed.
#[derive(Debug)]
pub struct PodInfo {
    /// The pod as last seen.
    pub pod: Arc<Pod>,
    /// `namespace/name`, the queue's key.
    pub key: String,
    /// The pod's UID (or its key when it has none): the cache's key, so a
    /// pod recreated under the same name is a different pod.
    pub uid: String,
    /// Requests as NodeResourcesFit counts them.
    pub requests: Resources,
    /// Requests with defaults for containers that set none, as
    /// LeastAllocated scoring counts them.
    pub non_zero_requests: Resources,
    /// Host ports the pod binds.
    pub host_ports: Vec<HostPort>,
    /// The group whose pods should spread over nodes, if any.
    pub spread_key: Option<String>,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
}

impl PodInfo {
    /// Precompute everything about `pod`.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let r = pod_requests(&pod.spec);
        let host_ports = pod_host_ports(&pod.spec)
            .into_iter()
            .map(|(protocol, ip, port)| HostPort {
                protocol,
                ip: if ip.is_empty() {
                    "0.0.0.0".to_string()
                } else {
                    ip
                },
                port,
            })
            .collect();
        let meta = &pod.metadata;
        PodInfo {
            uid: uid_of(&pod),
            key: format!("{}/{}", meta.namespace, meta.name),
            requests: Resources {
                milli_cpu: r.milli_cpu,
                memory: r.memory,
            },
            non_zero_requests: non_zero_requests(&pod.spec),
            host_ports,
            spread_key: spread_key(&pod),
            priority: pod.spec.priority.unwrap_or(0),
            pod,
        }
    }

    /// The pod's `namespace/name`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The key the cache files a pod under: its UID, or `namespace/name` for a
/// pod without one.
pub fn uid_of(pod: &Pod) -> String {
    if pod.metadata.uid.is_empty() {
        format!("{}/{}", pod.metadata.namespace, pod.metadata.name)
    } else {
        pod.metadata.uid.clone()
    }
}

/// The key of the group a pod spreads with (upstream's default topology
/// spreading selects pods by their controller's selector, or by the
/// Services selecting them): the controller owner's UID when the pod has
/// one, else its namespace and exact label set. A pod with neither has no
/// group.
pub fn spread_key(pod: &Pod) -> Option<String> {
    if let Some(owner) = pod.metadata.controller_ref() {
        return Some(format!("owner:{}", owner.uid));
    }
    if pod.metadata.labels.is_empty() {
        return None;
    }
    let labels: Vec<String> = pod
        .metadata
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(format!(
        "labels:{}/{}",
        pod.metadata.namespace,
        labels.join(",")
    ))
}

/// The pod's requests with a container's missing CPU or memory request
/// counted as the defaults above (upstream `GetNonzeroRequests` through
/// `PodRequests` with `NonMissingContainerRequests`): the same sum of app
/// containers and sidecars against the init container peak, plus overhead.
pub fn non_zero_requests(spec: &PodSpec) -> Resources {
    let apps = spec
        .containers
        .iter()
        .map(non_zero_container)
        .fold(Resources::default(), Resources::plus);
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in &spec.init_containers {
        let r = non_zero_container(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.plus(r);
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(sidecars.plus(r));
        }
    }
    apps.plus(sidecars)
        .max(init_peak)
        .plus(of_map(&spec.overhead))
}

fn non_zero_container(c: &Container) -> Resources {
    let requests = &c.resources.requests;
    Resources {
        milli_cpu: requests
            .get("cpu")
            .map_or(DEFAULT_MILLI_CPU_REQUEST, Quantity::milli_value),
        memory: requests
            .get("memory")
            .map_or(DEFAULT_MEMORY_REQUEST, Quantity::value),
    }
}

fn of_map(map: &BTreeMap<String, Quantity>) -> Resources {
    Resources {
        milli_cpu: map.get("cpu").map_or(0, Quantity::milli_value),
        memory: map.get("memory").map_or(0, Quantity::value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, pod};
    use tug_api::core::ContainerPort;
    use tug_api::OwnerReference;

    #[test]
    fn missing_requests_count_as_defaults_when_scoring_only() {
        let mut p = pod("a");
        p.spec.containers = vec![container("", ""), container("250m", "")];
        let info = PodInfo::new(Arc::new(p));
        assert_eq!(info.requests.milli_cpu, 250);
        assert_eq!(info.requests.memory, 0);
        assert_eq!(info.non_zero_requests.milli_cpu, 350);
        assert_eq!(info.non_zero_requests.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn host_ports_default_to_every_address() {
        let mut p = pod("a");
        p.spec.containers[0].ports.push(ContainerPort {
            container_port: 80,
            host_port: 8080,
            ..Default::default()
        });
        let info = PodInfo::new(Arc::new(p));
        assert_eq!(
            info.host_ports,
            vec![HostPort {
                protocol: "TCP".into(),
                ip: "0.0.0.0".into(),
                port: 8080
            }]
        );
    }

    #[test]
    fn pods_spread_by_controller_else_by_labels() {
        let mut owned = pod("a");
        owned.metadata.owner_references.push(OwnerReference {
            uid: "rs-1".into(),
            controller: Some(true),
            ..Default::default()
        });
        assert_eq!(spread_key(&owned).as_deref(), Some("owner:rs-1"));
        let mut labelled = pod("b");
        labelled.metadata.labels.insert("app".into(), "web".into());
        assert_eq!(
            spread_key(&labelled).as_deref(),
            Some("labels:default/app=web")
        );
        assert_eq!(spread_key(&pod("c")), None);
    }
}
