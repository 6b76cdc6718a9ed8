//! Asking the apiserver whether someone may do something
//! (`authorization.k8s.io/v1` SubjectAccessReview), as the CSR approver
//! and the kubelet's API do for the users they serve.

use reqwest::Method;
use tug_api::authorization::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec, AUTHORIZATION_GROUP,
};

use crate::{Client, Request, Result};

/// Who asks: a user name, uid and groups, as authentication found them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Subject {
    /// The user name.
    pub user: String,
    /// The user's uid (may be empty).
    pub uid: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

/// Whether `subject` may do `attributes`: POST a SubjectAccessReview and
/// read its `status.allowed`.
pub async fn may(
    client: &Client,
    subject: &Subject,
    attributes: ResourceAttributes,
) -> Result<bool> {
    let review = SubjectAccessReview {
        api_version: format!("{AUTHORIZATION_GROUP}/v1"),
        kind: "SubjectAccessReview".into(),
        spec: SubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            user: subject.user.clone(),
            uid: subject.uid.clone(),
            groups: subject.groups.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let url = client.url(
        &["apis", AUTHORIZATION_GROUP, "v1", "subjectaccessreviews"],
        &[],
    );
    let answer: SubjectAccessReview = client
        .request(Request::new(Method::POST, url).json(&review)?)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}
