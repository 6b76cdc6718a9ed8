//! Field selectors (`?fieldSelector=metadata.name=web,status.phase!=Failed`),
//! parsed as `fields.ParseSelector` parses them.

use std::fmt;

/// `=`/`==` or `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

/// One `field op value` term. `value` is unescaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

impl FieldRequirement {
    fn matches(&self, actual: Option<String>) -> bool {
        match (actual, self.op) {
            (None, _) => false,
            (Some(v), FieldOp::Equals) => v == self.value,
            (Some(v), FieldOp::NotEquals) => v != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FieldOp::Equals => "=",
            FieldOp::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A field selector: every requirement must hold. No requirements matches
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    /// Sorted by their canonical string.
    requirements: Vec<FieldRequirement>,
}

/// The operators, two-character ones first so `a==b` does not read as `a=` `=b`.
const OPERATORS: [(&str, FieldOp); 3] = [
    ("!=", FieldOp::NotEquals),
    ("==", FieldOp::Equals),
    ("=", FieldOp::Equals),
];

impl FieldSelector {
    /// Parse `a=b`, `a==b`, `a!=b`, comma-separated. In values, `\,`, `\=`
    /// and `\\` are escapes for `,`, `=` and `\`; an unescaped `,` or `=` in
    /// a value or any other escape is an error. The field name is taken up to
    /// the first operator, unescaped and untrimmed, as upstream does.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let terms = split_terms(s);
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, op, raw)) = split_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape_value(raw)?,
            });
        }
        // Canonical order (upstream sorts the raw terms; sorting the
        // normalized ones makes `a==b` and `a=b` selectors compare equal).
        requirements.sort_by_cached_key(ToString::to_string);
        Ok(FieldSelector { requirements })
    }

    /// The selector that matches every object.
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// True when there are no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object matches; `get` returns the value of a field path
    /// (`metadata.name`), or `None` for a field the kind does not support,
    /// which never matches.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| r.matches(get(&r.field)))
    }

    /// The requirements, in canonical order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The value this selector pins `field` to with `=`, if any (lets the
    /// apiserver narrow a list by namespace or name).
    pub fn exact_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOp::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// `a=b,c!=d` with values escaped; parses back to an equal selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<FieldSelector, String> {
        FieldSelector::parse(s)
    }
}

/// Split on commas that are not backslash-escaped; escapes stay in place.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Split a term at the first operator.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, kind)| (&term[..i], *kind, &rest[op.len()..]))
    })
}

/// `fields.UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' || c == '=' {
            return Err(format!(
                "invalid field selector: unescaped character in value: {c}"
            ));
        } else {
            out.push(c);
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".into());
    }
    Ok(out)
}

/// `fields.EscapeValue`.
fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_fields(field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some("web-1".into()),
            "metadata.namespace" => Some("default".into()),
            "spec.nodeName" => Some(String::new()),
            "status.phase" => Some("Running".into()),
            _ => None,
        }
    }

    #[test]
    fn empty_matches_everything() {
        let s = FieldSelector::parse("").unwrap();
        assert!(s.is_empty());
        assert_eq!(s, FieldSelector::everything());
        assert!(s.matches(pod_fields));
        assert!(FieldSelector::parse(",").unwrap().is_empty());
    }

    #[test]
    fn operators() {
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(pod_fields);
        assert!(m("metadata.name=web-1"));
        assert!(m("metadata.name==web-1"));
        assert!(!m("metadata.name=web-2"));
        assert!(m("status.phase!=Failed"));
        assert!(!m("status.phase!=Running"));
        assert!(m("spec.nodeName="));
        assert!(m("metadata.namespace=default,status.phase=Running"));
        assert!(!m("metadata.namespace=default,status.phase=Pending"));
        // unknown fields never match, whatever the operator
        assert!(!m("spec.bogus=x"));
        assert!(!m("spec.bogus!=x"));
    }

    #[test]
    fn requirements_and_exact_value() {
        let s =
            FieldSelector::parse("status.phase!=Failed,metadata.namespace==kube-system").unwrap();
        assert_eq!(
            s.requirements(),
            [
                FieldRequirement {
                    field: "metadata.namespace".into(),
                    op: FieldOp::Equals,
                    value: "kube-system".into()
                },
                FieldRequirement {
                    field: "status.phase".into(),
                    op: FieldOp::NotEquals,
                    value: "Failed".into()
                },
            ]
        );
        assert_eq!(s.exact_value("metadata.namespace"), Some("kube-system"));
        assert_eq!(s.exact_value("status.phase"), None);
        assert_eq!(s.exact_value("metadata.name"), None);
    }

    #[test]
    fn escapes() {
        let s = FieldSelector::parse(r"a=x\,y\=z\\w,b!=c").unwrap();
        assert_eq!(s.requirements()[0].value, r"x,y=z\w");
        assert_eq!(s.to_string(), r"a=x\,y\=z\\w,b!=c");
        assert_eq!(FieldSelector::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn errors() {
        assert_eq!(
            FieldSelector::parse("a").unwrap_err(),
            "invalid selector: 'a'; can't understand 'a'"
        );
        assert_eq!(
            FieldSelector::parse("a=b,c").unwrap_err(),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            "invalid field selector: unescaped character in value: ="
        );
        assert_eq!(
            FieldSelector::parse(r"a=\x").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=x\").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \"
        );
    }

    #[test]
    fn display_is_sorted_and_round_trips() {
        let s = FieldSelector::parse("status.phase=Running,metadata.name==web").unwrap();
        assert_eq!(s.to_string(), "metadata.name=web,status.phase=Running");
        assert_eq!(FieldSelector::parse(&s.to_string()).unwrap(), s);
    }
}
