use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn ca() -> (CertAndKey, Ca) {
    let pair = new_ca("tugboat-ca").unwrap();
    let ca = Ca::from_pem(&pair.cert_pem, &pair.key_pem).unwrap();
    (pair, ca)
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn roots(ca_pem: &str) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(der(ca_pem)).unwrap();
    Arc::new(roots)
}

/// Whether `cert_pem` verifies as a TLS client certificate under `ca_pem`
/// (webpki: chain, validity, clientAuth usage).
fn client_cert_verifies(ca_pem: &str, cert_pem: &str) -> Result<(), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca_pem), provider)
        .build()
        .unwrap();
    verifier
        .verify_client_cert(&der(cert_pem), &[], UnixTime::now())
        .map(|_| ())
}

fn server_cert_verifies(ca_pem: &str, cert_pem: &str, name: &str) -> Result<(), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca_pem), provider)
        .build()
        .unwrap();
    verifier
        .verify_server_cert(
            &der(cert_pem),
            &[],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}

#[test]
fn a_client_certificate_names_the_user_and_every_group() {
    let (pair, ca) = ca();
    let admin = ca
        .issue_client("kubernetes-admin", &["system:masters", "team-a"], DAY)
        .unwrap();
    let subject = cert_subject(&der(&admin.cert_pem)).unwrap();
    assert_eq!(subject.common_name, "kubernetes-admin");
    assert_eq!(subject.organizations, ["system:masters", "team-a"]);
    client_cert_verifies(&pair.cert_pem, &admin.cert_pem).unwrap();
    // A client certificate is no serving certificate.
    assert!(server_cert_verifies(&pair.cert_pem, &admin.cert_pem, "localhost").is_err());
}

#[test]
fn a_certificate_from_another_ca_does_not_verify() {
    let (pair, _) = ca();
    let other = Ca::from_pem(
        &new_ca("elsewhere").unwrap().cert_pem,
        &new_ca("x").unwrap().key_pem,
    );
    assert!(other.is_err(), "a CA needs its own key");
    let pair2 = new_ca("elsewhere").unwrap();
    let other = Ca::from_pem(&pair2.cert_pem, &pair2.key_pem).unwrap();
    let stranger = other
        .issue_client("mallory", &["system:masters"], DAY)
        .unwrap();
    let err = client_cert_verifies(&pair.cert_pem, &stranger.cert_pem).unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // Same CA name, different key (another cluster's CA): the signature
    // gives it away.
    let (_, twin) = ca();
    let stranger = twin
        .issue_client("mallory", &["system:masters"], DAY)
        .unwrap();
    let err = client_cert_verifies(&pair.cert_pem, &stranger.cert_pem).unwrap_err();
    assert!(err.to_string().contains("BadSignature"), "{err}");
}

#[test]
fn signing_a_csr_keeps_its_subject_and_key_and_verifies() {
    let (pair, ca) = ca();
    let (csr, key) = new_client_csr("system:node:node-1", &["system:nodes"]).unwrap();
    let subject = csr_subject(&csr).unwrap();
    assert_eq!(subject.common_name, "system:node:node-1");
    assert_eq!(subject.organizations, ["system:nodes"]);
    let cert = ca.sign_client_csr(&csr, DAY).unwrap();
    assert_eq!(cert_subject(&der(&cert)).unwrap(), subject);
    client_cert_verifies(&pair.cert_pem, &cert).unwrap();
    // The certificate holds the requester's key: a TLS client config
    // accepts the pair.
    let chain = vec![der(&cert)];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&pair.cert_pem))
        .with_client_auth_cert(chain, key)
        .unwrap();
}

#[test]
fn a_csr_with_a_forged_signature_is_refused() {
    let (_, ca) = ca();
    let (csr, _) = new_client_csr("system:node:node-1", &["system:nodes"]).unwrap();
    let mut bytes = rustls::pki_types::CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // flip a bit of the signature
    let forged = pem("CERTIFICATE REQUEST", &bytes);
    assert!(matches!(
        ca.sign_client_csr(&forged, DAY),
        Err(PkiError::BadCsrSignature) | Err(PkiError::Parse { .. })
    ));
}

