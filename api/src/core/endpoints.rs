//! `v1` Endpoints: the addresses behind a Service, written by the
//! endpoints controller.

use serde::{Deserialize, Serialize};

use super::object_reference::ObjectReference;
use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

/// `v1.Endpoints`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
}

/// `v1.EndpointSubset`: addresses that all expose the same ports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSubset {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// `v1.EndpointAddress`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointAddress {
    #[serde(default)]
    pub ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// `v1.EndpointPort`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub port: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

impl_resource!(
    Endpoints,
    group = "",
    version = "v1",
    kind = "Endpoints",
    plural = "endpoints",
    singular = "endpoints",
    namespaced = true,
    short = ["ep"]
);

impl Strategy for Endpoints {
    /// Port protocol `TCP`.
    fn apply_defaults(&mut self) {
        for port in self.subsets.iter_mut().flat_map(|s| s.ports.iter_mut()) {
            if port.protocol.is_empty() {
                port.protocol = "TCP".into();
            }
        }
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(subsets(&self.subsets));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(subsets(&self.subsets));
        errs
    }
}

fn subsets(subsets: &[EndpointSubset]) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, ss) in subsets.iter().enumerate() {
        let p = format!("subsets[{i}]");
        if ss.addresses.is_empty() && ss.not_ready_addresses.is_empty() {
            errs.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (list, name) in [
            (&ss.addresses, "addresses"),
            (&ss.not_ready_addresses, "notReadyAddresses"),
        ] {
            for (j, a) in list.iter().enumerate() {
                errs.extend(address(&format!("{p}.{name}[{j}]"), a));
            }
        }
        for (j, port) in ss.ports.iter().enumerate() {
            let pp = format!("{p}.ports[{j}]");
            if ss.ports.len() > 1 && port.name.is_empty() {
                errs.push(FieldError::required(&format!("{pp}.name"), ""));
            } else if !port.name.is_empty() {
                errs.extend(validation::dns1123_label(&format!("{pp}.name"), &port.name));
            }
            errs.extend(validation::port_number(&format!("{pp}.port"), port.port));
            errs.extend(validation::protocol(
                &format!("{pp}.protocol"),
                &port.protocol,
            ));
            if let Some(ap) = &port.app_protocol {
                errs.extend(validation::qualified_name(&format!("{pp}.appProtocol"), ap));
            }
        }
    }
    errs
}

fn address(p: &str, a: &EndpointAddress) -> FieldErrors {
    let ip_field = format!("{p}.ip");
    let mut errs = validation::ip_address(&ip_field, &a.ip);
    if errs.is_empty() {
        errs.extend(validation::non_special_ip(&ip_field, &a.ip));
    }
    if !a.hostname.is_empty() {
        errs.extend(validation::dns1123_label(
            &format!("{p}.hostname"),
            &a.hostname,
        ));
    }
    if let Some(n) = &a.node_name {
        errs.extend(validation::dns1123_subdomain(&format!("{p}.nodeName"), n));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn ep() -> Endpoints {
        let mut e: Endpoints = decode_strict(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{
                "addresses": [{"ip": "10.244.1.5", "nodeName": "node-1",
                    "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"}}],
                "notReadyAddresses": [{"ip": "10.244.2.7"}],
                "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9100, "protocol": "TCP"}]
            }]
        }))
        .unwrap();
        e.apply_defaults();
        e
    }

    fn lines(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn valid_and_defaulted() {
        let e = ep();
        assert_eq!(e.subsets[0].ports[0].protocol, "TCP");
        assert_eq!(lines(&e.validate()), Vec::<String>::new());
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
        assert_eq!(v["subsets"][0]["notReadyAddresses"][0]["ip"], "10.244.2.7");
    }

    #[test]
    fn addresses_and_ports() {
        let mut e = ep();
        e.subsets[0].addresses[0].ip = "10.244.1".into();
        e.subsets[0].not_ready_addresses[0].ip = "127.0.0.1".into();
        e.subsets[0].ports[1].name.clear();
        e.subsets[0].ports[0].port = 0;
        assert_eq!(
            lines(&e.validate()),
            vec![
                r#"subsets[0].addresses[0].ip: Invalid value: "10.244.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
                r#"subsets[0].notReadyAddresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#,
                "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "subsets[0].ports[1].name: Required value",
            ]
        );
        e.subsets[0].addresses.clear();
        e.subsets[0].not_ready_addresses.clear();
        assert!(lines(&e.validate()).contains(
            &"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"
                .to_string()
        ));
    }
}
