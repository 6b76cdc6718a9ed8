//! kubectl's JSONPath templates (`-o jsonpath=...`), as
//! `k8s.io/client-go/util/jsonpath` implements them:
//!
//! - text outside `{...}` is printed as is;
//! - `{.metadata.name}`, `{.items[*].metadata.name}`, `{.items[0].spec}`,
//!   `{.items[-1:]}`, `{.items[0:4:2]}`, `{.metadata.labels.app\.kubernetes\.io/name}`,
//!   `{['metadata']}`, `{.a[0,2]}`, `{..name}`, `{.spec.*}`;
//! - filters `{.status.conditions[?(@.type=="Ready")].status}` with
//!   `== != < > <= >=`, and `[?(@.field)]` for "has the field";
//! - `{range .items[*]}{.metadata.name}{"\n"}{end}`, and string literals
//!   such as `{"\t"}`.
//!
//! Several results of one expression are separated by a space; strings
//! print bare, maps and lists as compact JSON. A field that is missing
//! prints nothing (kubectl allows missing keys); an index out of range is
//! an error, as in kubectl.

mod eval;
mod parse;

use serde_json::Value;

/// A parsed JSONPath template.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    template: String,
    nodes: Vec<parse::Node>,
}

/// A template that does not parse, or that fails on the data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonPathError(pub String);

impl JsonPath {
    /// Parse `template`.
    pub fn parse(template: &str) -> Result<JsonPath, JsonPathError> {
        Ok(JsonPath {
            template: template.to_string(),
            nodes: parse::parse(template)?,
        })
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Run the template over `data`.
    pub fn execute(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        eval::execute(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
