//! The patch metadata of each kind: which fields are lists that merge (and
//! by which key), which maps are replaced whole, which carry `retainKeys`.
//! Upstream reads this from `patchStrategy`/`patchMergeKey` struct tags;
//! here it is a small static tree per kind, following those tags.

use std::collections::BTreeMap;

/// How a field combines with the patch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Strategy {
    /// Maps merge key by key; lists are replaced whole (atomic).
    #[default]
    Default,
    /// A list that merges: lists of maps by `key`, lists of scalars (no
    /// key) as a set.
    Merge { key: Option<&'static str> },
    /// Replaced whole, even when it is a map.
    Replace,
}

/// Patch metadata of one field.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Field {
    pub strategy: Strategy,
    /// `patchStrategy:"retainKeys"`: the map (or each element of the list)
    /// is a one-of whose unmentioned members are cleared.
    pub retain_keys: bool,
    /// The fields of this map, or of each element of this list.
    pub schema: PatchSchema,
}

/// Patch metadata for the fields of an object (one kind, or a nested
/// struct of one). Fields it does not mention behave as in a JSON merge
/// patch: maps merge, lists are replaced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchSchema {
    fields: BTreeMap<&'static str, Field>,
}

static DEFAULT_FIELD: Field = Field {
    strategy: Strategy::Default,
    retain_keys: false,
    schema: PatchSchema {
        fields: BTreeMap::new(),
    },
};

impl PatchSchema {
    /// The schema of a kind served by Tugboat: Pod, ReplicaSet, Deployment,
    /// Service, Node, Endpoints, Namespace, ConfigMap, Secret, Event, Lease.
    /// Any other kind gets the empty schema (maps merge, lists replace).
    pub fn for_kind(group: &str, kind: &str) -> PatchSchema {
        let with_meta = |rest: Vec<(&'static str, Field)>| {
            let mut fields = vec![("metadata", nested(object_meta()))];
            fields.extend(rest);
            object(fields)
        };
        match (group, kind) {
            ("", "Pod") => with_meta(vec![
                ("spec", nested(pod_spec())),
                ("status", nested(pod_status())),
            ]),
            ("apps", "ReplicaSet") => with_meta(vec![
                (
                    "spec",
                    nested(object(vec![("template", nested(pod_template()))])),
                ),
                ("status", nested(conditions_status())),
            ]),
            ("apps", "Deployment") => with_meta(vec![
                (
                    "spec",
                    nested(object(vec![
                        ("template", nested(pod_template())),
                        ("strategy", retain_keys_map()),
                    ])),
                ),
                ("status", nested(conditions_status())),
            ]),
            ("", "Service") => with_meta(vec![
                (
                    "spec",
                    nested(object(vec![(
                        "ports",
                        keyed("port", PatchSchema::default()),
                    )])),
                ),
                ("status", nested(conditions_status())),
            ]),
            ("", "Node") => with_meta(vec![
                // `taints` carries no patch strategy upstream: atomic.
                ("spec", nested(object(vec![("podCIDRs", merged_set())]))),
                (
                    "status",
                    nested(object(vec![
                        ("conditions", keyed("type", PatchSchema::default())),
                        ("addresses", keyed("type", PatchSchema::default())),
                    ])),
                ),
            ]),
            ("", "Namespace") => with_meta(vec![("status", nested(conditions_status()))]),
            ("", "Endpoints" | "ConfigMap" | "Secret" | "Event")
            | ("events.k8s.io", "Event")
            | ("coordination.k8s.io", "Lease") => with_meta(Vec::new()),
            _ => PatchSchema::default(),
        }
    }

    /// The empty schema: a strategic merge patch with it behaves like a
    /// JSON merge patch (plus directives).
    pub fn empty() -> PatchSchema {
        PatchSchema::default()
    }

    /// Metadata of a field; unknown fields get the default behaviour.
    pub(super) fn field(&self, name: &str) -> &Field {
        self.fields.get(name).unwrap_or(&DEFAULT_FIELD)
    }

