//! Loading manifests for `apply|create|replace|delete -f FILE|DIR|-`.
//!
//! Every object keeps its [`Origin`] — the file (or standard input), the
//! 1-based document in it and, for an item of a `kind: List`, its position
//! in `items` — so that a problem with it reads as one line that says
//! where to look:
//!
//! ```text
//! manifests/web.yaml: document 2 (Deployment web): spec.replicas: Invalid value: -1: must be >= 0
//! ```
//!
//! [`load`] reads what the `-f` arguments name (directories in name order,
//! recursively with `-R`); [`parse`] reads one stream already in memory.
//! Both carry on past a bad file or document and return every object they
//! could read together with every problem they met, as kubectl does.

mod decode;
mod error;
mod paths;
mod yaml;

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

pub use decode::Format;
pub use error::ManifestError;

/// A stream manifests are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-f -`), shown as `STDIN` as kubectl does.
    Stdin,
    /// A file, shown by the path it was reached through.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("STDIN"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Where one object came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub source: Source,
    /// 1-based index of the document in the stream (empty documents count).
    pub document: usize,
    /// 1-based index in `items` when the document is a `kind: List`.
    pub item: Option<usize>,
}

impl Origin {
    /// Document `document` of `source`.
    pub fn document(source: Source, document: usize) -> Origin {
        Origin {
            source,
            document,
            item: None,
        }
    }

    /// Item `item` of the list this origin is.
    fn item(&self, item: usize) -> Origin {
        Origin {
            item: Some(item),
            ..self.clone()
        }
    }
}

impl fmt::Display for Origin {
    /// `manifests/web.yaml: document 2`, or `...: document 1, item 3`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: document {}", self.source, self.document)?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        Ok(())
    }
}

/// One object read from a manifest, with `apiVersion` and `kind` set.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub origin: Origin,
    /// The object as written (a JSON object).
    pub object: Value,
}

impl Manifest {
    /// `kind`, e.g. `Deployment`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    /// `apiVersion`, e.g. `apps/v1`.
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    /// `metadata.name`, if set.
    pub fn name(&self) -> Option<&str> {
        non_empty(&self.object["metadata"]["name"])
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        non_empty(&self.object["metadata"]["namespace"])
    }

    /// Where the object is and what it is:
    /// `manifests/web.yaml: document 2 (Deployment web)`.
    pub fn describe_origin(&self) -> String {
        let label = match object_name(&self.object) {
            Some(name) => format!("{} {name}", self.kind()),
            None => self.kind().to_string(),
        };
        format!("{} ({label})", self.origin)
    }

    /// The one line that reports `problem` with this object:
    /// `manifests/web.yaml: document 2 (Deployment web): {problem}`.
    pub fn error_line(&self, problem: impl fmt::Display) -> String {
        format!("{}: {problem}", self.describe_origin())
    }
}

/// Everything read from the `-f` arguments: the objects, in order, and
/// every problem met on the way (empty when all went well).
#[derive(Debug, Default)]
pub struct Loaded {
    pub manifests: Vec<Manifest>,
    pub errors: Vec<ManifestError>,
}

impl Loaded {
    fn extend(&mut self, other: Loaded) {
        self.manifests.extend(other.manifests);
        self.errors.extend(other.errors);
    }

    /// Keep `value` as a manifest if it is an object with type information.
    fn push(&mut self, origin: Origin, value: Value) {
        if !value.is_object() {
            self.errors.push(ManifestError::NotAnObject {
                origin,
                found: json_type(&value),
            });
            return;
        }
        let missing: Vec<&'static str> = ["apiVersion", "kind"]
            .into_iter()
            .filter(|field| non_empty(&value[*field]).is_none())
            .collect();
        if missing.is_empty() {
            self.manifests.push(Manifest {
                origin,
                object: value,
            });
        } else {
            self.errors.push(ManifestError::MissingTypeInfo {
                origin,
                object: object_name(&value).map(str::to_string),
                missing,
            });
        }
    }
}

/// Read the manifests that `-f` arguments name: files, directories (their
/// `.json`, `.yaml` and `.yml` files in name order; sub-directories too
/// when `recursive`) and `-` for `stdin`.
pub fn load<S: AsRef<str>>(args: &[S], recursive: bool, stdin: &mut dyn Read) -> Loaded {
    let (sources, errors) = paths::expand(args, recursive);
    let mut loaded = Loaded {
        manifests: Vec::new(),
        errors,
    };
    for source in sources {
        let text = match &source {
            Source::Stdin => {
                let mut text = String::new();
                stdin.read_to_string(&mut text).map(|_| text)
            }
            Source::File(path) => fs::read_to_string(path),
        };
        match text {
            Ok(text) => {
                let format = match &source {
                    Source::File(path) => Format::from_extension(path),
                    Source::Stdin => None,
                };
                let format = format.unwrap_or_else(|| Format::sniff(&text));
                loaded.extend(parse(source, &text, format));
            }
            Err(error) => loaded.errors.push(ManifestError::Read {
                source_name: source,
                error,
            }),
        }
    }
    loaded
}

/// Read every object in one stream: empty documents are skipped, the items
/// of a `kind: List` (or any `*List` with `items`) become objects of their
/// own, and each must have `apiVersion` and `kind`.
pub fn parse(source: Source, text: &str, format: Format) -> Loaded {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (documents, syntax_error) = decode::documents(&source, text, format);
    let mut loaded = Loaded::default();
    for document in documents {
        let origin = Origin::document(source.clone(), document.index);
        match document.value {
            Value::Null => {}
            Value::Object(mut list) if is_list(&list) => {
                let items = match list.remove("items") {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    loaded.push(origin.item(i + 1), item);
                }
            }
            value => loaded.push(origin, value),
        }
    }
    loaded.errors.extend(syntax_error);
    loaded
}

/// A `kind: List` (or `PodList`, ...) whose `items` are the objects.
fn is_list(object: &serde_json::Map<String, Value>) -> bool {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    kind.ends_with("List") && matches!(object.get("items"), Some(Value::Array(_) | Value::Null))
}

/// `metadata.name`, or else `metadata.generateName`.
fn object_name(object: &Value) -> Option<&str> {
    non_empty(&object["metadata"]["name"])
        .or_else(|| non_empty(&object["metadata"]["generateName"]))
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// How a JSON value's type reads in an error message.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
