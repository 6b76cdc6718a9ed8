//! `v1` Node.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::skip::{is_false, is_zero_i64};
use crate::impl_resource;
use crate::meta::{ObjectMeta, Time};
use crate::quantity::Quantity;
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

/// `v1.Node`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

/// `v1.NodeSpec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    #[serde(rename = "podCIDR", default, skip_serializing_if = "String::is_empty")]
    pub pod_cidr: String,
    #[serde(rename = "podCIDRs", default, skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,
    /// Cordoned: the scheduler places no new pods here.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unschedulable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Deprecated; accepted and kept.
    #[serde(
        rename = "externalID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub external_id: String,
}

/// `v1.Taint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    #[serde(default)]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Time>,
}

/// `v1.NodeStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStatus {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: BTreeMap<String, Quantity>,
    /// Defaults to `capacity`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocatable: BTreeMap<String, Quantity>,
    /// Deprecated upstream; accepted and kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NodeCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    #[serde(default)]
    pub daemon_endpoints: NodeDaemonEndpoints,
    #[serde(default)]
    pub node_info: NodeSystemInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ContainerImage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_in_use: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_attached: Vec<AttachedVolume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_handlers: Vec<NodeRuntimeHandler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<NodeFeatures>,
}

/// The taint the node lifecycle controller puts on a node that stopped
/// reporting (`Ready` is `Unknown`).
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint on a node whose kubelet reports `Ready=False`.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint mirroring `spec.unschedulable`.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The namespace holding node heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

impl Node {
    /// The condition of `type_`, if reported.
    pub fn condition(&self, type_: &str) -> Option<&NodeCondition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }

    /// `Ready` is `True`.
    pub fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }

    /// The node's first `InternalIP` address, if any.
    pub fn internal_ip(&self) -> Option<&str> {
        self.status
            .addresses
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.as_str())
    }
}

/// `v1.NodeCondition` (`Ready`, `MemoryPressure`, `DiskPressure`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCondition {
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `v1.NodeAddress` (`InternalIP`, `ExternalIP`, `Hostname`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAddress {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub address: String,
}

/// `v1.NodeDaemonEndpoints`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeDaemonEndpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_endpoint: Option<DaemonEndpoint>,
}

/// `v1.DaemonEndpoint`. Note the capitalised `Port`, as upstream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonEndpoint {
    #[serde(rename = "Port", default)]
    pub port: i32,
}

/// `v1.NodeSystemInfo`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSystemInfo {
    #[serde(rename = "machineID", default)]
    pub machine_id: String,
    #[serde(rename = "systemUUID", default)]
    pub system_uuid: String,
    #[serde(rename = "bootID", default)]
    pub boot_id: String,
    #[serde(default)]
    pub kernel_version: String,
    #[serde(default)]
    pub os_image: String,
    #[serde(default)]
    pub container_runtime_version: String,
    #[serde(default)]
    pub kubelet_version: String,
    #[serde(default)]
    pub kube_proxy_version: String,
    #[serde(default)]
    pub operating_system: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<NodeSwapStatus>,
}

/// `v1.NodeSwapStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSwapStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
}

/// `v1.ContainerImage`: an image present on the node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerImage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub size_bytes: i64,
}

/// `v1.AttachedVolume`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachedVolume {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub device_path: String,
}

/// `v1.NodeRuntimeHandler`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRuntimeHandler {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<NodeRuntimeHandlerFeatures>,
}

/// `v1.NodeRuntimeHandlerFeatures`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRuntimeHandlerFeatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only_mounts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_namespaces: Option<bool>,
}

/// `v1.NodeFeatures`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeFeatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplemental_groups_policy: Option<bool>,
}

impl_resource!(
    Node,
    group = "",
    version = "v1",
    kind = "Node",
    plural = "nodes",
    singular = "node",
    namespaced = false,
    short = ["no"]
);

const POD_CIDR_FORBIDDEN: &str = "node updates may not change podCIDR except from \"\" to valid";

impl Strategy for Node {
    const HAS_STATUS_SUBRESOURCE: bool = true;

