//! How offending values are rendered in field errors when the default
//! `Debug` form would not read like Kubernetes' own messages.

use std::collections::BTreeMap;
use std::fmt;

/// A value shown verbatim (no quotes) in a field error, e.g. a number held
/// in an `Option` or an int-or-string.
#[derive(Clone, PartialEq, Eq)]
pub struct Raw(pub String);

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Render a string map the way Go's `%#v` does, which is what Kubernetes
/// prints for label maps: `map[string]string{"app":"web", "tier":"fe"}`.
pub fn go_string_map(map: &BTreeMap<String, String>) -> Raw {
    let body: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    Raw(format!("map[string]string{{{}}}", body.join(", ")))
}

/// Render a string list the way Go's `%#v` does: `[]string{"a", "b"}`.
pub fn go_string_slice(list: &[String]) -> Raw {
    let body: Vec<String> = list.iter().map(|v| format!("{v:?}")).collect();
    Raw(format!("[]string{{{}}}", body.join(", ")))
}

/// Render an int-or-string as the user wrote it: `0` or `"25%"`.
pub fn int_or_string(v: &crate::intstr::IntOrString) -> Raw {
    match v {
        crate::intstr::IntOrString::Int(i) => Raw(i.to_string()),
        crate::intstr::IntOrString::String(s) => Raw(format!("{s:?}")),
    }
}

/// A `Not found` field error (`field.NotFound` upstream): the value names
/// something that does not exist, such as a volume a mount refers to.
pub fn not_found(field: &str, value: impl fmt::Debug) -> crate::status::FieldError {
    crate::status::FieldError {
        kind: crate::status::FieldErrorType::NotFound,
        field: field.to_string(),
        value: Some(format!("{value:?}")),
        detail: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_map_rendering() {
        let mut m = BTreeMap::new();
        m.insert("app".to_string(), "web".to_string());
        m.insert("tier".to_string(), "fe".to_string());
        assert_eq!(
            format!("{:?}", go_string_map(&m)),
            r#"map[string]string{"app":"web", "tier":"fe"}"#
        );
        assert_eq!(
            format!("{:?}", go_string_map(&BTreeMap::new())),
            "map[string]string{}"
        );
    }
}
