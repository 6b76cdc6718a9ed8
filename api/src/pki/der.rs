//! A small DER writer for the certificates and CSRs the cluster CA deals
//! in. rcgen's `DistinguishedName` keeps one value per attribute type, but
//! Kubernetes puts each group of a user in its own `O` attribute
//! (`O=system:masters, O=team-a`), so subjects, leaf certificates and
//! CSRs are encoded here (RFC 5280 / RFC 2986) and signed with rcgen's key
//! pairs.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, Utc};
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};
use yasna::models::ObjectIdentifier;
use yasna::{DERWriter, Tag};

use super::PkiError;

const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_O: &[u64] = &[2, 5, 4, 10];
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_SAN: &[u64] = &[2, 5, 29, 17];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// A subject: one CN and any number of O (as Go's `pkix.Name` writes it,
/// the organizations come first).
pub(crate) fn name(common_name: &str, organizations: &[&str]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for o in organizations {
                attribute(w.next(), OID_O, o);
            }
            attribute(w.next(), OID_CN, common_name);
        })
    })
}

fn attribute(w: DERWriter, oid: &[u64], value: &str) {
    w.write_set(|w| {
        w.next().write_sequence(|w| {
            w.next().write_oid(&ObjectIdentifier::from_slice(oid));
            w.next().write_utf8_string(value);
        })
    })
}

/// What a certificate is for.
pub(crate) enum Usage {
    /// A certificate authority (signs other certificates).
    Ca,
    /// TLS client authentication (users, kubelets, the apiserver's kubelet client).
    Client,
    /// TLS server authentication (the apiserver's serving certificate).
    Server,
}

/// A certificate to sign.
pub(crate) struct Leaf<'a> {
    /// The subject, DER (see [`name`]).
    pub subject: Vec<u8>,
    /// The subject's public key, DER SubjectPublicKeyInfo.
    pub spki: &'a [u8],
    pub dns_names: &'a [String],
    pub ips: &'a [IpAddr],
    pub usage: Usage,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The issuing side: its subject (raw DER, so chains match byte for
/// byte), its key identifier and its key.
pub(crate) struct Signer<'a> {
    pub subject: &'a [u8],
    pub key_id: &'a [u8],
    pub key: &'a rcgen::KeyPair,
}

/// Sign `leaf` with `signer`: the certificate, DER.
pub(crate) fn certificate(leaf: &Leaf, signer: &Signer) -> Result<Vec<u8>, PkiError> {
    let alg = signature_algorithm(signer.key.algorithm())?;
    let serial = serial_number();
    let own_key_id = key_id(leaf.spki);
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged(Tag::context(0), |w| w.write_u8(2)); // v3
            w.next().write_bigint_bytes(&serial, true);
            algorithm_identifier(w.next(), alg);
            w.next().write_der(signer.subject);
            w.next().write_sequence(|w| {
                time(w.next(), leaf.not_before);
                time(w.next(), leaf.not_after);
            });
            w.next().write_der(&leaf.subject);
            w.next().write_der(leaf.spki);
            w.next().write_tagged(Tag::context(3), |w| {
                w.write_sequence(|w| extensions(w, leaf, &own_key_id, signer.key_id))
            });
        })
    });
    signed(tbs, alg, signer.key)
}

