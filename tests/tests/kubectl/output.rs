//! Reading what kubectl prints: its column-aligned tables (`get`,
//! `get -w`, `rollout history`) and `describe`'s `Key:  value` lines.

use std::collections::BTreeMap;

/// One table row, by column header.
pub type Row = BTreeMap<String, String>;

/// A table as kubectl prints it: a header line whose column names are
/// separated by at least two spaces (a name may hold one space, as
/// `NOMINATED NODE`), and rows whose cells start under their header.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The column names, left to right.
    pub columns: Vec<String>,
    /// The data rows.
    pub rows: Vec<Row>,
}

/// The start offset and name of each column of a header line.
type Columns = Vec<(usize, String)>;

/// The columns of a header line.
fn header_columns(header: &str) -> Columns {
    let mut columns = Vec::new();
    let mut start = None;
    let mut spaces = 0;
    for (i, c) in header.char_indices() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if start.is_none() || spaces >= 2 {
            if let Some(s) = start {
                columns.push((s, header[s..i].trim_end().to_string()));
            }
            start = Some(i);
        }
        spaces = 0;
    }
    if let Some(s) = start {
        columns.push((s, header[s..].trim_end().to_string()));
    }
    columns
}

/// The cells of `line` under `columns` (cut at each column's offset).
fn cells(line: &str, columns: &[(usize, String)]) -> Row {
    let mut row = Row::new();
    for (i, (start, name)) in columns.iter().enumerate() {
        let end = columns.get(i + 1).map_or(line.len(), |(s, _)| *s);
        let cell = line.get(*start..end.min(line.len())).unwrap_or("");
        row.insert(name.clone(), cell.trim().to_string());
    }
    row
}

impl Table {
    /// Parse kubectl's table output: the first non-empty line is the
    /// header, every following non-empty line a row. Blank lines (between
    /// the tables of `get a,b`) start a new header.
    pub fn parse(out: &str) -> Table {
        Table::parse_all(out)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no table in kubectl's output: {out:?}"))
    }

    /// Every table in `out` (`get deployments,services` prints one per kind).
    pub fn parse_all(out: &str) -> Vec<Table> {
        let mut tables = Vec::new();
        let mut current: Option<(Columns, Vec<Row>)> = None;
        for line in out.lines() {
            if line.trim().is_empty() {
                if let Some((cols, rows)) = current.take() {
                    tables.push(Table::from_parts(cols, rows));
                }
                continue;
            }
            match &mut current {
                None => current = Some((header_columns(line), Vec::new())),
                Some((cols, rows)) => rows.push(cells(line, cols)),
            }
        }
        if let Some((cols, rows)) = current {
            tables.push(Table::from_parts(cols, rows));
        }
        tables
    }

    /// Parse `lines` as one table whose first line is the header (what
    /// `get -w` has printed so far).
    pub fn from_lines(lines: &[String]) -> Table {
        Table::parse(&lines.join("\n"))
    }

    fn from_parts(cols: Columns, rows: Vec<Row>) -> Table {
        Table {
            columns: cols.into_iter().map(|(_, n)| n).collect(),
            rows,
        }
    }

    /// The first row whose `NAME` cell is `name`, if any.
    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.get("NAME").map(String::as_str) == Some(name))
    }

    /// The row named `name`, which must exist.
    pub fn expect_row(&self, name: &str) -> &Row {
        self.row(name)
            .unwrap_or_else(|| panic!("no row {name:?} in {self:#?}"))
    }
}

/// The value of `describe`'s first top-level `key:` line (`Replicas:`,
/// `NewReplicaSet:`), with the padding trimmed.
pub fn describe_field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}:");
    out.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENTS: &str = "\
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    6/6     6            6           12s
api    0/2     2            0           3m
";

    #[test]
    fn columns_and_cells_line_up_under_the_header() {
        let t = Table::parse(DEPLOYMENTS);
        assert_eq!(
            t.columns,
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        );
        let web = t.expect_row("web");
        assert_eq!(web["READY"], "6/6");
        assert_eq!(web["UP-TO-DATE"], "6");
        assert_eq!(t.expect_row("api")["AGE"], "3m");
    }

    #[test]
    fn a_column_name_may_hold_one_space_and_cells_may_be_empty() {
        let out = "\
NAME    READY   NODE     NOMINATED NODE   READINESS GATES
p-1     1/1     node-0   <none>           <none>
p-2     0/1              <none>           <none>
";
        let t = Table::parse(out);
        assert_eq!(
            t.columns,
            ["NAME", "READY", "NODE", "NOMINATED NODE", "READINESS GATES"]
        );
        assert_eq!(t.expect_row("p-2")["NODE"], "");
        assert_eq!(t.expect_row("p-1")["NOMINATED NODE"], "<none>");
    }

    #[test]
    fn get_of_several_kinds_prints_one_table_each() {
        let out = "\
NAME                  READY   UP-TO-DATE   AVAILABLE   AGE
deployment.apps/web   6/6     6            6           5s

NAME           TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE
service/web    ClusterIP   10.96.0.10   <none>        80/TCP    5s
";
        let tables = Table::parse_all(out);
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[1].expect_row("service/web")["PORT(S)"], "80/TCP");
    }

    #[test]
    fn describe_fields_are_found_by_key() {
        let out = "Name:                   web\nReplicas:               6 desired | 6 updated\n";
        assert_eq!(describe_field(out, "Name"), Some("web"));
        assert_eq!(
            describe_field(out, "Replicas"),
            Some("6 desired | 6 updated")
        );
        assert_eq!(describe_field(out, "Selector"), None);
    }
}
