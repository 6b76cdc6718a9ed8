//! Splitting a YAML or JSON stream into its top-level documents.

use std::path::Path;

use serde_json::Value;

use super::yaml::{self, Budget};
use super::{ManifestError, Origin, Source};

/// The syntax a stream is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML, possibly several documents separated by `---`.
    Yaml,
    /// JSON, possibly several values one after another.
    Json,
}

impl Format {
    /// The format a file name promises: `.json` is JSON, `.yaml` and `.yml`
    /// are YAML; any other name promises nothing.
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// Guess from the text, as kubectl's decoder does: JSON when the first
    /// non-blank character opens an object, YAML otherwise.
    pub fn sniff(text: &str) -> Format {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// One top-level document of a stream.
pub(super) struct Document {
    /// 1-based position in the stream, counting empty documents too.
    pub index: usize,
    pub value: Value,
}

/// The documents of `text`, in order. Reading stops at the first syntax
/// error, which is returned along with the documents read before it.
pub(super) fn documents(
    source: &Source,
    text: &str,
    format: Format,
) -> (Vec<Document>, Option<ManifestError>) {
    match format {
        Format::Yaml => yaml_documents(source, text),
        Format::Json => json_documents(source, text),
    }
}

fn yaml_documents(source: &Source, text: &str) -> (Vec<Document>, Option<ManifestError>) {
    let budget = Budget::for_input(text.len());
    let mut documents = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        match yaml::to_json(document, &budget) {
            Ok(value) => documents.push(Document { index, value }),
            Err(err) => {
                let origin = Origin::document(source.clone(), index);
                return (documents, Some(yaml_error(origin, &budget, &err)));
            }
        }
    }
    (documents, None)
}

fn yaml_error(origin: Origin, budget: &Budget, err: &serde_yaml::Error) -> ManifestError {
    let message = err.to_string();
    // serde_yaml has its own guard against alias loops; it reports it only
    // through this message.
    if budget.exhausted() || message.starts_with("repetition limit exceeded") {
        return ManifestError::TooLarge {
            origin,
            limit: budget.limit(),
        };
    }
    let (line, column) = match err.location() {
        Some(at) => (Some(at.line()), Some(at.column())),
        None => (None, None),
    };
    ManifestError::Syntax {
        origin,
        line,
        column,
        message: without_position(message, line, column),
    }
}

fn json_documents(source: &Source, text: &str) -> (Vec<Document>, Option<ManifestError>) {
    let mut documents = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (i, value) in stream.enumerate() {
        let index = i + 1;
        match value {
            Ok(value) => documents.push(Document { index, value }),
            Err(err) => {
                let (line, column) = (Some(err.line()), Some(err.column()));
                let error = ManifestError::Syntax {
                    origin: Origin::document(source.clone(), index),
                    line,
                    column,
                    message: without_position(err.to_string(), line, column),
                };
                return (documents, Some(error));
            }
        }
    }
    (documents, None)
}

/// Drop the ` at line L column C` that parsers put in their messages; the
/// error line shows the position up front instead.
fn without_position(message: String, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => {
            message.replacen(&format!(" at line {line} column {column}"), "", 1)
        }
        _ => message,
    }
}
