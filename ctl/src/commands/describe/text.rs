//! The text of `describe`: lines of tab-separated cells at indentation
//! levels, aligned the way Go's `text/tabwriter` aligns kubectl's
//! describe output (padding 2, column blocks of consecutive lines).

use chrono::{DateTime, Local};
use serde_json::Value;

use crate::printers::duration::since;

/// kubectl's `LEVEL_0`, `LEVEL_1`, ...: two spaces of indentation each.
pub type Level = usize;

/// The lines of one description.
#[derive(Debug, Default)]
pub struct Text {
    lines: Vec<Vec<String>>,
}

impl Text {
    /// A line of cells at `level` (the indentation goes in the first cell).
    pub fn cells(&mut self, level: Level, cells: &[&str]) {
        let mut line: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
        if let Some(first) = line.first_mut() {
            *first = format!("{}{first}", "  ".repeat(level));
        }
        self.lines.push(line);
    }

    /// `Key:  value`.
    pub fn kv(&mut self, level: Level, key: &str, value: impl AsRef<str>) {
        self.cells(level, &[&format!("{key}:"), value.as_ref()]);
    }

    /// `Key:` alone (a section heading).
    pub fn heading(&mut self, level: Level, key: &str) {
        self.cells(level, &[&format!("{key}:")]);
    }

    /// `Key:  first` then one continuation line per further value (as
    /// kubectl prints labels), or `<none>`.
    pub fn multiline(&mut self, level: Level, key: &str, values: &[String]) {
        match values.split_first() {
            None => self.kv(level, key, "<none>"),
            Some((first, rest)) => {
                self.kv(level, key, first);
                for v in rest {
                    self.cells(level, &["", v]);
                }
            }
        }
    }

    /// A table with a `----` rule under its header (events, conditions);
    /// kubectl's rules are as long as the header, and at least 4.
    pub fn table(&mut self, level: Level, header: &[&str], rows: &[Vec<String>]) {
        self.cells(level, header);
        let rules: Vec<String> = header.iter().map(|h| "-".repeat(h.len().max(4))).collect();
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        self.cells(level, &rules);
        for row in rows {
            let row: Vec<&str> = row.iter().map(String::as_str).collect();
            self.cells(level, &row);
        }
    }

    /// The aligned text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut widths = Vec::new();
        format(&self.lines, 0, self.lines.len(), &mut widths, &mut out);
        out
    }
}

const PADDING: usize = 2;

/// Go's `tabwriter.format`: a column block is a run of consecutive lines
/// that have a cell in that column (not counting each line's last cell);
/// its width is the widest cell plus padding.
fn format(
    lines: &[Vec<String>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let has_column = |line: &Vec<String>| line.len() > column + 1;
    let mut this = line0;
    while this < line1 {
        if !has_column(&lines[this]) {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = 0;
        while this < line1 && has_column(&lines[this]) {
            width = width.max(lines[this][column].chars().count() + PADDING);
            this += 1;
        }
        widths.push(width);
        format(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<String>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                let width = widths.get(j).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
}

/// A timestamp as kubectl describe shows it (RFC 1123 with a numeric
/// zone, local time), or `<unknown>`.
pub fn timestamp(value: &Value) -> String {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&Local)
                .format("%a, %d %b %Y %H:%M:%S %z")
                .to_string()
        })
        .unwrap_or_else(|| "<unknown>".to_string())
}

/// The time since a timestamp, as AGE columns show it.
pub fn age(value: &Value) -> String {
    since(value.as_str(), chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_column_blocks_like_go_tabwriter() {
        let mut t = Text::default();
        t.kv(0, "Name", "web");
        t.kv(0, "Namespace", "default");
        t.multiline(0, "Labels", &["a=1".into(), "b=2".into()]);
        t.heading(0, "Containers");
        t.heading(1, "web");
        t.kv(2, "Image", "nginx");
        t.kv(2, "Restart Count", "0");
        assert_eq!(
            t.render(),
            "Name:       web\nNamespace:  default\nLabels:     a=1\n            b=2\nContainers:\n  web:\n    Image:          nginx\n    Restart Count:  0\n"
        );
    }
}
