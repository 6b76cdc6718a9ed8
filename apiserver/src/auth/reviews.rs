//! The review APIs: `authorization.k8s.io/v1` SubjectAccessReview ("may
//! this user do that?", used by the CSR approver and kubelets),
//! SelfSubjectAccessReview (`kubectl auth can-i`) and
//! `authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth whoami`).
//! Create-only; nothing is stored: the answer comes back in `status`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tug_api::authorization::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview, SelfSubjectReview,
    SelfSubjectReviewStatus, SubjectAccessReview, SubjectAccessReviewStatus, UserInfo as ApiUser,
    AUTHENTICATION_GROUP, AUTHORIZATION_GROUP,
};
use tug_api::status::FieldError;
use tug_api::Time;

use crate::auth::{Decision, RequestInfo, UserInfo};
use crate::error::{ApiError, ApiResult};
use crate::server::ApiServer;

/// The served review kinds: (group, version, plural, kind).
pub const REVIEW_RESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        AUTHORIZATION_GROUP,
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
    ),
    (
        AUTHORIZATION_GROUP,
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
    ),
    (
        AUTHENTICATION_GROUP,
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
    ),
];

fn decode<T: DeserializeOwned>(body: Value, kind: &str, group: &str) -> ApiResult<T> {
    let api_version = format!("{group}/v1");
    if let Some(v) = body.get("apiVersion").and_then(Value::as_str) {
        if !v.is_empty() && v != api_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    if let Some(k) = body.get("kind").and_then(Value::as_str) {
        if !k.is_empty() && k != kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            )));
        }
    }
    serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {e}"
        ))
    })
}

fn encode<T: Serialize>(object: &T) -> ApiResult<Value> {
    serde_json::to_value(object).map_err(|e| ApiError::internal(format!("encode: {e}")))
}

/// Exactly one of the two attribute kinds (upstream's validation).
fn check_attributes(
    kind: &str,
    resource: &Option<ResourceAttributes>,
    non_resource: &Option<NonResourceAttributes>,
) -> ApiResult<()> {
    let err = match (resource, non_resource) {
        (Some(_), Some(_)) => FieldError::invalid(
            "spec.resourceAttributes",
            "",
            "cannot be specified in combination with nonResourceAttributes",
        ),
        (None, None) => FieldError::required(
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ),
        _ => return Ok(()),
    };
    Err(ApiError::invalid(kind, AUTHORIZATION_GROUP, "", &[err]))
}

/// The request a review asks about, as the authorizers see requests.
fn request_of(
    resource: &Option<ResourceAttributes>,
    non_resource: &Option<NonResourceAttributes>,
) -> RequestInfo {
    match (resource, non_resource) {
        (Some(r), _) => RequestInfo {
            is_resource_request: true,
            path: String::new(),
            verb: r.verb.clone(),
            api_group: r.group.clone(),
            api_version: r.version.clone(),
            namespace: r.namespace.clone(),
            resource: r.resource.clone(),
            subresource: r.subresource.clone(),
            name: r.name.clone(),
            field_selector: None,
        },
        (None, Some(n)) => RequestInfo {
            path: n.path.clone(),
            verb: n.verb.clone(),
            ..Default::default()
        },
        (None, None) => RequestInfo::default(),
    }
}

async fn decide(
    server: &ApiServer,
    user: &UserInfo,
    req: &RequestInfo,
) -> ApiResult<SubjectAccessReviewStatus> {
    Ok(match server.auth.authorize(server, user, req).await? {
        Decision::Allow => SubjectAccessReviewStatus {
            allowed: true,
            ..Default::default()
        },
        Decision::NoOpinion(reason) => SubjectAccessReviewStatus {
            allowed: false,
            reason,
            ..Default::default()
        },
    })
}

fn stamp(meta: &mut tug_api::ObjectMeta) {
    meta.creation_timestamp = Some(Time::now());
}

/// `POST .../subjectaccessreviews`: may `spec.user` (with `spec.groups`)
/// do what the attributes describe?
pub async fn subject_access_review(server: &ApiServer, body: Value) -> ApiResult<Value> {
    let kind = "SubjectAccessReview";
    let mut review: SubjectAccessReview = decode(body, kind, AUTHORIZATION_GROUP)?;
    let spec = &review.spec;
    check_attributes(
        kind,
        &spec.resource_attributes,
        &spec.non_resource_attributes,
    )?;
    if spec.user.is_empty() && spec.groups.is_empty() {
        return Err(ApiError::invalid(
            kind,
            AUTHORIZATION_GROUP,
            "",
            &[FieldError::invalid(
                "spec.user",
                "",
                "at least one of user or group must be specified",
            )],
        ));
    }
    let user = UserInfo {
        name: spec.user.clone(),
        uid: spec.uid.clone(),
        groups: spec.groups.clone(),
    };
    let req = request_of(&spec.resource_attributes, &spec.non_resource_attributes);
    review.status = Some(decide(server, &user, &req).await?);
    review.api_version = format!("{AUTHORIZATION_GROUP}/v1");
    review.kind = kind.into();
    stamp(&mut review.metadata);
    encode(&review)
}

/// `POST .../selfsubjectaccessreviews`: may I?
pub async fn self_subject_access_review(
    server: &ApiServer,
    user: &UserInfo,
    body: Value,
) -> ApiResult<Value> {
    let kind = "SelfSubjectAccessReview";
    let mut review: SelfSubjectAccessReview = decode(body, kind, AUTHORIZATION_GROUP)?;
    let spec = &review.spec;
    check_attributes(
        kind,
        &spec.resource_attributes,
        &spec.non_resource_attributes,
    )?;
    let req = request_of(&spec.resource_attributes, &spec.non_resource_attributes);
    review.status = Some(decide(server, user, &req).await?);
    review.api_version = format!("{AUTHORIZATION_GROUP}/v1");
    review.kind = kind.into();
    stamp(&mut review.metadata);
    encode(&review)
}

/// `POST .../selfsubjectreviews`: who am I?
pub fn self_subject_review(user: &UserInfo, body: Value) -> ApiResult<Value> {
    let kind = "SelfSubjectReview";
    let mut review: SelfSubjectReview = decode(body, kind, AUTHENTICATION_GROUP)?;
    review.status = Some(SelfSubjectReviewStatus {
        user_info: ApiUser {
            username: user.name.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
        },
    });
    review.api_version = format!("{AUTHENTICATION_GROUP}/v1");
    review.kind = kind.into();
    stamp(&mut review.metadata);
    encode(&review)
}
