//! Discovery: which kinds the server serves, and what a user means by
//! `po`, `deploy`, `deployments.apps` or `Deployment`.
//!
//! [`Discovery::run`] reads `/api` + `/api/v1` and `/apis` +
//! `/apis/{group}/{version}` (the legacy JSON documents every Kubernetes
//! server has) into a list of [`DiscoveredResource`]s, core group first,
//! then the groups in the server's order, preferred version first.
//! [`Discovery::resolve`] maps a name typed on a command line to one of
//! them the way kubectl does; [`Discovery::resolve_kind`] maps a
//! manifest's `apiVersion` + `kind`.

use futures::future::try_join_all;
use serde::Deserialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::resource::ApiResource;

/// One resource the server serves, with the names kubectl accepts for it.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveredResource {
    /// Group, version, kind, plural, scope.
    pub resource: ApiResource,
    /// `deployment`.
    pub singular: String,
    /// `deploy`.
    pub short_names: Vec<String>,
    /// `get`, `list`, `watch`, ...
    pub verbs: Vec<String>,
    /// `all`, ...
    pub categories: Vec<String>,
    /// `status`, `scale`, ...
    pub subresources: Vec<String>,
    /// Whether this version is the group's preferred one.
    pub preferred: bool,
}

impl DiscoveredResource {
    /// Whether `name` (already lower-case) is one of this resource's names:
    /// plural, singular, a short name, or the kind.
    fn named(&self, name: &str) -> bool {
        self.resource.plural == name
            || self.singular == name
            || self.short_names.iter().any(|s| s == name)
            || self.resource.kind.to_lowercase() == name
    }

    /// Whether the server allows `verb` on it.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// The resources a server serves.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    resources: Vec<DiscoveredResource>,
}