    /// `allocatable` defaults to `capacity`; `podCIDR` and `podCIDRs[0]`
    /// mirror each other.
    fn apply_defaults(&mut self) {
        if self.status.allocatable.is_empty() && !self.status.capacity.is_empty() {
            self.status.allocatable = self.status.capacity.clone();
        }
        let spec = &mut self.spec;
        if spec.pod_cidrs.is_empty() && !spec.pod_cidr.is_empty() {
            spec.pod_cidrs = vec![spec.pod_cidr.clone()];
        } else if spec.pod_cidr.is_empty() {
            if let Some(first) = spec.pod_cidrs.first() {
                spec.pod_cidr = first.clone();
            }
        }
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, false);
        errs.extend(validate_spec_and_status(self));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, false);
        errs.extend(validate_spec_and_status(self));
        if !old.spec.pod_cidrs.is_empty() && self.spec.pod_cidrs != old.spec.pod_cidrs {
            errs.push(FieldError::forbidden("spec.podCIDRs", POD_CIDR_FORBIDDEN));
        }
        if !old.spec.pod_cidr.is_empty() && self.spec.pod_cidr != old.spec.pod_cidr {
            errs.push(FieldError::forbidden("spec.podCIDR", POD_CIDR_FORBIDDEN));
        }
        if !old.spec.provider_id.is_empty() && self.spec.provider_id != old.spec.provider_id {
            errs.push(FieldError::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errs
    }

    /// Kubelets register with their status filled in, so it is kept.
    fn prepare_for_create(&mut self) {}

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    crate::status_update_from_status_field!();

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }

    fn field_value(&self, path: &str) -> Option<String> {
        (path == "spec.unschedulable").then(|| self.spec.unschedulable.to_string())
    }
}

/// Taints, pod CIDRs, and the quantities in the status.
fn validate_spec_and_status(node: &Node) -> FieldErrors {
    let mut errs = taints(&node.spec.taints);
    let spec = &node.spec;
    if !spec.pod_cidr.is_empty() {
        errs.extend(validation::cidr("spec.podCIDR", &spec.pod_cidr));
    }
    for (i, c) in spec.pod_cidrs.iter().enumerate() {
        errs.extend(validation::cidr(&format!("spec.podCIDRs[{i}]"), c));
    }
    if let Some(first) = spec.pod_cidrs.first() {
        if !spec.pod_cidr.is_empty() && *first != spec.pod_cidr {
            errs.push(FieldError::invalid(
                "spec.podCIDRs",
                validation::go_string_slice(&spec.pod_cidrs),
                "first value must match `podCIDR`",
            ));
        }
    }
    if spec.pod_cidrs.len() > 1 && !dual_stack_pair(&spec.pod_cidrs) {
        errs.push(FieldError::invalid(
            "spec.podCIDRs",
            validation::go_string_slice(&spec.pod_cidrs),
            "may specify no more than one CIDR for each IP family",
        ));
    }
    for (field, list) in [
        ("status.capacity", &node.status.capacity),
        ("status.allocatable", &node.status.allocatable),
    ] {
        for (name, q) in list {
            errs.extend(validation::resource_quantity(
                &format!("{field}[{name}]"),
                q,
            ));
        }
    }
    errs
}

