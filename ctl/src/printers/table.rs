//! Human-readable tables: the kind's columns, plus the leading NAMESPACE
//! column of `-A`, the trailing LABELS column of `--show-labels`, and
//! `kind/name` names when one `get` prints several kinds.

use chrono::{DateTime, Utc};
use serde_json::Value;

use tug_api::table::{self as kinds, Cell, Context};

use super::fields::{format_labels, str_at};
use super::names::kind_prefix;
use super::tabwriter::TabWriter;
use super::PrintOptions;

/// Lays out the rows of one kind's table.
pub(crate) struct TableLayout<'o> {
    options: &'o PrintOptions,
    wide: bool,
}

impl<'o> TableLayout<'o> {
    pub fn new(options: &'o PrintOptions, wide: bool) -> TableLayout<'o> {
        TableLayout { options, wide }
    }

    /// The header cells for objects of `kind`.
    pub fn header(&self, kind: &str) -> Vec<String> {
        let mut header = Vec::new();
        if self.options.with_namespace {
            header.push("NAMESPACE".to_string());
        }
        header.extend(kinds::for_kind(kind).headers(self.wide));
        if self.options.show_labels {
            header.push("LABELS".to_string());
        }
        header
    }

    /// The cells of one object.
    pub fn row(&self, object: &Value, now: DateTime<Utc>) -> Vec<String> {
        let columns = kinds::for_kind(str_at(object, &["kind"]));
        let ctx = Context {
            now,
            wide: self.wide,
        };
        let mut cells: Vec<String> = columns
            .row(object, &ctx)
            .iter()
            .map(Cell::to_string)
            .collect();
        if self.options.with_kind {
            let name_column = columns
                .visible(self.wide)
                .position(|c| c.header() == "NAME");
            if let (Some(i), Ok(prefix)) = (name_column, kind_prefix(object)) {
                cells[i] = format!("{prefix}/{}", cells[i]);
            }
        }
        let mut row = Vec::with_capacity(cells.len() + 2);
        if self.options.with_namespace {
            row.push(str_at(object, &["metadata", "namespace"]).to_string());
        }
        row.extend(cells);
        if self.options.show_labels {
            row.push(format_labels(&object["metadata"]["labels"]));
        }
        row.into_iter().map(|cell| printable(&cell)).collect()
    }
}

/// Tables for `objects`: one per run of objects of the same kind, each
/// with its header (unless `no_headers`), separated by a blank line.
pub(crate) fn render(
    objects: &[Value],
    options: &PrintOptions,
    wide: bool,
    now: DateTime<Utc>,
) -> String {
    let layout = TableLayout::new(options, wide);
    let mut tables = Vec::new();
    for group in objects.chunk_by(|a, b| a["kind"] == b["kind"]) {
        let mut lines = Vec::with_capacity(group.len() + 1);
        if !options.no_headers {
            lines.push(layout.header(str_at(&group[0], &["kind"])));
        }
        lines.extend(group.iter().map(|object| layout.row(object, now)));
        tables.push(TabWriter::new().write(&lines));
    }
    tables.join("\n")
}

/// A cell as kubectl prints it: cut at the first line break (with `...`
/// to show it was cut), the escape character made visible.
fn printable(cell: &str) -> String {
    let (text, cut) = match cell.find(['\n', '\r', '\u{c}']) {
        Some(at) => (&cell[..at], true),
        None => (cell, false),
    };
    let mut out = text.replace('\u{1b}', "^[");
    if cut {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_at_line_breaks_and_escapes_shown() {
        assert_eq!(printable("one\ntwo"), "one...");
        assert_eq!(printable("a\u{1b}[31mred"), "a^[[31mred");
        assert_eq!(printable("plain"), "plain");
    }
}
