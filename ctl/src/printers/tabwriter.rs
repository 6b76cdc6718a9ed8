//! Column alignment as kubectl's table printer does it
//! (`github.com/liggitt/tabwriter` with min width 6, padding 3, padded
//! with spaces, `RememberWidths`).
//!
//! Every cell but the last of a line is padded to its column's width: the
//! widest cell in the column plus 3, at least 6. The last cell is not
//! padded. Widths are remembered from one [`TabWriter::write`] to the next
//! and only ever grow, so the rows `get -w` prints one at a time stay
//! under the header printed first.

/// Minimal width of a column, padding included.
const MIN_WIDTH: usize = 6;
/// Spaces added after the widest cell of a column.
const PADDING: usize = 3;

/// Aligns lines of cells into columns, remembering column widths.
#[derive(Clone, Debug, Default)]
pub struct TabWriter {
    widths: Vec<usize>,
}

impl TabWriter {
    /// A writer that has seen no lines yet.
    pub fn new() -> TabWriter {
        TabWriter::default()
    }

    /// Lay out `lines` (each a list of cells; all of one table have the
    /// same number) and return the text, one `\n`-terminated line each.
    pub fn write(&mut self, lines: &[Vec<String>]) -> String {
        for line in lines {
            // The last cell is not part of a column.
            let columns = line.len().saturating_sub(1);
            for (column, cell) in line[..columns].iter().enumerate() {
                let width = (cell.chars().count() + PADDING).max(MIN_WIDTH);
                match self.widths.get_mut(column) {
                    Some(known) => *known = (*known).max(width),
                    None => self.widths.push(width),
                }
            }
        }
        let mut out = String::new();
        for line in lines {
            let columns = line.len().saturating_sub(1);
            for (column, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if column < columns {
                    let pad = self.widths[column] - cell.chars().count();
                    out.push_str(&" ".repeat(pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn pads_to_widest_cell_plus_three_and_leaves_the_last_cell() {
        let mut w = TabWriter::new();
        let text = w.write(&lines(&[
            &["NAME", "READY", "AGE"],
            &["nginx-7854ff8877-abcde", "1/1", "5s"],
        ]));
        assert_eq!(
            text,
            "NAME                     READY   AGE\nnginx-7854ff8877-abcde   1/1     5s\n"
        );
    }

    #[test]
    fn narrow_columns_are_six_wide() {
        let mut w = TabWriter::new();
        assert_eq!(
            w.write(&lines(&[&["A", "B"], &["c", "d"]])),
            "A     B\nc     d\n"
        );
    }

    #[test]
    fn widths_are_remembered_and_only_grow() {
        let mut w = TabWriter::new();
        assert_eq!(
            w.write(&lines(&[&["NAME", "AGE"], &["a-long-name", "1s"]])),
            "NAME          AGE\na-long-name   1s\n"
        );
        assert_eq!(w.write(&lines(&[&["b", "2s"]])), "b             2s\n");
        assert_eq!(
            w.write(&lines(&[&["a-longer-name-x", "3s"]])),
            "a-longer-name-x   3s\n"
        );
        assert_eq!(w.write(&lines(&[&["c", "4s"]])), "c                 4s\n");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut w = TabWriter::new();
        assert_eq!(
            w.write(&lines(&[&["é", "x"], &["ab", "y"]])),
            "é     x\nab    y\n"
        );
    }
}
