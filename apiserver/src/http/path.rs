//! Parsing request paths into what they address. One catch-all route per
//! API root keeps the ambiguous shapes (`/api/v1/namespaces/x/status` vs
//! `/api/v1/namespaces/x/pods`) decidable with the registry at hand.

use crate::error::{ApiError, ApiResult};
use crate::registry::{Handler, Registry};

/// What an `/api/...` or `/apis/...` path addresses.
pub enum Route {
    /// `/apis/{group}`: the group's discovery document.
    Group { group: String },
    /// `/api/v1` or `/apis/{group}/{version}`: the resource list.
    GroupVersion { group: String, version: String },
    /// A collection, an object or a subresource of a served kind.
    Resource(Target),
}

/// A served kind plus the object coordinates in the path.
pub struct Target {
    pub handler: Handler,
    /// Namespace from the path; empty for cluster-scoped kinds and
    /// all-namespace collections.
    pub namespace: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

fn check_segment(s: &str) -> ApiResult<&str> {
    if s.is_empty() || s == "." || s == ".." || s.contains('%') {
        return Err(ApiError::bad_request(format!(
            "invalid path segment {s:?}: names may not be empty, '.' or '..'"
        )));
    }
    Ok(s)
}

/// Parse `rest` (the path after `/api/` or `/apis/`).
pub fn parse(registry: &Registry, core: bool, rest: &str, full: &str) -> ApiResult<Route> {
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let (group, version, tail) = if core {
        match segs.as_slice() {
            [v, tail @ ..] if !v.is_empty() => (String::new(), v.to_string(), tail),
            _ => return Err(ApiError::no_route(full)),
        }
    } else {
        match segs.as_slice() {
            [g] if !g.is_empty() => {
                return Ok(Route::Group {
                    group: g.to_string(),
                })
            }
            [g, v, tail @ ..] => (g.to_string(), v.to_string(), tail),
            _ => return Err(ApiError::no_route(full)),
        }
    };
    let lookup = |plural: &str| -> ApiResult<Handler> {
        registry
            .get(&group, &version, plural)
            .cloned()
            .ok_or_else(|| ApiError::no_route(full))
    };
    let namespaced_lookup = |plural: &str| {
        registry
            .get(&group, &version, plural)
            .filter(|h| h.info().namespaced)
            .cloned()
    };
    let is_namespaces_segment = |p: &str| p == "namespaces";
    let target = match tail {
        [] => return Ok(Route::GroupVersion { group, version }),
        [plural] => Target {
            handler: lookup(plural)?,
            namespace: String::new(),
            name: None,
            subresource: None,
        },
        [plural, name] => cluster_object(lookup(plural)?, name, None, full)?,
        [ns_word, ns, plural]
            if is_namespaces_segment(ns_word) && namespaced_lookup(plural).is_some() =>
        {
            Target {
                handler: namespaced_lookup(plural).ok_or_else(|| ApiError::no_route(full))?,
                namespace: check_segment(ns)?.to_string(),
                name: None,
                subresource: None,
            }
        }
        [plural, name, sub] => cluster_object(lookup(plural)?, name, Some(sub), full)?,
        [ns_word, ns, plural, name] if is_namespaces_segment(ns_word) => Target {
            handler: namespaced_lookup(plural).ok_or_else(|| ApiError::no_route(full))?,
            namespace: check_segment(ns)?.to_string(),
            name: Some(check_segment(name)?.to_string()),
            subresource: None,
        },
        [ns_word, ns, plural, name, sub] if is_namespaces_segment(ns_word) => {
            let handler = namespaced_lookup(plural).ok_or_else(|| ApiError::no_route(full))?;
            if !handler.info().has_subresource(sub) {
                return Err(ApiError::no_route(full));
            }
            Target {
                handler,
                namespace: check_segment(ns)?.to_string(),
                name: Some(check_segment(name)?.to_string()),
                subresource: Some(sub.to_string()),
            }
        }
        _ => return Err(ApiError::no_route(full)),
    };
    Ok(Route::Resource(target))
}

/// `/{plural}/{name}[/{sub}]` of a cluster-scoped kind.
fn cluster_object(
    handler: Handler,
    name: &str,
    sub: Option<&&str>,
    full: &str,
) -> ApiResult<Target> {
    if handler.info().namespaced {
        return Err(ApiError::no_route(full));
    }
    if let Some(sub) = sub {
        if !handler.info().has_subresource(sub) {
            return Err(ApiError::no_route(full));
        }
    }
    Ok(Target {
        handler,
        namespace: String::new(),
        name: Some(check_segment(name)?.to_string()),
        subresource: sub.map(|s| s.to_string()),
    })
}