    /// Every field with a patch strategy, as the OpenAPI description
    /// publishes it (`x-kubernetes-patch-strategy`/`-merge-key`).
    pub fn extensions(&self) -> Vec<PatchExtension> {
        let mut out = Vec::new();
        self.collect_extensions(&mut Vec::new(), &mut out);
        out
    }

    fn collect_extensions(&self, path: &mut Vec<&'static str>, out: &mut Vec<PatchExtension>) {
        for (name, field) in &self.fields {
            path.push(name);
            let (merge, merge_key) = match field.strategy {
                Strategy::Merge { key } => (Some("merge"), key),
                Strategy::Replace => (Some("replace"), None),
                Strategy::Default => (None, None),
            };
            let strategy = match (merge, field.retain_keys) {
                (Some(m), true) => Some(format!("{m},retainKeys")),
                (Some(m), false) => Some(m.to_string()),
                (None, true) => Some("retainKeys".to_string()),
                (None, false) => None,
            };
            if let Some(strategy) = strategy {
                out.push(PatchExtension {
                    path: path.clone(),
                    strategy,
                    merge_key,
                });
            }
            field.schema.collect_extensions(path, out);
            path.pop();
        }
    }
}

/// The patch metadata of one field, as OpenAPI vendor extensions carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchExtension {
    /// Field names from the kind's root; a list's elements take no step
    /// (`spec.containers.ports` is the `ports` of every container).
    pub path: Vec<&'static str>,
    /// `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub strategy: String,
    /// The key lists of maps merge by; `None` for a merged set of scalars.
    pub merge_key: Option<&'static str>,
}