fn taints(taints: &[Taint]) -> FieldErrors {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = format!("spec.taints[{i}]");
        errs.extend(validation::qualified_name(&format!("{p}.key"), &t.key));
        let value_errs = validation::label_value(&format!("{p}.value"), &t.value);
        if !value_errs.is_empty() {
            let msgs: Vec<String> = value_errs.into_iter().map(|e| e.detail).collect();
            errs.push(FieldError::invalid(
                &format!("{p}.value"),
                &t.value,
                &msgs.join(";"),
            ));
        }
        errs.extend(validation::taint_effect(
            &format!("{p}.effect"),
            &t.effect,
            false,
        ));
        if !seen.insert((t.key.as_str(), t.effect.as_str())) {
            let mut e = FieldError::duplicate(&p, format!("{}:{}", t.key, t.effect));
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    errs
}

/// Two CIDRs, one of each IP family.
fn dual_stack_pair(cidrs: &[String]) -> bool {
    if cidrs.len() != 2 {
        return false;
    }
    match (
        validation::parse_cidr(&cidrs[0]),
        validation::parse_cidr(&cidrs[1]),
    ) {
        (Some((a, _)), Some((b, _))) => a.is_ipv4() != b.is_ipv4(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn node() -> Node {
        let v = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True",
                    "lastHeartbeatTime": "2024-05-01T10:00:00Z",
                    "lastTransitionTime": "2024-05-01T09:00:00Z",
                    "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": "m", "systemUUID": "u", "bootID": "b",
                    "kernelVersion": "6.1", "osImage": "Debian", "containerRuntimeVersion": "runc://1.1",
                    "kubeletVersion": "v1.33.0", "kubeProxyVersion": "v1.33.0",
                    "operatingSystem": "linux", "architecture": "amd64"},
                "images": [{"names": ["nginx:1.27"], "sizeBytes": 1000}]
            }
        });
        let mut n: Node = decode_strict(v).unwrap();
        n.apply_defaults();
        n
    }

    fn lines(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn registration_keeps_status_and_defaults_allocatable() {
        let mut n = node();
        n.prepare_for_create();
        assert_eq!(n.status.allocatable["pods"].0, "110");
        assert_eq!(n.spec.pod_cidrs, vec!["10.244.1.0/24"]);
        assert_eq!(n.status.conditions[0].reason, "KubeletReady");
        assert_eq!(lines(&n.validate()), Vec::<String>::new());
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(
            v["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
            10250
        );
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
        assert_eq!(v["spec"]["podCIDR"], "10.244.1.0/24");
    }

    #[test]
    fn taints_and_cidrs() {
        let mut n = node();
        n.spec.taints = vec![
            Taint {
                key: "dedicated".into(),
                value: "gpu".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            },
            Taint {
                key: "dedicated".into(),
                value: "other".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            },
            Taint {
                key: "x".into(),
                effect: "Never".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            lines(&n.validate()),
            vec![
                r#"spec.taints[1]: Duplicate value: "dedicated:NoSchedule": taints must be unique by key and effect pair"#,
                r#"spec.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
            ]
        );
        let mut n = node();
        n.spec.pod_cidr = "10.244.1.0/33".into();
        n.spec.pod_cidrs = vec![n.spec.pod_cidr.clone()];
        assert_eq!(
            lines(&n.validate())[0],
            r#"spec.podCIDR: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#
        );
    }

    #[test]
    fn pod_cidr_may_only_be_set_once() {
        let mut unset = node();
        unset.spec.pod_cidr.clear();
        unset.spec.pod_cidrs.clear();
        let set = node();
        assert_eq!(lines(&set.validate_update(&unset)), Vec::<String>::new());
        let mut changed = node();
        changed.spec.pod_cidr = "10.244.2.0/24".into();
        changed.spec.pod_cidrs = vec!["10.244.2.0/24".into()];
        assert_eq!(
            lines(&changed.validate_update(&set)),
            vec![
                r#"spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid"#,
                r#"spec.podCIDR: Forbidden: node updates may not change podCIDR except from "" to valid"#,
            ]
        );
    }

    #[test]
    fn status_and_spec_are_written_separately() {
        let old = node();
        let mut cordon = old.clone();
        cordon.spec.unschedulable = true;
        cordon.status.conditions.clear();
        cordon.prepare_for_update(&old);
        assert!(cordon.spec.unschedulable);
        assert_eq!(cordon.status, old.status);
        assert_eq!(
            cordon.field_value("spec.unschedulable").as_deref(),
            Some("true")
        );

        let mut heartbeat = old.clone();
        heartbeat.spec.unschedulable = true;
        heartbeat.status.conditions[0].status = "False".into();
        let stored = heartbeat.status_update(&old);
        assert!(!stored.spec.unschedulable);
        assert_eq!(stored.status.conditions[0].status, "False");
    }
}
