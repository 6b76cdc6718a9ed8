//! How each list of a served kind combines under server-side apply: the
//! `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` metadata of the
//! upstream OpenAPI, which the OpenAPI description publishes from this
//! table. These differ from the strategic-merge-patch keys in
//! `crate::patch` in places (container ports are keyed by
//! `containerPort` *and* `protocol` here), so they are a table of their own.

/// The kind of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; owned as one field.
    Atomic,
    /// A set of scalars; each value owned on its own (`v:`).
    Set,
    /// A list of maps identified by key fields (`k:{…}`); a key field
    /// absent from an item takes its default (`protocol` → `TCP`).
    Map(&'static [KeyField]),
}

/// One key field of a list-map, with the default a missing value takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyField {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

const fn key(name: &'static str) -> KeyField {
    KeyField {
        name,
        default: None,
    }
}

const NAME: &[KeyField] = &[key("name")];
const TYPE: &[KeyField] = &[key("type")];
const IP: &[KeyField] = &[key("ip")];
const UID: &[KeyField] = &[key("uid")];
const PROTOCOL_TCP: KeyField = KeyField {
    name: "protocol",
    default: Some("TCP"),
};
const CONTAINER_PORT: &[KeyField] = &[key("containerPort"), PROTOCOL_TCP];
const SERVICE_PORT: &[KeyField] = &[key("port"), PROTOCOL_TCP];
const MOUNT_PATH: &[KeyField] = &[key("mountPath")];
const DEVICE_PATH: &[KeyField] = &[key("devicePath")];
const TOPOLOGY: &[KeyField] = &[key("topologyKey"), key("whenUnsatisfiable")];

/// The list types of one kind, by field path (list items are not part of
/// the path: `spec.containers.ports`). Lists not listed are atomic.
#[derive(Clone, Debug, Default)]
pub struct ListTypes {
    entries: Vec<(String, ListType)>,
}

impl ListTypes {
    /// The table for a served kind; other kinds only know metadata's lists.
    pub fn for_kind(group: &str, kind: &str) -> ListTypes {
        let mut t = ListTypes::default();
        t.add_meta("metadata");
        match (group, kind) {
            ("", "Pod") => {
                t.add_pod_spec("spec");
                t.add("status.conditions", ListType::Map(TYPE));
                t.add("status.podIPs", ListType::Map(IP));
                t.add("status.hostIPs", ListType::Map(IP));
                t.add("status.resourceClaimStatuses", ListType::Map(NAME));
            }
            ("apps", "Deployment" | "ReplicaSet") => {
                t.add_meta("spec.template.metadata");
                t.add_pod_spec("spec.template.spec");
                t.add("status.conditions", ListType::Map(TYPE));
            }
            ("", "Service") => {
                t.add("spec.ports", ListType::Map(SERVICE_PORT));
                t.add("status.conditions", ListType::Map(TYPE));
            }
            ("", "Node") => {
                t.add("spec.podCIDRs", ListType::Set);
                t.add("status.conditions", ListType::Map(TYPE));
                t.add("status.addresses", ListType::Map(TYPE));
            }
            ("", "Namespace") => t.add("status.conditions", ListType::Map(TYPE)),
            _ => {}
        }
        t
    }

    /// The type of the list at `path` (field names, dot-joined).
    pub fn get(&self, path: &str) -> ListType {
        self.entries
            .iter()
            .find(|(p, _)| p == path)
            .map_or(ListType::Atomic, |(_, t)| *t)
    }

    /// Every list that is not atomic: its path and type.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ListType)> {
        self.entries.iter().map(|(p, t)| (p.as_str(), *t))
    }

    fn add(&mut self, path: &str, t: ListType) {
        self.entries.push((path.to_string(), t));
    }

    fn add_meta(&mut self, prefix: &str) {
        self.add(&format!("{prefix}.finalizers"), ListType::Set);
        self.add(&format!("{prefix}.ownerReferences"), ListType::Map(UID));
    }

    fn add_pod_spec(&mut self, prefix: &str) {
        for c in ["containers", "initContainers", "ephemeralContainers"] {
            let c = format!("{prefix}.{c}");
            self.add(&c, ListType::Map(NAME));
            self.add(&format!("{c}.ports"), ListType::Map(CONTAINER_PORT));
            self.add(&format!("{c}.env"), ListType::Map(NAME));
            self.add(&format!("{c}.volumeMounts"), ListType::Map(MOUNT_PATH));
            self.add(&format!("{c}.volumeDevices"), ListType::Map(DEVICE_PATH));
        }
        for (field, t) in [
            ("volumes", ListType::Map(NAME)),
            ("imagePullSecrets", ListType::Map(NAME)),
            ("hostAliases", ListType::Map(IP)),
            ("topologySpreadConstraints", ListType::Map(TOPOLOGY)),
            ("schedulingGates", ListType::Map(NAME)),
            ("resourceClaims", ListType::Map(NAME)),
        ] {
            self.add(&format!("{prefix}.{field}"), t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_template_lists_are_keyed_like_upstream() {
        let d = ListTypes::for_kind("apps", "Deployment");
        assert_eq!(d.get("spec.template.spec.containers"), ListType::Map(NAME));
        let ListType::Map(keys) = d.get("spec.template.spec.containers.ports") else {
            panic!("ports keyed");
        };
        assert_eq!(keys[1].default, Some("TCP"));
        assert_eq!(
            d.get("spec.template.spec.containers.args"),
            ListType::Atomic
        );
        assert_eq!(d.get("metadata.finalizers"), ListType::Set);
        assert_eq!(d.get("spec.template.spec.tolerations"), ListType::Atomic);
        let pod = ListTypes::for_kind("", "Pod");
        assert_eq!(pod.get("spec.containers.env"), ListType::Map(NAME));
        assert_eq!(
            ListTypes::for_kind("", "ConfigMap").get("metadata.ownerReferences"),
            ListType::Map(UID)
        );
    }
}
