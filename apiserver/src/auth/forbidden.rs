//! The responses of refused requests, worded exactly as upstream words
//! them: 401 `Unauthorized`, and 403 naming the user, verb, resource and
//! scope.

use tug_api::status::{Status, StatusDetails};

use crate::auth::request_info::RequestInfo;
use crate::error::{qualified_resource, ApiError};

/// The 401 for a request without a credential we accept.
pub fn unauthorized() -> ApiError {
    ApiError::from(Status::failure(401, "Unauthorized", "Unauthorized"))
}

/// `User "jane" cannot delete resource "pods" in API group "" in the
/// namespace "default"` (upstream's `forbiddenMessage`).
pub fn forbidden_message(user: &str, req: &RequestInfo) -> String {
    if !req.is_resource_request {
        return format!("User {user:?} cannot {} path {:?}", req.verb, req.path);
    }
    let resource = if req.subresource.is_empty() {
        req.resource.clone()
    } else {
        format!("{}/{}", req.resource, req.subresource)
    };
    if req.namespace.is_empty() {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
            req.verb, req.api_group
        )
    } else {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
            req.verb, req.api_group, req.namespace
        )
    }
}

/// The 403 for `req` denied to `user`, with the authorizers' `reason`
/// appended when there is one (upstream's `responsewriters.Forbidden` and
/// `NewForbidden`).
pub fn forbidden(user: &str, req: &RequestInfo, reason: &str) -> ApiError {
    let mut err = forbidden_message(user, req);
    if !reason.is_empty() {
        err = format!("{err}: {reason}");
    }
    let message = if req.resource.is_empty() {
        format!("forbidden: {err}")
    } else {
        let what = qualified_resource(&req.resource, &req.api_group);
        if req.name.is_empty() {
            format!("{what} is forbidden: {err}")
        } else {
            format!("{what} {:?} is forbidden: {err}", req.name)
        }
    };
    ApiError::from(
        Status::failure(403, "Forbidden", message).with_details(StatusDetails {
            name: req.name.clone(),
            group: req.api_group.clone(),
            kind: req.resource.clone(),
            ..Default::default()
        }),
    )
}

/// A 403 from an admission check on an object (`nodes "b" is forbidden:
/// node "a" is not allowed to modify node "b"`).
pub fn forbidden_object(plural: &str, group: &str, name: &str, why: &str) -> ApiError {
    ApiError::from(
        Status::failure(
            403,
            "Forbidden",
            format!(
                "{} {name:?} is forbidden: {why}",
                qualified_resource(plural, group)
            ),
        )
        .with_details(StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: plural.to_string(),
            ..Default::default()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_upstream() {
        let del =
            RequestInfo::from_request("DELETE", "/api/v1/namespaces/default/pods/web-1", None);
        let e = forbidden("jane", &del, "");
        assert_eq!(e.code(), 403);
        assert_eq!(e.0.reason, "Forbidden");
        assert_eq!(
            e.0.message,
            "pods \"web-1\" is forbidden: User \"jane\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let create =
            RequestInfo::from_request("POST", "/apis/apps/v1/namespaces/d/deployments", None);
        assert_eq!(
            forbidden("jane", &create, "").0.message,
            "deployments.apps is forbidden: User \"jane\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"d\""
        );
        let nodes = RequestInfo::from_request("PUT", "/api/v1/nodes/b/status", None);
        assert_eq!(
            forbidden("system:node:a", &nodes, "node 'a' cannot modify node 'b'").0.message,
            "nodes \"b\" is forbidden: User \"system:node:a\" cannot update resource \"nodes/status\" in API group \"\" at the cluster scope: node 'a' cannot modify node 'b'"
        );
        let path = RequestInfo::from_request("GET", "/metrics", None);
        assert_eq!(
            forbidden("system:anonymous", &path, "").0.message,
            "forbidden: User \"system:anonymous\" cannot get path \"/metrics\""
        );
    }
}
