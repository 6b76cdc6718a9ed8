//! Builders for unit tests: pods, containers and Ready nodes.

use std::sync::Arc;

use tug_api::core::{Container, ContainerPort, Node, NodeCondition, Pod};
use tug_api::quantity::Quantity;

use crate::pod_info::PodInfo;

/// A container requesting `cpu` and `memory` (empty: no request).
pub fn container(cpu: &str, memory: &str) -> Container {
    let mut c = Container {
        name: "c".into(),
        image: "img".into(),
        ..Default::default()
    };
    if !cpu.is_empty() {
        c.resources
            .requests
            .insert("cpu".into(), Quantity(cpu.into()));
    }
    if !memory.is_empty() {
        c.resources
            .requests
            .insert("memory".into(), Quantity(memory.into()));
    }
    c
}

/// An unbound pod `default/name` with one container and no requests.
pub fn pod(name: &str) -> Pod {
    let mut p = Pod::default();
    p.metadata.namespace = "default".into();
    p.metadata.name = name.into();
    p.metadata.uid = format!("uid-{name}");
    p.spec.containers.push(container("", ""));
    p.spec.scheduler_name = "default-scheduler".into();
    p
}

/// A pod requesting `cpu` and `memory`.
pub fn pod_with(name: &str, cpu: &str, memory: &str) -> Pod {
    let mut p = pod(name);
    p.spec.containers = vec![container(cpu, memory)];
    p
}

/// [`PodInfo`] of [`pod_with`].
pub fn pod_info(name: &str, cpu: &str, memory: &str) -> PodInfo {
    PodInfo::new(Arc::new(pod_with(name, cpu, memory)))
}

/// `info`'s pod with one more host port.
pub fn with_host_port(info: PodInfo, protocol: &str, ip: &str, port: i32) -> PodInfo {
    let mut p = (*info.pod).clone();
    p.spec.containers[0].ports.push(ContainerPort {
        container_port: port,
        host_port: port,
        host_ip: if ip == "0.0.0.0" {
            String::new()
        } else {
            ip.into()
        },
        protocol: protocol.into(),
        ..Default::default()
    });
    PodInfo::new(Arc::new(p))
}

/// A Ready node with this much allocatable.
pub fn node(name: &str, cpu: &str, memory: &str, pods: i64) -> Node {
    let mut n = Node::default();
    n.metadata.name = name.into();
    n.metadata
        .labels
        .insert("kubernetes.io/hostname".into(), name.into());
    for (k, v) in [
        ("cpu", cpu.to_string()),
        ("memory", memory.to_string()),
        ("pods", pods.to_string()),
    ] {
        n.status.allocatable.insert(k.into(), Quantity(v.clone()));
        n.status.capacity.insert(k.into(), Quantity(v));
    }
    n.status.conditions.push(NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        ..Default::default()
    });
    n
}
