//! [`ApiResource`]: where a kind lives in the API, known at compile time
//! (from a [`tug_api::Resource`] type) or found at run time through
//! [discovery](crate::discovery).

use tug_api::Resource;

/// A kind's group, version, kind, URL plural and scope: everything needed
/// to build its URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApiResource {
    /// API group; empty for the core group.
    pub group: String,
    /// `v1`.
    pub version: String,
    /// `Deployment`.
    pub kind: String,
    /// Lower-case plural used in URLs (`deployments`).
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl ApiResource {
    /// The resource of a compiled-in kind.
    pub fn of<K: Resource>() -> ApiResource {
        ApiResource {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            kind: K::KIND.to_string(),
            plural: K::PLURAL.to_string(),
            namespaced: K::NAMESPACED,
        }
    }

    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `pods` for the core group: how kubectl names
    /// a resource in messages (`deployment.apps/web created` uses the
    /// lower-case kind instead, see [`ApiResource::kind_group`]).
    pub fn plural_group(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `deployment.apps`, or `pod` for the core group.
    pub fn kind_group(&self) -> String {
        let kind = self.kind.to_lowercase();
        if self.group.is_empty() {
            kind
        } else {
            format!("{kind}.{}", self.group)
        }
    }

    /// URL path segments of the collection: `["apis", "apps", "v1",
    /// "namespaces", ns, "deployments"]`. A namespace is used only for a
    /// namespaced kind; `None` means all namespaces.
    pub(crate) fn collection_segments(&self, namespace: Option<&str>) -> Vec<String> {
        let mut segs = Vec::with_capacity(6);
        if self.group.is_empty() {
            segs.push("api".to_string());
        } else {
            segs.push("apis".to_string());
            segs.push(self.group.clone());
        }
        segs.push(self.version.clone());
        if self.namespaced {
            if let Some(ns) = namespace.filter(|ns| !ns.is_empty()) {
                segs.push("namespaces".to_string());
                segs.push(ns.to_string());
            }
        }
        segs.push(self.plural.clone());
        segs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::apps::Deployment;
    use tug_api::core::{Node, Pod};

    #[test]
    fn paths() {
        let d = ApiResource::of::<Deployment>();
        assert_eq!(
            d.collection_segments(Some("ns")).join("/"),
            "apis/apps/v1/namespaces/ns/deployments"
        );
        assert_eq!(
            d.collection_segments(None).join("/"),
            "apis/apps/v1/deployments"
        );
        assert_eq!(d.kind_group(), "deployment.apps");
        assert_eq!(d.api_version(), "apps/v1");
        let n = ApiResource::of::<Node>();
        assert_eq!(n.collection_segments(Some("ns")).join("/"), "api/v1/nodes");
        assert_eq!(ApiResource::of::<Pod>().plural_group(), "pods");
    }
}