#[derive(Deserialize)]
struct ApiVersions {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupList {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    name: String,
    #[serde(default)]
    versions: Vec<GroupVersion>,
    preferred_version: Option<GroupVersion>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GroupVersion {
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceList {
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResource {
    name: String,
    #[serde(default)]
    singular_name: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

impl Discovery {
    /// Ask the server what it serves.
    pub async fn run(client: &Client) -> Result<Discovery> {
        let core: ApiVersions = client.get_path("/api").await?;
        let groups: GroupList = client.get_path("/apis").await?;
        // (group, version, preferred) in the order the results are kept.
        let mut targets: Vec<(String, String, bool)> = core
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| (String::new(), v.clone(), i == 0))
            .collect();
        for g in &groups.groups {
            let preferred = g
                .preferred_version
                .clone()
                .or_else(|| g.versions.first().cloned())
                .map(|v| v.version)
                .unwrap_or_default();
            if !preferred.is_empty() {
                targets.push((g.name.clone(), preferred.clone(), true));
            }
            for v in &g.versions {
                if v.version != preferred {
                    targets.push((g.name.clone(), v.version.clone(), false));
                }
            }
        }
        let lists = try_join_all(targets.iter().map(|(group, version, _)| {
            let path = if group.is_empty() {
                format!("/api/{version}")
            } else {
                format!("/apis/{group}/{version}")
            };
            async move { client.get_path::<ResourceList>(&path).await }
        }))
        .await?;
        let mut resources = Vec::new();
        for ((group, version, preferred), list) in targets.into_iter().zip(lists) {
            resources.extend(Self::from_list(&group, &version, preferred, list));
        }
        Ok(Discovery { resources })
    }

    /// Build from one `APIResourceList`: top-level resources, with the
    /// `pods/status`-style entries attached as subresources.
    fn from_list(
        group: &str,
        version: &str,
        preferred: bool,
        list: ResourceList,
    ) -> Vec<DiscoveredResource> {
        let mut out: Vec<DiscoveredResource> = Vec::new();
        let mut subs: Vec<(String, String)> = Vec::new();
        for r in list.resources {
            if let Some((parent, sub)) = r.name.split_once('/') {
                subs.push((parent.to_string(), sub.to_string()));
                continue;
            }
            let singular = if r.singular_name.is_empty() {
                r.kind.to_lowercase()
            } else {
                r.singular_name
            };
            out.push(DiscoveredResource {
                resource: ApiResource {
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: r.kind,
                    plural: r.name,
                    namespaced: r.namespaced,
                },
                singular,
                short_names: r.short_names,
                verbs: r.verbs,
                categories: r.categories,
                subresources: Vec::new(),
                preferred,
            });
        }
        for (parent, sub) in subs {
            if let Some(p) = out.iter_mut().find(|r| r.resource.plural == parent) {
                p.subresources.push(sub);
            }
        }
        out
    }

    /// A discovery result from a list of resources (tests, or callers
    /// that know them already).
    pub fn from_resources(resources: Vec<DiscoveredResource>) -> Discovery {
        Discovery { resources }
    }

    /// Every resource, core group first, preferred versions before others.
    pub fn resources(&self) -> &[DiscoveredResource] {
        &self.resources
    }

    /// The resource a user means by `name`, as kubectl resolves it:
    /// `pods`, `pod`, `po`, `Pod`, `deployments.apps`, `deploy.apps`,
    /// `deployments.v1.apps`. Case does not matter. Preferred versions win.
    pub fn resolve(&self, name: &str) -> Result<&DiscoveredResource> {
        let wanted = name.trim().to_lowercase();
        let preferred_first = self
            .resources
            .iter()
            .filter(|r| r.preferred)
            .chain(self.resources.iter().filter(|r| !r.preferred));
        let mut found = None;
        for r in preferred_first {
            if r.named(&wanted) {
                found = Some(r);
                break;
            }
            // `resource.group` or `resource.version.group`.
            if let Some((res, rest)) = wanted.split_once('.') {
                let group = r.resource.group.as_str();
                let version_group = format!("{}.{}", r.resource.version, group);
                if r.named(res) && !group.is_empty() && (rest == group || rest == version_group) {
                    found = Some(r);
                    break;
                }
            }
        }
        found.ok_or_else(|| Error::UnknownResource(name.to_string()))
    }

    /// The resource of a manifest's `apiVersion` and `kind`.
    pub fn resolve_kind(&self, api_version: &str, kind: &str) -> Result<&DiscoveredResource> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources
            .iter()
            .find(|r| {
                r.resource.group == group
                    && r.resource.version == version
                    && r.resource.kind == kind
            })
            .ok_or_else(|| {
                Error::Config(format!(
                    "no matches for kind \"{kind}\" in version \"{api_version}\""
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(
        group: &str,
        kind: &str,
        plural: &str,
        short: &[&str],
        preferred: bool,
    ) -> DiscoveredResource {
        DiscoveredResource {
            resource: ApiResource {
                group: group.into(),
                version: "v1".into(),
                kind: kind.into(),
                plural: plural.into(),
                namespaced: true,
            },
            singular: kind.to_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            verbs: vec!["get".into()],
            categories: vec![],
            subresources: vec![],
            preferred,
        }
    }

    fn discovery() -> Discovery {
        Discovery::from_resources(vec![
            res("", "Pod", "pods", &["po"], true),
            res("", "Event", "events", &["ev"], true),
            res("apps", "Deployment", "deployments", &["deploy"], true),
            res("events.k8s.io", "Event", "events", &[], true),
        ])
    }

    #[test]
    fn resolves_names_as_kubectl() {
        let d = discovery();
        for (name, plural, group) in [
            ("po", "pods", ""),
            ("pod", "pods", ""),
            ("Pods", "pods", ""),
            ("deploy", "deployments", "apps"),
            ("Deployment", "deployments", "apps"),
            ("deployments.apps", "deployments", "apps"),
            ("deploy.v1.apps", "deployments", "apps"),
            ("events", "events", ""),
            ("events.events.k8s.io", "events", "events.k8s.io"),
        ] {
            let r = d.resolve(name).unwrap();
            assert_eq!(
                (r.resource.plural.as_str(), r.resource.group.as_str()),
                (plural, group),
                "{name}"
            );
        }
        let e = d.resolve("frobs").unwrap_err().to_string();
        assert_eq!(e, "the server doesn't have a resource type \"frobs\"");
        assert!(d.resolve("deployments.core").is_err());
    }

    #[test]
    fn resolves_manifest_kinds() {
        let d = discovery();
        assert_eq!(
            d.resolve_kind("apps/v1", "Deployment")
                .unwrap()
                .resource
                .plural,
            "deployments"
        );
        assert_eq!(d.resolve_kind("v1", "Pod").unwrap().resource.group, "");
        let e = d
            .resolve_kind("apps/v2", "Deployment")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "no matches for kind \"Deployment\" in version \"apps/v2\""
        );
    }
}
