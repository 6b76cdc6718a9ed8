//! The proxy's plain model of what to program: one [`ServicePort`] per
//! port of every Service that has a virtual IP, with the ready endpoints
//! its Endpoints object lists for that port.
//!
//! Built from the informer caches on every sync ([`build`]); the nftables
//! renderer and the userspace proxier both consume it, so the Kubernetes
//! semantics (which services count, which addresses are ready, how a port
//! name picks the endpoint port) live here once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use tug_api::core::{Endpoints, Service, DEFAULT_CLIENT_IP_TIMEOUT_SECONDS};

/// A transport protocol a Service port can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// `TCP` (the default).
    Tcp,
    /// `UDP`.
    Udp,
    /// `SCTP`.
    Sctp,
}

impl Protocol {
    /// The API spelling (`TCP`, empty meaning TCP); `None` for anything else.
    pub fn parse(api: &str) -> Option<Protocol> {
        match api {
            "" | "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The lower-case name nft and chain names use (`tcp`).
    pub fn nft(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Which port of which Service: the identity every rule hangs off.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The port's number on the ClusterIP.
    pub port: u16,
    /// The port's protocol.
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    /// `ns/name/tcp/80`: the readable part of chain names and log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.namespace,
            self.name,
            self.protocol.nft(),
            self.port
        )
    }
}

/// A ready backend of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The pod's IP.
    pub ip: Ipv4Addr,
    /// The port the pod listens on.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// One Service port as the proxy programs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Which service port this is.
    pub id: ServicePortName,
    /// The port's name in the Service (matches the Endpoints port name).
    pub port_name: String,
    /// The virtual IP.
    pub cluster_ip: Ipv4Addr,
    /// The port on every node, for NodePort and LoadBalancer services.
    pub node_port: Option<u16>,
    /// `sessionAffinity: ClientIP`: how long a client sticks to its
    /// endpoint, in seconds.
    pub affinity_timeout: Option<u32>,
    /// The ready endpoints, sorted, without duplicates.
    pub endpoints: Vec<Endpoint>,
}

/// Every programmed service port, by identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyModel {
    /// The service ports, sorted by identity.
    pub ports: BTreeMap<ServicePortName, ServicePort>,
}

impl ProxyModel {
    /// How many distinct Services the model holds.
    pub fn service_count(&self) -> usize {
        let mut last: Option<(&str, &str)> = None;
        let mut n = 0;
        for id in self.ports.keys() {
            let key = (id.namespace.as_str(), id.name.as_str());
            if last != Some(key) {
                n += 1;
                last = Some(key);
            }
        }
        n
    }

    /// How many endpoints over all service ports.
    pub fn endpoint_count(&self) -> usize {
        self.ports.values().map(|p| p.endpoints.len()).sum()
    }
}

/// The service ports that differ between `old` and `new`, as two small
/// models (their state in `old`, their state in `new`): rendering just
/// these and diffing the renderings gives a partial sync's transaction.
pub fn changed_ports(old: &ProxyModel, new: &ProxyModel) -> (ProxyModel, ProxyModel) {
    let mut before = ProxyModel::default();
    let mut after = ProxyModel::default();
    let keys = old.ports.keys().chain(new.ports.keys());
    for id in keys {
        let (a, b) = (old.ports.get(id), new.ports.get(id));
        if a == b || before.ports.contains_key(id) || after.ports.contains_key(id) {
            continue;
        }
        if let Some(a) = a {
            before.ports.insert(id.clone(), a.clone());
        }
        if let Some(b) = b {
            after.ports.insert(id.clone(), b.clone());
        }
    }
    (before, after)
}

/// The model of `services`, each with the Endpoints object of the same
/// namespace and name that `endpoints_of` returns.
///
/// Skipped, as kube-proxy does: headless services (`clusterIP: None`),
/// ExternalName services, services without an IPv4 ClusterIP yet, and
/// ports with a protocol the proxy does not know. Only `addresses` count
/// as endpoints (`notReadyAddresses` never receive traffic).
pub fn build<'a, S, F>(services: S, endpoints_of: F) -> ProxyModel
where
    S: IntoIterator<Item = &'a Service>,
    F: Fn(&str, &str) -> Option<std::sync::Arc<Endpoints>>,
{
    let mut model = ProxyModel::default();
    for svc in services {
        let spec = &svc.spec;
        if spec.type_ == "ExternalName" || spec.is_headless() {
            continue;
        }
        let Ok(cluster_ip) = spec.cluster_ip.parse::<Ipv4Addr>() else {
            continue;
        };
        let affinity_timeout = (spec.session_affinity == "ClientIP").then(|| {
            let t = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS);
            t.max(1) as u32
        });
        let eps = endpoints_of(&svc.metadata.namespace, &svc.metadata.name);
        for port in &spec.ports {
            let (Some(protocol), Ok(number)) =
                (Protocol::parse(&port.protocol), u16::try_from(port.port))
            else {
                continue;
            };
            let id = ServicePortName {
                namespace: svc.metadata.namespace.clone(),
                name: svc.metadata.name.clone(),
                port: number,
                protocol,
            };
            let node_port = (spec.needs_node_ports() && port.node_port > 0)
                .then(|| u16::try_from(port.node_port).ok())
                .flatten();
            let endpoints = eps
                .as_deref()
                .map(|e| ready_endpoints(e, &port.name, protocol))
                .unwrap_or_default();
            model.ports.insert(
                id.clone(),
                ServicePort {
                    id,
                    port_name: port.name.clone(),
                    cluster_ip,
                    node_port,
                    affinity_timeout,
                    endpoints,
                },
            );
        }
    }
    model
}

