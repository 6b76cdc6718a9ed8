//! Parameters of the API verbs: list/watch selection, write options,
//! patch bodies and delete options, each turned into the query string or
//! body the Kubernetes API expects.

use serde_json::{json, Value};

/// Selection for `list` and `watch` (`?labelSelector=...&limit=...`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListParams {
    /// `app=web,tier!=db`.
    pub label_selector: Option<String>,
    /// `spec.nodeName=node-1`.
    pub field_selector: Option<String>,
    /// Page size; the reply's `metadata.continue` fetches the next page.
    pub limit: Option<u32>,
    /// `metadata.continue` of the previous page.
    pub continue_token: Option<String>,
    /// For a list: `"0"` allows a cached answer; unset is a consistent read.
    pub resource_version: Option<String>,
    /// Server-side timeout of a watch, in seconds.
    pub timeout_seconds: Option<u32>,
}

impl ListParams {
    /// Only objects whose labels match `selector`.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Only objects whose fields match `selector`.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// At most `limit` objects per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continue a paged list.
    pub fn continue_token(mut self, token: &str) -> Self {
        self.continue_token = Some(token.to_string());
        self
    }

    /// Watch `timeoutSeconds`.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    pub(crate) fn list_query(&self) -> Vec<(&'static str, String)> {
        let mut q = self.selectors();
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = self.continue_token.as_ref().filter(|c| !c.is_empty()) {
            q.push(("continue", c.clone()));
        }
        if let Some(rv) = &self.resource_version {
            q.push(("resourceVersion", rv.clone()));
        }
        q
    }

    pub(crate) fn watch_query(&self, resource_version: &str) -> Vec<(&'static str, String)> {
        let mut q = self.selectors();
        q.push(("watch", "true".into()));
        q.push(("allowWatchBookmarks", "true".into()));
        if !resource_version.is_empty() {
            q.push(("resourceVersion", resource_version.to_string()));
        }
        if let Some(t) = self.timeout_seconds {
            q.push(("timeoutSeconds", t.to_string()));
        }
        q
    }

    fn selectors(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(l) = self.label_selector.as_ref().filter(|s| !s.is_empty()) {
            q.push(("labelSelector", l.clone()));
        }
        if let Some(f) = self.field_selector.as_ref().filter(|s| !s.is_empty()) {
            q.push(("fieldSelector", f.clone()));
        }
        q
    }
}

/// Options of `create` and `replace` (and, through [`PatchParams`], `patch`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostParams {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager`, recorded in managedFields.
    pub field_manager: Option<String>,
    /// `fieldValidation` (`Ignore`, `Warn`, `Strict`).
    pub field_validation: Option<String>,
}

impl PostParams {
    /// Server-side dry run.
    pub fn dry_run() -> Self {
        PostParams {
            dry_run: true,
            ..Default::default()
        }
    }

    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if self.dry_run {
            q.push(("dryRun", "All".into()));
        }
        if let Some(m) = &self.field_manager {
            q.push(("fieldManager", m.clone()));
        }
        if let Some(v) = &self.field_validation {
            q.push(("fieldValidation", v.clone()));
        }
        q
    }
}

/// Options of `patch`: the same as for writes.
pub type PatchParams = PostParams;

/// A patch body and its kind; the kind picks the Content-Type.
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge(Value),
    /// RFC 6902 JSON patch, an array of operations (`application/json-patch+json`).
    Json(Value),
    /// Kubernetes strategic merge patch: lists merged by key
    /// (`application/strategic-merge-patch+json`).
    Strategic(Value),
}

impl Patch {
    /// The Content-Type header for this patch.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
        }
    }

    /// The patch document.
    pub fn body(&self) -> &Value {
        match self {
            Patch::Merge(v) | Patch::Json(v) | Patch::Strategic(v) => v,
        }
    }
}

/// What happens to an object's dependents when it is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Dependents are left alone (their ownerReference is removed).
    Orphan,
    /// Dependents are deleted in the background after the owner.
    Background,
    /// The owner waits (with a finalizer) until its dependents are gone.
    Foreground,
}

impl PropagationPolicy {
    /// The wire spelling (`Background`).
    pub fn as_str(self) -> &'static str {
        match self {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        }
    }
}

/// Conditions a delete requires; a mismatch is a 409 Conflict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preconditions {
    /// The object must have this UID (not a re-created namesake).
    pub uid: Option<String>,
    /// The object must still be at this resourceVersion.
    pub resource_version: Option<String>,
}

/// `DeleteOptions`, sent as the DELETE body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeleteParams {
    /// Seconds before the object is removed (pods); 0 deletes at once.
    pub grace_period_seconds: Option<u32>,
    /// What happens to dependents (the server's default when unset).
    pub propagation_policy: Option<PropagationPolicy>,
    /// Conditions the object must meet, else 409 Conflict.
    pub preconditions: Option<Preconditions>,
    /// `dryRun: [All]`.
    pub dry_run: bool,
}

impl DeleteParams {
    /// Delete at once (grace period 0).
    pub fn immediate() -> Self {
        DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        }
    }

    /// Delete the dependents in the background.
    pub fn background() -> Self {
        DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        }
    }

    /// Delete only if the object still has this resourceVersion.
    pub fn at_resource_version(rv: &str) -> Self {
        DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(rv.to_string()),
                uid: None,
            }),
            ..Default::default()
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
        if let Some(g) = self.grace_period_seconds {
            body["gracePeriodSeconds"] = json!(g);
        }
        if let Some(p) = self.propagation_policy {
            body["propagationPolicy"] = json!(p.as_str());
        }
        if let Some(pre) = &self.preconditions {
            let mut p = json!({});
            if let Some(uid) = &pre.uid {
                p["uid"] = json!(uid);
            }
            if let Some(rv) = &pre.resource_version {
                p["resourceVersion"] = json!(rv);
            }
            body["preconditions"] = p;
        }
        if self.dry_run {
            body["dryRun"] = json!(["All"]);
        }
        body
    }
}

/// Options of `pods/log`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogParams {
    /// Which container (required when the pod has more than one).
    pub container: Option<String>,
    /// Stream new lines as they are written.
    pub follow: bool,
    /// The previous, terminated instance of the container.
    pub previous: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
}

impl LogParams {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(c) = &self.container {
            q.push(("container", c.clone()));
        }
        if self.follow {
            q.push(("follow", "true".into()));
        }
        if self.previous {
            q.push(("previous", "true".into()));
        }
        if let Some(t) = self.tail_lines {
            q.push(("tailLines", t.to_string()));
        }
        if self.timestamps {
            q.push(("timestamps", "true".into()));
        }
        if let Some(s) = self.since_seconds {
            q.push(("sinceSeconds", s.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_body() {
        let d = DeleteParams {
            grace_period_seconds: Some(0),
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions {
                uid: Some("u".into()),
                resource_version: Some("7".into()),
            }),
            dry_run: true,
        };
        assert_eq!(
            d.body(),
            json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                   "propagationPolicy": "Foreground",
                   "preconditions": {"uid": "u", "resourceVersion": "7"}, "dryRun": ["All"]})
        );
    }

    #[test]
    fn list_and_watch_queries() {
        let lp = ListParams::default().labels("app=web").limit(10);
        assert_eq!(
            lp.list_query(),
            vec![("labelSelector", "app=web".into()), ("limit", "10".into())]
        );
        let w = lp.watch_query("42");
        assert!(w.contains(&("resourceVersion", "42".into())));
        assert!(w.contains(&("allowWatchBookmarks", "true".into())));
        assert!(!w.iter().any(|(k, _)| *k == "limit"));
    }
}
