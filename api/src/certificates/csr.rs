//! `certificates.k8s.io/v1.CertificateSigningRequest` and the rules of its
//! three writers: the requester (spec), the approver (`/approval`:
//! Approved/Denied conditions) and the signer (`/status`: the
//! certificate and the other conditions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::impl_resource;
use crate::meta::{ObjectMeta, Time};
use crate::status::FieldErrors;
use crate::strategy::Strategy;

/// The signer of kubelets' client certificates (`system:node:<name>`).
pub const KUBE_APISERVER_CLIENT_KUBELET_SIGNER: &str =
    "kubernetes.io/kube-apiserver-client-kubelet";
/// The signer of other client certificates for the apiserver.
pub const KUBE_APISERVER_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";

/// Condition type: an approver approved the request.
pub const APPROVED: &str = "Approved";
/// Condition type: an approver denied the request.
pub const DENIED: &str = "Denied";
/// Condition type: the signer failed to issue the certificate.
pub const FAILED: &str = "Failed";

/// `certificates.k8s.io/v1.CertificateSigningRequest` (cluster-scoped).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSigningRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: CertificateSigningRequestSpec,
    #[serde(default)]
    pub status: CertificateSigningRequestStatus,
}

/// `certificates.k8s.io/v1.CertificateSigningRequestSpec`. Immutable after
/// create; `username`, `uid`, `groups` and `extra` are set by the
/// apiserver from the authenticated requester, whatever the body said.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSigningRequestSpec {
    /// The PEM `CERTIFICATE REQUEST`, base64-encoded (a `[]byte` on the
    /// wire, as upstream).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("format" = "byte"))]
    pub request: String,
    /// Who is asked to sign (`kubernetes.io/kube-apiserver-client-kubelet`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signer_name: String,
    /// The validity asked for (at least 600); the signer may shorten it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i32>,
    /// Key usages asked for (`digital signature`, `client auth`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
    /// The requester's user name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// The requester's uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The requester's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The requester's extra attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// `certificates.k8s.io/v1.CertificateSigningRequestStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSigningRequestStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CertificateSigningRequestCondition>,
    /// The issued certificate chain, PEM, base64-encoded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(extend("format" = "byte"))]
    pub certificate: String,
}

/// `certificates.k8s.io/v1.CertificateSigningRequestCondition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateSigningRequestCondition {
    /// `Approved`, `Denied`, `Failed` (or another, for other writers).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `True`, `False` or `Unknown` (default `True`).
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

impl_resource!(
    CertificateSigningRequest,
    group = "certificates.k8s.io",
    version = "v1",
    kind = "CertificateSigningRequest",
    plural = "certificatesigningrequests",
    singular = "certificatesigningrequest",
    namespaced = false,
    short = ["csr"]
);

impl CertificateSigningRequest {
    /// The condition of `type_`, if any.
    pub fn condition(&self, type_: &str) -> Option<&CertificateSigningRequestCondition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether a condition of `type_` is present and not `False`.
    pub fn has_condition(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status != "False")
    }

    /// Approved and not denied: the signer may sign it.
    pub fn is_approved(&self) -> bool {
        self.has_condition(APPROVED) && !self.has_condition(DENIED)
    }

    /// The `/approval` update: `old` with the conditions of `self` (the
    /// certificate and the spec are the signer's and the requester's).
    pub fn approval_update(&self, old: &Self) -> Self {
        let mut out = old.clone();
        out.status.conditions = self.status.conditions.clone();
        out.apply_defaults();
        populate_condition_timestamps(&mut out, old);
        out
    }
}

/// Whether a condition type belongs to the approver.
fn is_approval(type_: &str) -> bool {
    type_ == APPROVED || type_ == DENIED
}

/// Fill in `lastUpdateTime` (now) and `lastTransitionTime` (the old one
/// when the status did not change, else now) where the writer left them
/// out, as upstream's `populateConditionTimestamps`.
fn populate_condition_timestamps(
    new: &mut CertificateSigningRequest,
    old: &CertificateSigningRequest,
) {
    let now = Time::now();
    for c in &mut new.status.conditions {
        if c.last_update_time.is_none() {
            c.last_update_time = Some(now);
        }
        if c.last_transition_time.is_none() {
            c.last_transition_time = match old.condition(&c.type_) {
                Some(o) if o.status == c.status => o.last_transition_time.or(Some(now)),
                _ => Some(now),
            };
        }
    }
}

