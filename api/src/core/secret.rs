//! `v1` Secret. `data` holds base64 text on the wire; `stringData` is a
//! write-only convenience merged into `data` before storage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::base64;
use crate::impl_resource;
use crate::meta::ObjectMeta;
use crate::status::{FieldError, FieldErrors};
use crate::strategy::Strategy;
use crate::validation;

/// The largest a Secret's decoded data may be: 1 MiB.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
const REDACTED: &str = "<secret contents redacted>";

/// `v1.Secret`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secret {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Values are base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Plain-text values; merged into `data` on write, never stored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    /// `Opaque` (default), `kubernetes.io/tls`, `kubernetes.io/dockerconfigjson`, ...
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl_resource!(
    Secret,
    group = "",
    version = "v1",
    kind = "Secret",
    plural = "secrets",
    singular = "secret",
    namespaced = true,
    short = []
);

impl Secret {
    /// The decoded value of one `data` key (for the kubelet, which mounts
    /// and injects secrets). `None` if absent or not valid base64.
    pub fn decoded(&self, key: &str) -> Option<Vec<u8>> {
        self.data.get(key).and_then(|v| base64::decode(v).ok())
    }

    /// Set one `data` key from raw bytes.
    pub fn set_decoded(&mut self, key: &str, value: &[u8]) {
        self.data.insert(key.to_string(), base64::encode(value));
    }

    /// Fold `stringData` into `data` (its values win), base64-encoded, and
    /// re-encode valid `data` values canonically (line breaks dropped).
    fn merge_string_data(&mut self) {
        for v in self.data.values_mut() {
            if let Ok(raw) = base64::decode(v) {
                *v = base64::encode(&raw);
            }
        }
        for (k, v) in std::mem::take(&mut self.string_data) {
            self.data.insert(k, base64::encode(v.as_bytes()));
        }
    }
}

impl Strategy for Secret {
    /// `type: Opaque`.
    fn apply_defaults(&mut self) {
        if self.type_.is_empty() {
            self.type_ = "Opaque".into();
        }
    }

    fn validate(&self) -> FieldErrors {
        let mut errs = validation::object_meta(&self.metadata, true);
        errs.extend(validate_data(self));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = validation::object_meta_update(&self.metadata, &old.metadata, true);
        errs.extend(validate_data(self));
        if self.type_ != old.type_ {
            errs.push(FieldError::invalid(
                "type",
                &self.type_,
                "field is immutable",
            ));
        }
        if old.immutable == Some(true) {
            if self.immutable != Some(true) {
                errs.push(FieldError::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if self.data != old.data {
                errs.push(FieldError::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errs
    }

    fn prepare_for_create(&mut self) {
        self.merge_string_data();
    }

    fn prepare_for_update(&mut self, _old: &Self) {
        self.merge_string_data();
    }

    fn field_value(&self, path: &str) -> Option<String> {
        (path == "type").then(|| self.type_.clone())
    }
}

/// Keys, base64 values, total size and the keys each well-known type needs.
fn validate_data(s: &Secret) -> FieldErrors {
    let mut errs = Vec::new();
    let mut total = 0;
    let mut decoded = BTreeMap::new();
    for (key, value) in &s.data {
        let field = format!("data[{key}]");
        errs.extend(validation::config_map_key(&field, key));
        match base64::decode(value) {
            Ok(raw) => {
                total += raw.len();
                decoded.insert(key.as_str(), raw);
            }
            Err(msg) => errs.push(FieldError::invalid(&field, REDACTED, &msg)),
        }
    }
    for (key, value) in &s.string_data {
        errs.extend(validation::config_map_key(
            &format!("stringData[{key}]"),
            key,
        ));
        if !decoded.contains_key(key.as_str()) {
            total += value.len();
        }
        decoded.insert(key.as_str(), value.as_bytes().to_vec());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| decoded.contains_key(k);
    let required = |k: &str| FieldError::required(&format!("data[{k}]"), "");
    match s.type_.as_str() {
        "kubernetes.io/service-account-token" => {
            let key = "kubernetes.io/service-account.name";
            if s.metadata.annotations.get(key).is_none_or(|v| v.is_empty()) {
                errs.push(FieldError::required(
                    &format!("metadata.annotations[{key}]"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if s.type_ == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match decoded.get(key) {
                None => errs.push(required(key)),
                Some(raw) => {
                    if let Err(e) = serde_json::from_slice::<serde_json::Value>(raw) {
                        errs.push(FieldError::invalid(
                            &format!("data[{key}]"),
                            REDACTED,
                            &e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if decoded.get("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(required(key));
                }
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_strict;

    fn secret(json: serde_json::Value) -> Secret {
        let mut s: Secret = decode_strict(json).unwrap();
        s.apply_defaults();
        s
    }

    fn lines(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn string_data_is_merged_into_data() {
        let mut s = secret(serde_json::json!({
            "metadata": {"name": "db", "namespace": "default"},
            "data": {"username": "YWRtaW4=", "password": "b2xk"},
            "stringData": {"password": "s3cret", "host": "db.local"}
        }));
        assert_eq!(s.type_, "Opaque");
        s.prepare_for_create();
        assert!(s.string_data.is_empty(), "never stored");
        assert_eq!(s.data["username"], "YWRtaW4=");
        assert_eq!(
            s.data["password"],
            base64::encode(b"s3cret"),
            "stringData wins"
        );
        assert_eq!(s.decoded("host").unwrap(), b"db.local");
        assert_eq!(lines(&s.validate()), Vec::<String>::new());
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("stringData").is_none());
        assert_eq!(v["type"], "Opaque");
    }

    #[test]
    fn data_must_be_base64() {
        let s = secret(serde_json::json!({
            "metadata": {"name": "db", "namespace": "default"},
            "data": {"password": "not base64!"}
        }));
        assert_eq!(
            lines(&s.validate()),
            vec![
                r#"data[password]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3"#
            ]
        );
    }

    #[test]
    fn keys_size_and_types() {
        let mut s = secret(serde_json::json!({
            "metadata": {"name": "db", "namespace": "default"},
            "data": {"bad key": "YQ=="}
        }));
        assert_eq!(
            lines(&s.validate()),
            vec![
                r#"data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"#
            ]
        );
        s.data.clear();
        s.set_decoded("blob", &vec![0u8; MAX_SECRET_SIZE + 1]);
        assert_eq!(
            lines(&s.validate()),
            vec!["data: Too long: may not be more than 1048576 bytes"]
        );
        s.data.clear();
        s.type_ = "kubernetes.io/tls".into();
        s.set_decoded("tls.crt", b"cert");
        assert_eq!(lines(&s.validate()), vec!["data[tls.key]: Required value"]);
    }

    #[test]
    fn immutable_secrets_and_type() {
        let mut old = secret(serde_json::json!({
            "metadata": {"name": "db", "namespace": "default"},
            "stringData": {"password": "a"},
            "immutable": true
        }));
        old.prepare_for_create();
        let mut new = old.clone();
        new.string_data.insert("password".into(), "b".into());
        new.prepare_for_update(&old);
        assert_eq!(
            lines(&new.validate_update(&old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let mut retyped = old.clone();
        retyped.type_ = "kubernetes.io/basic-auth".into();
        retyped.set_decoded("username", b"u");
        retyped.data.remove("password");
        let l = lines(&retyped.validate_update(&old));
        assert!(
            l.contains(
                &r#"type: Invalid value: "kubernetes.io/basic-auth": field is immutable"#
                    .to_string()
            ),
            "{l:#?}"
        );
        assert_eq!(old.field_value("type").as_deref(), Some("Opaque"));
    }
}
