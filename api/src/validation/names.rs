//! Name and label syntax checks (`k8s.io/apimachinery/pkg/util/validation`).

use crate::status::{FieldError, FieldErrors};

pub const DNS1123_LABEL_MAX: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
pub const LABEL_VALUE_MAX: usize = 63;

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= DNS1123_LABEL_MAX
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, ≤ 63 chars,
/// starting and ending alphanumeric (namespace names, container names).
pub fn dns1123_label(field: &str, value: &str) -> FieldErrors {
    if is_dns1123_label(value) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errs.push(FieldError::invalid(
            field,
            value,
            &format!("must be no more than {DNS1123_LABEL_MAX} characters"),
        ));
    }
    errs.push(FieldError::invalid(
        field,
        value,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ));
    errs
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= DNS1123_SUBDOMAIN_MAX && s.split('.').all(is_dns1123_label)
}

/// A DNS-1123 subdomain: dot-separated labels, ≤ 253 chars (most object names).
pub fn dns1123_subdomain(field: &str, value: &str) -> FieldErrors {
    if is_dns1123_subdomain(value) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(FieldError::invalid(
            field,
            value,
            &format!("must be no more than {DNS1123_SUBDOMAIN_MAX} characters"),
        ));
    }
    errs.push(FieldError::invalid(
        field,
        value,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ));
    errs
}

/// RFC 1035 label (Service names): like a DNS-1123 label but must start
/// with a letter.
pub fn dns1035_label(field: &str, value: &str) -> FieldErrors {
    if is_dns1123_label(value) && value.as_bytes()[0].is_ascii_lowercase() {
        return Vec::new();
    }
    vec![FieldError::invalid(
        field,
        value,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    )]
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A qualified name (label keys, annotation keys, finalizers):
/// optional DNS-subdomain prefix and `/`, then a name of ≤ 63 chars.
pub fn qualified_name(field: &str, value: &str) -> FieldErrors {
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    let mut ok = is_qualified_name_part(name);
    if let Some(p) = prefix {
        ok &= is_dns1123_subdomain(p);
    }
    if ok {
        return Vec::new();
    }
    vec![FieldError::invalid(
        field,
        value,
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    )]
}

/// A label value: empty, or a qualified-name part of ≤ 63 chars.
pub fn label_value(field: &str, value: &str) -> FieldErrors {
    if value.is_empty() || is_qualified_name_part(value) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(FieldError::invalid(
            field,
            value,
            &format!("must be no more than {LABEL_VALUE_MAX} characters"),
        ));
    }
    errs.push(FieldError::invalid(
        field,
        value,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(dns1123_label("f", "web-1").is_empty());
        assert!(!dns1123_label("f", "Web").is_empty());
        assert!(!dns1123_label("f", "-web").is_empty());
        assert!(!dns1123_label("f", &"a".repeat(64)).is_empty());
        assert!(dns1123_subdomain("f", "a.b-c.d").is_empty());
        assert!(!dns1123_subdomain("f", "a..b").is_empty());
        assert!(!dns1123_subdomain("f", "a/b").is_empty());
        assert!(!dns1035_label("f", "1abc").is_empty());
    }

    #[test]
    fn qualified_names_and_label_values() {
        assert!(qualified_name("f", "app.kubernetes.io/name").is_empty());
        assert!(qualified_name("f", "app").is_empty());
        assert!(!qualified_name("f", "bad key").is_empty());
        assert!(!qualified_name("f", "a/b/c").is_empty());
        assert!(label_value("f", "").is_empty());
        assert!(label_value("f", "v1.2_x").is_empty());
        assert!(!label_value("f", &"x".repeat(64)).is_empty());
    }
}