impl Strategy for CertificateSigningRequest {
    const HAS_STATUS_SUBRESOURCE: bool = true;

    /// Condition status defaults to `True`.
    fn apply_defaults(&mut self) {
        for c in &mut self.status.conditions {
            if c.status.is_empty() {
                c.status = "True".into();
            }
        }
    }

    fn validate(&self) -> FieldErrors {
        super::validate_csr(self)
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        super::validate_csr_update(self, old)
    }

    /// A new request starts without conditions or certificate.
    fn prepare_for_create(&mut self) {
        self.status = CertificateSigningRequestStatus::default();
    }

    /// The spec is immutable and the status only changes through its
    /// subresources.
    fn prepare_for_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
        self.status = old.status.clone();
    }

    /// The signer's `/status` write: the certificate and the non-approval
    /// conditions of `self`, the approval conditions kept from `old`.
    fn status_update(&self, old: &Self) -> Self {
        let mut out = old.clone();
        out.status.certificate = self.status.certificate.clone();
        let mut conditions: Vec<_> = old
            .status
            .conditions
            .iter()
            .filter(|c| is_approval(&c.type_))
            .cloned()
            .collect();
        conditions.extend(
            self.status
                .conditions
                .iter()
                .filter(|c| !is_approval(&c.type_))
                .cloned(),
        );
        out.status.conditions = conditions;
        out.apply_defaults();
        populate_condition_timestamps(&mut out, old);
        out
    }

    fn field_value(&self, path: &str) -> Option<String> {
        (path == "spec.signerName").then(|| self.spec.signer_name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn condition(type_: &str) -> CertificateSigningRequestCondition {
        CertificateSigningRequestCondition {
            type_: type_.into(),
            ..Default::default()
        }
    }

    fn csr() -> CertificateSigningRequest {
        decode_strict(serde_json::json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": "node-csr-a"},
            "spec": {"request": "cmVx", "signerName": KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
                "usages": ["client auth"], "username": "system:bootstrap:abcdef"}
        }))
        .unwrap()
    }

    #[test]
    fn the_signer_cannot_approve_and_the_approver_cannot_issue() {
        let old = csr();
        let mut by_signer = old.clone();
        by_signer.status.conditions = vec![condition(APPROVED), condition(FAILED)];
        by_signer.status.certificate = "Y2VydA==".into();
        let stored = by_signer.status_update(&old);
        assert!(!stored.is_approved(), "Approved only through /approval");
        assert!(stored.has_condition(FAILED));
        assert_eq!(stored.status.certificate, "Y2VydA==");

        let mut by_approver = old.clone();
        by_approver.status.conditions = vec![condition(APPROVED)];
        by_approver.status.certificate = "Y2VydA==".into();
        by_approver.spec.username = "someone-else".into();
        let stored = by_approver.approval_update(&old);
        assert!(stored.is_approved());
        assert_eq!(stored.status.conditions[0].status, "True");
        assert!(stored.status.conditions[0].last_transition_time.is_some());
        assert!(stored.status.certificate.is_empty());
        assert_eq!(stored.spec, old.spec);
    }

    #[test]
    fn a_signer_write_keeps_the_approval() {
        let mut old = csr();
        old.status.conditions = vec![condition(APPROVED)];
        let mut by_signer = old.clone();
        by_signer.status.conditions.clear();
        by_signer.status.certificate = "Y2VydA==".into();
        assert!(by_signer.status_update(&old).is_approved());
    }

    #[test]
    fn updates_of_the_main_resource_change_neither_spec_nor_status() {
        let old = csr();
        let mut new = old.clone();
        new.spec.signer_name = "example.com/other".into();
        new.status.conditions = vec![condition(APPROVED)];
        new.metadata.labels.insert("a".into(), "b".into());
        new.prepare_for_update(&old);
        assert_eq!(new.spec, old.spec);
        assert!(!new.is_approved());
        assert_eq!(new.metadata.labels["a"], "b");
    }
}
