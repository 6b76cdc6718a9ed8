//! Why a manifest could not be loaded: one readable line per problem,
//! naming the file, the document and, where there is one, the line.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::{Origin, Source};

/// One problem met while loading manifests. Its `Display` is a single line
/// that starts with where the problem is:
///
/// ```text
/// the path "manifests/nope.yaml" does not exist
/// manifests/web.yaml: document 2: line 7, column 3: did not find expected key
/// manifests/web.yaml: document 1 (web): kind not set
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A `-f` argument names a path that does not exist.
    #[error("the path \"{}\" does not exist", .0.display())]
    NotFound(PathBuf),

    /// A `-f` argument is a URL; reading from the network is not supported.
    #[error(
        "{0}: reading manifests from a URL is not supported; download the file and pass its path"
    )]
    Url(String),

    /// A file (or standard input) could not be read, or is not UTF-8.
    #[error("{source_name}: {error}")]
    Read {
        source_name: Source,
        error: io::Error,
    },

    /// A document is not valid YAML or JSON. `line` and `column` count
    /// from 1 within the whole file.
    #[error("{origin}: {}{message}", Position(*.line, *.column))]
    Syntax {
        origin: Origin,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    /// YAML aliases expand a document beyond `limit` bytes: an "anchor
    /// bomb", refused before it can eat the memory.
    #[error(
        "{origin}: YAML aliases expand this file beyond {limit} bytes; refusing to load it (alias bomb?)"
    )]
    TooLarge { origin: Origin, limit: usize },

    /// A document (or list item) is not a JSON object.
    #[error("{origin}: expected an object with apiVersion and kind, found {found}")]
    NotAnObject { origin: Origin, found: &'static str },

    /// An object lacks `apiVersion` and/or `kind`. `object` is its
    /// `(name)` label when it has a name.
    #[error("{origin}{}: {} not set", Label(.object), .missing.join(", "))]
    MissingTypeInfo {
        origin: Origin,
        object: Option<String>,
        missing: Vec<&'static str>,
    },
}

/// `line 7, column 3: ` when the position is known, nothing otherwise.
struct Position(Option<usize>, Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: "),
            (Some(line), None) => write!(f, "line {line}: "),
            _ => Ok(()),
        }
    }
}

/// ` (web)` when there is a label.
struct Label<'a>(&'a Option<String>);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            Some(label) => write!(f, " ({label})"),
            None => Ok(()),
        }
    }
}