fn object(fields: Vec<(&'static str, Field)>) -> PatchSchema {
    PatchSchema {
        fields: fields.into_iter().collect(),
    }
}

/// A map field with known nested fields.
fn nested(schema: PatchSchema) -> Field {
    Field {
        schema,
        ..Field::default()
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"`.
fn keyed(key: &'static str, element: PatchSchema) -> Field {
    Field {
        strategy: Strategy::Merge { key: Some(key) },
        retain_keys: false,
        schema: element,
    }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
fn keyed_retain_keys(key: &'static str, element: PatchSchema) -> Field {
    Field {
        retain_keys: true,
        ..keyed(key, element)
    }
}

/// `patchStrategy:"merge"` on a list of scalars.
fn merged_set() -> Field {
    Field {
        strategy: Strategy::Merge { key: None },
        ..Field::default()
    }
}

/// `patchStrategy:"retainKeys"` on a map.
fn retain_keys_map() -> Field {
    Field {
        retain_keys: true,
        ..Field::default()
    }
}

fn object_meta() -> PatchSchema {
    object(vec![
        ("finalizers", merged_set()),
        ("ownerReferences", keyed("uid", PatchSchema::default())),
    ])
}

fn container() -> PatchSchema {
    object(vec![
        ("ports", keyed("containerPort", PatchSchema::default())),
        ("env", keyed("name", PatchSchema::default())),
        ("volumeMounts", keyed("mountPath", PatchSchema::default())),
        ("volumeDevices", keyed("devicePath", PatchSchema::default())),
    ])
}

fn pod_spec() -> PatchSchema {
    object(vec![
        ("volumes", keyed_retain_keys("name", PatchSchema::default())),
        ("initContainers", keyed("name", container())),
        ("containers", keyed("name", container())),
        ("ephemeralContainers", keyed("name", container())),
        ("imagePullSecrets", keyed("name", PatchSchema::default())),
        ("hostAliases", keyed("ip", PatchSchema::default())),
        (
            "topologySpreadConstraints",
            keyed("topologyKey", PatchSchema::default()),
        ),
        ("schedulingGates", keyed("name", PatchSchema::default())),
        (
            "resourceClaims",
            keyed_retain_keys("name", PatchSchema::default()),
        ),
    ])
}

fn pod_status() -> PatchSchema {
    object(vec![
        ("conditions", keyed("type", PatchSchema::default())),
        ("podIPs", keyed("ip", PatchSchema::default())),
        ("hostIPs", keyed("ip", PatchSchema::default())),
        (
            "resourceClaimStatuses",
            keyed_retain_keys("name", PatchSchema::default()),
        ),
    ])
}

fn pod_template() -> PatchSchema {
    object(vec![
        ("metadata", nested(object_meta())),
        ("spec", nested(pod_spec())),
    ])
}

/// A status whose only merging list is `conditions` keyed by `type`.
fn conditions_status() -> PatchSchema {
    object(vec![("conditions", keyed("type", PatchSchema::default()))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path<'a>(schema: &'a PatchSchema, path: &[&str]) -> &'a Field {
        let (last, parents) = path.split_last().unwrap();
        let mut s = schema;
        for p in parents {
            s = &s.field(p).schema;
        }
        s.field(last)
    }

    #[test]
    fn pod_spec_is_shared() {
        let pod = PatchSchema::for_kind("", "Pod");
        let deploy = PatchSchema::for_kind("apps", "Deployment");
        let rs = PatchSchema::for_kind("apps", "ReplicaSet");
        let want = Strategy::Merge { key: Some("name") };
        assert_eq!(path(&pod, &["spec", "containers"]).strategy, want);
        for s in [&deploy, &rs] {
            assert_eq!(
                path(s, &["spec", "template", "spec", "containers"]).strategy,
                want
            );
            assert_eq!(
                path(
                    s,
                    &["spec", "template", "spec", "containers", "volumeMounts"]
                )
                .strategy,
                Strategy::Merge {
                    key: Some("mountPath")
                }
            );
        }
        assert!(path(&deploy, &["spec", "strategy"]).retain_keys);
        assert!(path(&pod, &["spec", "volumes"]).retain_keys);
    }

    #[test]
    fn atomic_and_unknown_fields() {
        let pod = PatchSchema::for_kind("", "Pod");
        for p in [
            &["spec", "tolerations"][..],
            &["spec", "containers", "args"],
            &["spec", "containers", "command"],
            &["spec", "nodeSelector"],
            &["bogus", "deeper"],
        ] {
            assert_eq!(path(&pod, p).strategy, Strategy::Default, "{p:?}");
        }
        let node = PatchSchema::for_kind("", "Node");
        assert_eq!(path(&node, &["spec", "taints"]).strategy, Strategy::Default);
        assert_eq!(
            path(&node, &["spec", "podCIDRs"]).strategy,
            Strategy::Merge { key: None }
        );
        let ep = PatchSchema::for_kind("", "Endpoints");
        assert_eq!(path(&ep, &["subsets"]).strategy, Strategy::Default);
        assert_eq!(
            path(&ep, &["metadata", "finalizers"]).strategy,
            Strategy::Merge { key: None }
        );
    }

    #[test]
    fn extensions_list_every_patch_strategy() {
        let ext = PatchSchema::for_kind("apps", "Deployment").extensions();
        let find = |p: &[&str]| ext.iter().find(|e| e.path == p).cloned();
        let containers = find(&["spec", "template", "spec", "containers"]).unwrap();
        assert_eq!(
            (containers.strategy.as_str(), containers.merge_key),
            ("merge", Some("name"))
        );
        let volumes = find(&["spec", "template", "spec", "volumes"]).unwrap();
        assert_eq!(volumes.strategy, "merge,retainKeys");
        assert_eq!(find(&["spec", "strategy"]).unwrap().strategy, "retainKeys");
        let finalizers = find(&["metadata", "finalizers"]).unwrap();
        assert_eq!(
            (finalizers.strategy.as_str(), finalizers.merge_key),
            ("merge", None)
        );
        assert!(find(&["spec", "template", "spec", "tolerations"]).is_none());
    }

    #[test]
    fn unknown_kinds_and_wrong_groups_are_empty() {
        assert_eq!(
            PatchSchema::for_kind("example.com", "Widget"),
            PatchSchema::empty()
        );
        assert_eq!(
            PatchSchema::for_kind("", "Deployment"),
            PatchSchema::empty()
        );
        assert_ne!(
            PatchSchema::for_kind("coordination.k8s.io", "Lease"),
            PatchSchema::empty()
        );
    }
}
