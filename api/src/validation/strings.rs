//! String syntax checks used across kinds: environment variable names,
//! percentages, file paths and HTTP header names.

use crate::status::{FieldError, FieldErrors};

/// An environment variable name (`IsEnvVarName`): `[-._a-zA-Z][-._a-zA-Z0-9]*`,
/// and not `.`, `..` or starting with `..`.
pub fn env_var_name(field: &str, name: &str) -> FieldErrors {
    let b = name.as_bytes();
    let charset_ok = !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        && !b[0].is_ascii_digit();
    let mut errs = Vec::new();
    if !charset_ok {
        errs.push(FieldError::invalid(
            field,
            name,
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
        ));
    }
    errs.extend(no_dot_prefix(field, name));
    errs
}

fn no_dot_prefix(field: &str, name: &str) -> FieldErrors {
    let msg = match name {
        "." => "must not be '.'",
        ".." => "must not be '..'",
        _ if name.starts_with("..") => "must not start with '..'",
        _ => return Vec::new(),
    };
    vec![FieldError::invalid(field, name, msg)]
}

/// Whether `value` is a percentage such as `25%`.
pub fn is_percent(value: &str) -> bool {
    value
        .strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// The message for a string that should be a percentage.
pub const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// A path without `..` components.
pub fn no_backsteps(field: &str, path: &str) -> FieldErrors {
    if path.split('/').any(|p| p == "..") {
        vec![FieldError::invalid(field, path, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// An absolute path without `..` components.
pub fn absolute_path(field: &str, path: &str) -> FieldErrors {
    if !path.starts_with('/') {
        return vec![FieldError::invalid(field, path, "must be an absolute path")];
    }
    no_backsteps(field, path)
}

/// A relative path that stays below its root (`subPath`, item paths).
pub fn local_descending_path(field: &str, path: &str) -> FieldErrors {
    if path.starts_with('/') {
        return vec![FieldError::invalid(field, path, "must be a relative path")];
    }
    no_backsteps(field, path)
}

/// An HTTP header name: `[-A-Za-z0-9]+`.
pub fn http_header_name(field: &str, name: &str) -> FieldErrors {
    if !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            field,
            name,
            "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(env_var_name("f", "MY_VAR.x-1").is_empty());
        assert!(!env_var_name("f", "1VAR").is_empty());
        assert!(!env_var_name("f", "A=B").is_empty());
        assert_eq!(
            env_var_name("f", "..x")[0].detail,
            "must not start with '..'"
        );
    }

    #[test]
    fn percents_and_paths() {
        assert!(is_percent("25%"));
        assert!(!is_percent("%"));
        assert!(!is_percent("2.5%"));
        assert!(!is_percent("25"));
        assert!(absolute_path("f", "/var/log").is_empty());
        assert_eq!(
            absolute_path("f", "var")[0].detail,
            "must be an absolute path"
        );
        assert_eq!(
            absolute_path("f", "/a/../b")[0].detail,
            "must not contain '..'"
        );
        assert!(no_backsteps("f", "/a/..b").is_empty());
        assert_eq!(
            local_descending_path("f", "/abs")[0].detail,
            "must be a relative path"
        );
        assert!(http_header_name("f", "X-Custom").is_empty());
        assert!(!http_header_name("f", "X Custom").is_empty());
    }
}
