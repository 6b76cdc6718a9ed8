//! Validation of CertificateSigningRequests (upstream
//! `pkg/apis/certificates/validation`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::csr::{CertificateSigningRequest, APPROVED, DENIED, FAILED};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

/// The key usages a request may ask for (`certificates.k8s.io/v1.KeyUsage`).
pub const KNOWN_USAGES: &[&str] = &[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
];

const CONDITION_STATUSES: &[&str] = &["True", "False", "Unknown"];

/// The shortest validity a request may ask for.
const MIN_EXPIRATION_SECONDS: i32 = 600;

/// A new request: metadata, a PEM CSR in `spec.request`, a signer name of
/// the form `domain/path`, known usages, a sane expiration, and
/// consistent conditions.
pub fn validate_csr(csr: &CertificateSigningRequest) -> FieldErrors {
    let mut errs = validation::object_meta(&csr.metadata, false);
    let spec = &csr.spec;
    if spec.request.is_empty() {
        errs.push(FieldError::required("spec.request", ""));
    } else if let Err(why) = pem_csr(&spec.request) {
        errs.push(FieldError::invalid("spec.request", "<request>", &why));
    }
    if spec.signer_name.is_empty() {
        errs.push(FieldError::required("spec.signerName", ""));
    } else {
        errs.extend(signer_name(&spec.signer_name));
    }
    if let Some(s) = spec.expiration_seconds {
        if s < MIN_EXPIRATION_SECONDS {
            errs.push(FieldError::invalid(
                "spec.expirationSeconds",
                s,
                &format!("may not specify a duration less than {MIN_EXPIRATION_SECONDS} seconds (10 minutes)"),
            ));
        }
    }
    if spec.usages.is_empty() {
        errs.push(FieldError::required(
            "spec.usages",
            "usages must be provided",
        ));
    }
    let mut seen = Vec::new();
    for (i, u) in spec.usages.iter().enumerate() {
        let field = format!("spec.usages[{i}]");
        if !KNOWN_USAGES.contains(&u.as_str()) {
            errs.push(FieldError::not_supported(&field, u, KNOWN_USAGES));
        } else if seen.contains(&u) {
            errs.push(FieldError::duplicate(&field, u));
        }
        seen.push(u);
    }
    errs.extend(conditions(csr));
    if !csr.status.certificate.is_empty() {
        if !csr.is_approved() {
            errs.push(FieldError::forbidden(
                "status.certificate",
                "certificate may only be set once the request is approved",
            ));
        } else if let Err(why) = pem_block(&csr.status.certificate, "CERTIFICATE") {
            errs.push(FieldError::invalid(
                "status.certificate",
                "<certificate data>",
                &why,
            ));
        }
    }
    errs
}

/// An update: the rules of a new request, a certificate that once issued
/// stays, and approval or failure that cannot be taken back.
pub fn validate_csr_update(
    new: &CertificateSigningRequest,
    old: &CertificateSigningRequest,
) -> FieldErrors {
    let mut errs = validation::object_meta_update(&new.metadata, &old.metadata, false);
    errs.extend(
        validate_csr(new)
            .into_iter()
            .filter(|e| !e.field.starts_with("metadata")),
    );
    if !old.status.certificate.is_empty() && new.status.certificate != old.status.certificate {
        errs.push(FieldError::invalid(
            "status.certificate",
            "<certificate data>",
            "updates may not modify existing certificate content",
        ));
    }
    for type_ in [APPROVED, DENIED, FAILED] {
        if old.condition(type_).is_some() && new.condition(type_).is_none() {
            errs.push(FieldError::forbidden(
                "status.conditions",
                &format!("updates may not remove a condition of type {type_:?}"),
            ));
        }
    }
    errs
}

