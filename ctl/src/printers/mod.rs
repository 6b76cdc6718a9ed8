//! kubectl's output formats over objects as JSON values.
//!
//! - the default table per kind ([`OutputFormat::Table`]) and `-o wide`,
//!   with kubectl's columns and cells (from [`tug_api::table`], which the
//!   apiserver's `Table` responses use too) and spacing;
//! - `-o yaml`, `-o json` (one object as is; several as a `kind: List`);
//! - `-o name` (`deployment.apps/web`);
//! - `-o jsonpath=TEMPLATE` ([`JsonPath`]);
//! - [`WatchPrinter`] for `get -w`: a row per change, the header once.
//!
//! Nothing here reads the clock: callers pass "now", so output is
//! deterministic under test.

mod gojson;
pub mod jsonpath;
mod names;
mod table;
mod tabwriter;
mod watch;
mod yaml;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub use jsonpath::{JsonPath, JsonPathError};
pub use names::{kind_prefix, qualified_name};
pub use tabwriter::TabWriter;
pub use watch::WatchPrinter;

/// Durations as kubectl prints them; shared with the apiserver's tables.
pub mod duration {
    pub use tug_api::table::duration::*;
}

/// Reading fields of objects as JSON; shared with the apiserver's tables.
pub(crate) mod fields {
    pub(crate) use tug_api::table::fields::*;
}

/// An `-o` format.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputFormat {
    /// No `-o`: the kind's table.
    Table,
    /// `-o wide`: the table with more columns.
    Wide,
    /// `-o yaml`.
    Yaml,
    /// `-o json`.
    Json,
    /// `-o name`.
    Name,
    /// `-o jsonpath=TEMPLATE`.
    JsonPath(JsonPath),
}

impl FromStr for OutputFormat {
    type Err = PrintError;

    /// Parse the value of `-o` (empty for none).
    fn from_str(s: &str) -> Result<OutputFormat, PrintError> {
        match s {
            "" => Ok(OutputFormat::Table),
            "wide" => Ok(OutputFormat::Wide),
            "yaml" => Ok(OutputFormat::Yaml),
            "json" => Ok(OutputFormat::Json),
            "name" => Ok(OutputFormat::Name),
            "jsonpath" => Err(PrintError::MissingTemplate),
            _ => match s.strip_prefix("jsonpath=") {
                Some(template) => JsonPath::parse(template)
                    .map(OutputFormat::JsonPath)
                    .map_err(|error| PrintError::JsonPathParse {
                        template: template.to_string(),
                        error,
                    }),
                None => Err(PrintError::UnknownFormat(s.to_string())),
            },
        }
    }
}

/// Flags that change what a table shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrintOptions {
    /// `-A` on a namespaced kind: a leading NAMESPACE column. (kubectl
    /// leaves it out for cluster-scoped kinds; the caller knows the scope.)
    pub with_namespace: bool,
    /// `--show-labels`: a trailing LABELS column.
    pub show_labels: bool,
    /// Names as `kind.group/name`, when one `get` asked for several kinds.
    pub with_kind: bool,
    /// `--no-headers`.
    pub no_headers: bool,
}

/// Whether the objects answer a request for one named object or for a
/// list; `-o yaml|json|jsonpath` print a `kind: List` for the latter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `get KIND NAME`: the object itself.
    Single,
    /// `get KIND`, `get KIND A B`, `-l ...`: a `List` of them.
    List,
}

/// Why output could not be produced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("unable to match a printer suitable for the output format \"{0}\", allowed formats are: json,jsonpath,name,wide,yaml")]
    UnknownFormat(String),
    #[error("template format specified but no template given")]
    MissingTemplate,
    #[error("error parsing jsonpath {template}, {error}")]
    JsonPathParse {
        template: String,
        error: JsonPathError,
    },
    #[error("error executing jsonpath {template:?}: {error}")]
    JsonPathExecute {
        template: String,
        error: JsonPathError,
    },
    #[error("missing kind for resource with name {0}")]
    MissingKind(String),
}

/// Print `objects` in `format` (see [`Shape`]). Tables print one table
/// per run of objects of one kind; with no objects they print nothing
/// (the caller says [`no_resources_message`] on stderr, as kubectl does).
pub fn print(
    objects: &[Value],
    shape: Shape,
    format: &OutputFormat,
    options: &PrintOptions,
    now: DateTime<Utc>,
) -> Result<String, PrintError> {
    match Serializer::of(format) {
        None => Ok(table::render(
            objects,
            options,
            *format == OutputFormat::Wide,
            now,
        )),
        Some(Serializer::Name) => objects.iter().map(|o| Serializer::Name.render(o)).collect(),
        Some(serializer) => match (shape, objects) {
            (Shape::Single, [object]) => serializer.render(object),
            _ => serializer.render(&as_list(objects)),
        },
    }
}

/// The formats that write each object (or list) on its own, rather than
/// as rows of a table.
#[derive(Clone, Copy)]
enum Serializer<'f> {
    Yaml,
    Json,
    Name,
    JsonPath(&'f JsonPath),
}

impl<'f> Serializer<'f> {
    /// `None` for the table formats.
    fn of(format: &'f OutputFormat) -> Option<Serializer<'f>> {
        match format {
            OutputFormat::Table | OutputFormat::Wide => None,
            OutputFormat::Yaml => Some(Serializer::Yaml),
            OutputFormat::Json => Some(Serializer::Json),
            OutputFormat::Name => Some(Serializer::Name),
            OutputFormat::JsonPath(path) => Some(Serializer::JsonPath(path)),
        }
    }

    fn render(self, object: &Value) -> Result<String, PrintError> {
        match self {
            Serializer::Yaml => Ok(yaml::to_yaml(object)),
            Serializer::Json => Ok(gojson::to_indented(object)),
            Serializer::Name => Ok(format!("{}\n", qualified_name(object)?)),
            Serializer::JsonPath(path) => {
                path.execute(object)
                    .map_err(|error| PrintError::JsonPathExecute {
                        template: path.template().to_string(),
                        error,
                    })
            }
        }
    }
}

/// The `kind: List` kubectl prints several objects as.
pub fn as_list(objects: &[Value]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": objects,
    })
}

/// The items of a `{Kind}List` the API returned, each with `apiVersion`
/// and `kind` filled in from the list when it lacks them (printers pick
/// a table by `kind`).
pub fn items_with_kind(list: &Value) -> Vec<Value> {
    let kind = list["kind"].as_str().unwrap_or_default();
    let kind = kind.strip_suffix("List").unwrap_or(kind);
    let api_version = list["apiVersion"].clone();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .map(|mut item| {
            if let Some(object) = item.as_object_mut() {
                if !object.contains_key("kind") && !kind.is_empty() {
                    object.insert("kind".into(), Value::String(kind.to_string()));
                }
                if !object.contains_key("apiVersion") && !api_version.is_null() {
                    object.insert("apiVersion".into(), api_version.clone());
                }
            }
            item
        })
        .collect()
}

/// What kubectl says on stderr when a `get` finds nothing:
/// `No resources found in default namespace.`, or `No resources found`
/// for all namespaces and cluster-scoped kinds (`namespace` is `None`).
pub fn no_resources_message(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("No resources found in {ns} namespace."),
        None => "No resources found".to_string(),
    }
}

#[cfg(test)]
mod tests;