fn extensions(w: &mut yasna::DERWriterSeq, leaf: &Leaf, own_key_id: &[u8], issuer_key_id: &[u8]) {
    // keyUsage: digitalSignature (bit 0), plus keyEncipherment (bit 2)
    // for servers, as Go's and kubeadm's certificates carry it.
    // A CA: digitalSignature, keyCertSign (5), cRLSign (6).
    let (bits, len) = match leaf.usage {
        Usage::Client => (0x80u8, 1),
        Usage::Server => (0xa0u8, 3),
        Usage::Ca => (0x86u8, 7),
    };
    extension(w.next(), OID_KEY_USAGE, true, |w| {
        w.write_bitvec_bytes(&[bits], len)
    });
    let eku = match leaf.usage {
        Usage::Client => Some(OID_CLIENT_AUTH),
        Usage::Server => Some(OID_SERVER_AUTH),
        Usage::Ca => None,
    };
    if let Some(eku) = eku {
        extension(w.next(), OID_EXT_KEY_USAGE, false, |w| {
            w.write_sequence(|w| w.next().write_oid(&ObjectIdentifier::from_slice(eku)))
        });
    }
    let is_ca = matches!(leaf.usage, Usage::Ca);
    extension(w.next(), OID_BASIC_CONSTRAINTS, true, |w| {
        w.write_sequence(|w| {
            if is_ca {
                w.next().write_bool(true);
            } // cA defaults to false: absent
        })
    });
    extension(w.next(), OID_SUBJECT_KEY_ID, false, |w| {
        w.write_bytes(own_key_id)
    });
    extension(w.next(), OID_AUTHORITY_KEY_ID, false, |w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged_implicit(Tag::context(0), |w| w.write_bytes(issuer_key_id))
        })
    });
    if !leaf.dns_names.is_empty() || !leaf.ips.is_empty() {
        extension(w.next(), OID_SAN, false, |w| {
            w.write_sequence(|w| {
                for dns in leaf.dns_names {
                    w.next()
                        .write_tagged_implicit(Tag::context(2), |w| w.write_ia5_string(dns));
                }
                for ip in leaf.ips {
                    let octets = match ip {
                        IpAddr::V4(v4) => v4.octets().to_vec(),
                        IpAddr::V6(v6) => v6.octets().to_vec(),
                    };
                    w.next()
                        .write_tagged_implicit(Tag::context(7), |w| w.write_bytes(&octets));
                }
            })
        });
    }
}

fn extension(w: DERWriter, oid: &[u64], critical: bool, value: impl FnOnce(DERWriter)) {
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
        if critical {
            w.next().write_bool(true);
        }
        w.next().write_bytes(&yasna::construct_der(value));
    })
}

/// A PKCS#10 certificate request for `subject`, signed by `key`, DER.
pub(crate) fn certification_request(
    subject: &[u8],
    key: &rcgen::KeyPair,
) -> Result<Vec<u8>, PkiError> {
    let alg = signature_algorithm(key.algorithm())?;
    let info = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_der(subject);
            w.next().write_der(&key.subject_public_key_info());
            // attributes [0] IMPLICIT SET OF: none
            w.next()
                .write_tagged_implicit(Tag::context(0), |w| w.write_set(|_| {}));
        })
    });
    signed(info, alg, key)
}

/// `SEQUENCE { tbs, algorithm, BIT STRING signature }`.
fn signed(tbs: Vec<u8>, alg: Alg, key: &rcgen::KeyPair) -> Result<Vec<u8>, PkiError> {
    let signature = key.sign(&tbs).map_err(|e| PkiError::Sign(e.to_string()))?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            algorithm_identifier(w.next(), alg);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

/// A signature algorithm: its OID and whether its parameters are NULL
/// (RSA) or absent (ECDSA, Ed25519).
#[derive(Clone, Copy)]
struct Alg(&'static [u64], bool);

fn signature_algorithm(alg: &'static SignatureAlgorithm) -> Result<Alg, PkiError> {
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Ok(Alg(&[1, 2, 840, 10045, 4, 3, 2], false))
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok(Alg(&[1, 2, 840, 10045, 4, 3, 3], false))
    } else if alg == &rcgen::PKCS_RSA_SHA256 {
        Ok(Alg(&[1, 2, 840, 113549, 1, 1, 11], true))
    } else if alg == &rcgen::PKCS_ED25519 {
        Ok(Alg(&[1, 3, 101, 112], false))
    } else {
        Err(PkiError::Sign(format!(
            "unsupported signing key algorithm {alg:?}"
        )))
    }
}

fn algorithm_identifier(w: DERWriter, alg: Alg) {
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(alg.0));
        if alg.1 {
            w.next().write_null();
        }
    })
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
fn time(w: DERWriter, t: DateTime<Utc>) {
    let (tag, text) = if t.year() < 2050 {
        (0x17u8, t.format("%y%m%d%H%M%SZ").to_string())
    } else {
        (0x18u8, t.format("%Y%m%d%H%M%SZ").to_string())
    };
    let mut der = vec![tag, text.len() as u8];
    der.extend_from_slice(text.as_bytes());
    w.write_der(&der);
}

/// A random positive 128-bit serial number, minimally encoded.
fn serial_number() -> [u8; 16] {
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    serial
}

/// The key identifier of a public key: the leftmost 160 bits of the
/// SHA-256 of its SubjectPublicKeyInfo (in the spirit of RFC 7093).
pub(crate) fn key_id(spki: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(spki)[..20].to_vec()
}
