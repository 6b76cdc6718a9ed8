//! `get -w`: output that grows as objects change.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fields::str_at;
use super::table::TableLayout;
use super::tabwriter::TabWriter;
use super::{OutputFormat, PrintError, PrintOptions, Serializer};

/// Prints objects batch by batch as a watch delivers them: first the
/// initial list, then one object per change.
///
/// In a table the header comes once, before the first row ever printed,
/// and column widths are remembered so later rows line up under it (and
/// only ever widen, as kubectl's do). `-o yaml` separates objects with
/// `---`; the other formats print each object as they would alone.
#[derive(Clone, Debug)]
pub struct WatchPrinter {
    format: OutputFormat,
    options: PrintOptions,
    columns: TabWriter,
    printed: usize,
}

impl WatchPrinter {
    pub fn new(format: OutputFormat, options: PrintOptions) -> WatchPrinter {
        WatchPrinter {
            format,
            options,
            columns: TabWriter::new(),
            printed: 0,
        }
    }

    /// The text for `objects` (the initial list, or the object of one
    /// watch event); empty when `objects` is.
    pub fn print(&mut self, objects: &[Value], now: DateTime<Utc>) -> Result<String, PrintError> {
        let mut out = String::new();
        match Serializer::of(&self.format) {
            None => {
                let layout = TableLayout::new(&self.options, self.format == OutputFormat::Wide);
                let mut lines = Vec::with_capacity(objects.len() + 1);
                if let Some(first) = objects.first() {
                    if self.printed == 0 && !self.options.no_headers {
                        lines.push(layout.header(str_at(first, &["kind"])));
                    }
                }
                lines.extend(objects.iter().map(|object| layout.row(object, now)));
                if !objects.is_empty() {
                    out = self.columns.write(&lines);
                }
            }
            Some(serializer) => {
                for (i, object) in objects.iter().enumerate() {
                    if matches!(serializer, Serializer::Yaml) && self.printed + i > 0 {
                        out.push_str("---\n");
                    }
                    out.push_str(&serializer.render(object)?);
                }
            }
        }
        self.printed += objects.len();
        Ok(out)
    }
}