/// The ready `ip:port`s of `endpoints` for the service port named
/// `port_name`: in every subset, the port of that name and protocol
/// (an unnamed service port matches the unnamed endpoint port), paired
/// with each of the subset's ready addresses.
pub fn ready_endpoints(
    endpoints: &Endpoints,
    port_name: &str,
    protocol: Protocol,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for subset in &endpoints.subsets {
        let Some(port) = subset
            .ports
            .iter()
            .find(|p| p.name == port_name && Protocol::parse(&p.protocol) == Some(protocol))
        else {
            continue;
        };
        let Ok(port) = u16::try_from(port.port) else {
            continue;
        };
        for addr in &subset.addresses {
            if let Ok(ip) = addr.ip.parse::<Ipv4Addr>() {
                out.push(Endpoint { ip, port });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tug_api::core::{
        ClientIpConfig, EndpointAddress, EndpointPort, EndpointSubset, ServicePort as ApiPort,
        ServiceSpec, SessionAffinityConfig,
    };
    use tug_api::ObjectMeta;

    fn svc(name: &str, spec: ServiceSpec) -> Service {
        Service {
            metadata: ObjectMeta {
                namespace: "default".into(),
                name: name.into(),
                ..Default::default()
            },
            spec,
            ..Default::default()
        }
    }

    fn port(name: &str, port: i32, node_port: i32) -> ApiPort {
        ApiPort {
            name: name.into(),
            protocol: "TCP".into(),
            port,
            node_port,
            ..Default::default()
        }
    }

    fn addr(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        }
    }

    fn eps(subsets: Vec<EndpointSubset>) -> Arc<Endpoints> {
        Arc::new(Endpoints {
            subsets,
            ..Default::default()
        })
    }

    #[test]
    fn endpoints_are_resolved_by_port_name_and_only_ready_addresses_count() {
        let spec = ServiceSpec {
            cluster_ip: "10.96.0.10".into(),
            ports: vec![port("http", 80, 0), port("metrics", 9090, 0)],
            ..Default::default()
        };
        let e = eps(vec![EndpointSubset {
            addresses: vec![addr("10.244.1.2"), addr("10.244.2.3")],
            not_ready_addresses: vec![addr("10.244.3.4")],
            ports: vec![
                EndpointPort {
                    name: "http".into(),
                    port: 8080,
                    protocol: "TCP".into(),
                    ..Default::default()
                },
                EndpointPort {
                    name: "metrics".into(),
                    port: 9100,
                    protocol: "TCP".into(),
                    ..Default::default()
                },
            ],
        }]);
        let s = svc("web", spec);
        let model = build([&s], |_, _| Some(e.clone()));
        assert_eq!(model.ports.len(), 2);
        let http = model
            .ports
            .values()
            .find(|p| p.port_name == "http")
            .unwrap();
        assert_eq!(
            http.endpoints,
            vec![
                Endpoint {
                    ip: "10.244.1.2".parse().unwrap(),
                    port: 8080
                },
                Endpoint {
                    ip: "10.244.2.3".parse().unwrap(),
                    port: 8080
                },
            ]
        );
        let metrics = model
            .ports
            .values()
            .find(|p| p.port_name == "metrics")
            .unwrap();
        assert!(metrics.endpoints.iter().all(|e| e.port == 9100));
        assert_eq!(model.service_count(), 1);
        assert_eq!(model.endpoint_count(), 4);
    }

    #[test]
    fn headless_external_name_and_unallocated_services_are_skipped() {
        let headless = svc(
            "h",
            ServiceSpec {
                cluster_ip: "None".into(),
                ports: vec![port("", 80, 0)],
                ..Default::default()
            },
        );
        let external = svc(
            "x",
            ServiceSpec {
                type_: "ExternalName".into(),
                external_name: "example.com".into(),
                ports: vec![port("", 80, 0)],
                ..Default::default()
            },
        );
        let pending = svc(
            "p",
            ServiceSpec {
                ports: vec![port("", 80, 0)],
                ..Default::default()
            },
        );
        let model = build([&headless, &external, &pending], |_, _| None);
        assert!(model.ports.is_empty());
    }

    #[test]
    fn node_ports_and_client_ip_affinity_defaults() {
        let s = svc(
            "np",
            ServiceSpec {
                type_: "NodePort".into(),
                cluster_ip: "10.96.0.11".into(),
                session_affinity: "ClientIP".into(),
                ports: vec![port("", 80, 30080)],
                ..Default::default()
            },
        );
        let model = build([&s], |_, _| None);
        let p = model.ports.values().next().unwrap();
        assert_eq!(p.node_port, Some(30080));
        assert_eq!(p.affinity_timeout, Some(10800));
        assert!(p.endpoints.is_empty(), "no Endpoints object: no endpoints");

        let mut s2 = s.clone();
        s2.spec.session_affinity_config = Some(SessionAffinityConfig {
            client_ip: Some(ClientIpConfig {
                timeout_seconds: Some(60),
            }),
        });
        s2.spec.type_ = "ClusterIP".into();
        let model = build([&s2], |_, _| None);
        let p = model.ports.values().next().unwrap();
        assert_eq!(p.affinity_timeout, Some(60));
        assert_eq!(p.node_port, None, "a ClusterIP service has no node port");
    }
}