/// Each condition has a type and a valid status; Approved, Denied and
/// Failed appear at most once, and Approved and Denied not together.
fn conditions(csr: &CertificateSigningRequest) -> FieldErrors {
    let mut errs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in csr.status.conditions.iter().enumerate() {
        let field = format!("status.conditions[{i}]");
        if c.type_.is_empty() {
            errs.push(FieldError::required(&format!("{field}.type"), ""));
        }
        if !CONDITION_STATUSES.contains(&c.status.as_str()) {
            errs.push(FieldError::not_supported(
                &format!("{field}.status"),
                &c.status,
                CONDITION_STATUSES,
            ));
        }
        if [APPROVED, DENIED, FAILED].contains(&c.type_.as_str()) {
            if seen.contains(&c.type_.as_str()) {
                errs.push(FieldError::duplicate(&format!("{field}.type"), &c.type_));
            }
            seen.push(&c.type_);
        }
    }
    if csr.has_condition(APPROVED) && csr.has_condition(DENIED) {
        errs.push(FieldError::invalid(
            "status.conditions",
            "Approved, Denied",
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
    errs
}

/// `domain/path`: a DNS subdomain, a slash, and a path.
fn signer_name(name: &str) -> FieldErrors {
    let field = "spec.signerName";
    let Some((domain, path)) = name.split_once('/') else {
        return vec![FieldError::invalid(
            field,
            name,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    if path.is_empty() {
        return vec![FieldError::invalid(
            field,
            name,
            "validating path: must not be empty",
        )];
    }
    validation::dns1123_subdomain(field, domain)
}

/// The base64 of a PEM `CERTIFICATE REQUEST` that parses.
fn pem_csr(request: &str) -> Result<(), String> {
    pem_block(request, "CERTIFICATE REQUEST")?;
    let pem = STANDARD.decode(request.trim()).unwrap_or_default();
    let pem = String::from_utf8_lossy(&pem);
    crate::pki::csr_subject(&pem)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The base64 of a PEM document whose first block is of `label` and
/// whose content is base64.
fn pem_block(data: &str, label: &str) -> Result<(), String> {
    let bytes = STANDARD
        .decode(data.trim())
        .map_err(|e| format!("must be base64: {e}"))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("PEM block type must be {label}"))?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| format!("PEM block type must be {label}"))?;
    let body = text[start..]
        .strip_prefix(&begin)
        .ok_or_else(|| format!("PEM block type must be {label}"))?;
    let (content, _) = body
        .split_once(&end)
        .ok_or_else(|| format!("PEM block type must be {label}"))?;
    let content: String = content.split_whitespace().collect();
    match STANDARD.decode(content) {
        Ok(der) if !der.is_empty() => Ok(()),
        _ => Err(format!("the {label} PEM block is not valid base64")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificates::{
        CertificateSigningRequestCondition, KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
    };
    use crate::strategy::Strategy;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn csr() -> CertificateSigningRequest {
        let mut c = CertificateSigningRequest::default();
        c.metadata.name = "node-csr-1".into();
        let (request, _key) =
            crate::pki::new_client_csr("system:node:n1", &["system:nodes"]).unwrap();
        c.spec.request = b64(&request);
        c.spec.signer_name = KUBE_APISERVER_CLIENT_KUBELET_SIGNER.into();
        c.spec.usages = vec!["digital signature".into(), "client auth".into()];
        c
    }

    fn lines(errs: FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_kubelet_request_is_valid() {
        assert_eq!(lines(csr().validate()), Vec::<String>::new());
    }

    #[test]
    fn request_signer_usages_and_expiration_are_checked() {
        let mut c = csr();
        c.spec.request = b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        c.spec.signer_name = "no-slash".into();
        c.spec.usages = vec!["client auth".into(), "flying".into(), "client auth".into()];
        c.spec.expiration_seconds = Some(60);
        let l = lines(c.validate());
        assert_eq!(l.len(), 5, "{l:#?}");
        assert!(l[0].starts_with("spec.request: Invalid value"), "{}", l[0]);
        assert!(l[0].ends_with("PEM block type must be CERTIFICATE REQUEST"));
        assert!(l[1].contains("example.com/signer-name"));
        assert!(l[2].starts_with("spec.expirationSeconds: Invalid value: 60"));
        assert!(l[3].starts_with("spec.usages[1]: Unsupported value: \"flying\""));
        assert_eq!(l[4], "spec.usages[2]: Duplicate value: \"client auth\"");

        let mut c = csr();
        c.spec = Default::default();
        assert_eq!(
            lines(c.validate()),
            vec![
                "spec.request: Required value",
                "spec.signerName: Required value",
                "spec.usages: Required value: usages must be provided",
            ]
        );
    }

    #[test]
    fn approved_and_denied_exclude_each_other_and_stay() {
        let cond = |t: &str| CertificateSigningRequestCondition {
            type_: t.into(),
            status: "True".into(),
            ..Default::default()
        };
        let mut c = csr();
        c.status.conditions = vec![cond(APPROVED), cond(DENIED)];
        assert!(lines(c.validate())
            .iter()
            .any(|l| l.contains("mutually exclusive")));
        let mut approved = csr();
        approved.status.conditions = vec![cond(APPROVED)];
        let pending = csr();
        assert!(lines(validate_csr_update(&pending, &approved))
            .iter()
            .any(|l| l.contains("may not remove a condition of type \"Approved\"")));
    }

    #[test]
    fn a_certificate_needs_approval_and_never_changes() {
        let cert = b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let mut c = csr();
        c.status.certificate = cert.clone();
        assert!(lines(c.validate())[0].starts_with("status.certificate: Forbidden"));
        c.status.conditions = vec![CertificateSigningRequestCondition {
            type_: APPROVED.into(),
            status: "True".into(),
            ..Default::default()
        }];
        assert_eq!(lines(c.validate()), Vec::<String>::new());
        let mut changed = c.clone();
        changed.status.certificate =
            b64("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
        assert!(lines(validate_csr_update(&changed, &c))
            .iter()
            .any(|l| l.contains("may not modify existing certificate content")));
    }
}