#[test]
fn a_serving_certificate_verifies_for_its_names_and_addresses_only() {
    let (pair, ca) = ca();
    let serving = ca
        .issue_serving(
            "kube-apiserver",
            &["localhost".into(), "kubernetes.default.svc".into()],
            &["127.0.0.1".parse().unwrap(), "10.96.0.1".parse().unwrap()],
            DAY,
        )
        .unwrap();
    for name in [
        "localhost",
        "kubernetes.default.svc",
        "127.0.0.1",
        "10.96.0.1",
    ] {
        server_cert_verifies(&pair.cert_pem, &serving.cert_pem, name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let err = server_cert_verifies(&pair.cert_pem, &serving.cert_pem, "example.com").unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
    server_tls_config(
        &serving.cert_pem,
        &serving.key_pem,
        Some(&pair.cert_pem),
        ClientAuth::Optional,
    )
    .unwrap();
}

#[test]
fn a_self_signed_serving_certificate_is_usable_by_a_server() {
    let own = self_signed_serving(
        "node-1",
        &["node-1".into()],
        &["127.0.0.1".parse().unwrap()],
        DAY,
    )
    .unwrap();
    let config = server_tls_config(&own.cert_pem, &own.key_pem, None, ClientAuth::None).unwrap();
    assert_eq!(
        config.alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    // Pinned as its own trust anchor, a client accepts it for its names.
    server_cert_verifies(&own.cert_pem, &own.cert_pem, "node-1").unwrap();
    assert!(server_cert_verifies(&own.cert_pem, &own.cert_pem, "node-2").is_err());
    assert!(cert_not_after(&own.cert_pem).unwrap() > Utc::now() + chrono::Duration::hours(23));
}

#[test]
fn the_ca_hash_is_kubeadms_sha256_of_the_public_key_info() {
    let (pair, _) = ca();
    let hash = ca_cert_hash(&pair.cert_pem).unwrap();
    let hex = hash.strip_prefix("sha256:").expect("sha256: prefix");
    assert_eq!(hex.len(), 64);
    assert!(hex
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // Computed independently from the private key's public half.
    use sha2::{Digest, Sha256};
    let key = rcgen::KeyPair::from_pem(&pair.key_pem).unwrap();
    let expected: String = Sha256::digest(key.subject_public_key_info())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, expected);
    // Another CA, another hash.
    assert_ne!(
        ca_cert_hash(&new_ca("other").unwrap().cert_pem).unwrap(),
        hash
    );
}

#[test]
fn a_ca_lives_ten_years_and_a_leaf_as_long_as_asked() {
    let (pair, ca) = ca();
    let ca_days = (cert_not_after(&pair.cert_pem).unwrap() - Utc::now()).num_days();
    assert!((3645..=3651).contains(&ca_days), "{ca_days}");
    let leaf = ca
        .issue_client("u", &[], Duration::from_secs(3600))
        .unwrap();
    let minutes = (cert_not_after(&leaf.cert_pem).unwrap() - Utc::now()).num_minutes();
    assert!((58..=60).contains(&minutes), "{minutes}");
}

#[test]
fn a_ca_needs_its_own_key_and_the_ca_bit() {
    let (pair, _) = ca();
    let other = new_ca("other").unwrap();
    assert!(matches!(
        Ca::from_pem(&pair.cert_pem, &other.key_pem),
        Err(PkiError::Key(_))
    ));
    let (_, ca) = ca();
    let leaf = ca.issue_client("u", &[], DAY).unwrap();
    assert!(Ca::from_pem(&leaf.cert_pem, &leaf.key_pem).is_err());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let garbage = [
        "",
        "hello",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
    ];
    let (_, ca) = ca();
    for g in garbage {
        assert!(Ca::from_pem(g, g).is_err());
        assert!(ca.sign_client_csr(g, DAY).is_err());
        assert!(csr_subject(g).is_err());
        assert!(cert_not_after(g).is_err());
        assert!(ca_cert_hash(g).is_err());
        assert!(cert_subject(g.as_bytes()).is_err());
        assert!(server_tls_config(g, g, Some(g), ClientAuth::Required).is_err());
    }
}
