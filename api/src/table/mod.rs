//! The table columns `kubectl get` shows for each kind, and how each cell
//! is computed (`pkg/printers/internalversion/printers.go` upstream).
//!
//! One source for both printers: the apiserver answers
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` with a
//! `meta.k8s.io/v1` `Table` built from these columns ([`response`]), and
//! tugctl prints its tables from them, so the two never disagree.
//!
//! Each kind has its columns (name, type, description and priority: the
//! priority-1 columns are the ones `-o wide` adds, not always at the end)
//! and a function that turns one object (as JSON) into all its cells.
//! Kinds without a table of their own get `Name` + `Age`.

mod core;
pub mod duration;
mod event;
pub mod fields;
mod node;
mod pod;
pub mod response;
mod service;
mod workloads;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use response::{IncludeObject, TableOptions};

/// What a row may depend on besides the object.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// "Now", for AGE and other durations.
    pub now: DateTime<Utc>,
    /// The table is printed with its wide columns: cells that are cut
    /// short in the narrow table (a Service's load-balancer addresses)
    /// are given in full. The apiserver always builds wide tables, as
    /// upstream does; the client hides the priority-1 columns.
    pub wide: bool,
}

/// The type of a column's cells, as `TableColumnDefinition.type` names
/// it (an OpenAPI type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellType {
    /// Text.
    String,
    /// A whole number (replica counts, `DATA`, an event's `COUNT`).
    Integer,
}

impl CellType {
    /// The OpenAPI name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            CellType::String => "string",
            CellType::Integer => "integer",
        }
    }
}

/// One column of a kind's table (`TableColumnDefinition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Human name as upstream spells it (`Up-to-date`, `Port(s)`); kubectl
    /// prints it upper-case.
    pub name: &'static str,
    /// The type of the cells.
    pub cell_type: CellType,
    /// An OpenAPI format hint: `name` for the column that names the
    /// object, else empty.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: u8,
}

impl Column {
    /// A priority-0 string column.
    pub(crate) const fn text(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            cell_type: CellType::String,
            format: "",
            description,
            priority: 0,
        }
    }

    /// A priority-0 integer column.
    pub(crate) const fn integer(name: &'static str, description: &'static str) -> Column {
        Column {
            cell_type: CellType::Integer,
            ..Column::text(name, description)
        }
    }

    /// The `Name` column: `metadata.name`, format `name`.
    pub(crate) const fn name() -> Column {
        Column {
            format: "name",
            ..Column::text("Name", NAME_DESCRIPTION)
        }
    }

    /// The `Age` column: the time since `metadata.creationTimestamp`.
    pub(crate) const fn age() -> Column {
        Column::text("Age", AGE_DESCRIPTION)
    }

    /// The same column, shown only with `-o wide`.
    pub(crate) const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }

    /// The header kubectl prints for the column: its name upper-case.
    pub fn header(&self) -> String {
        self.name.to_uppercase()
    }
}

const NAME_DESCRIPTION: &str =
    "Name must be unique within a namespace; it identifies the object in the API.";
const AGE_DESCRIPTION: &str = "Time since creationTimestamp: when the server created the object.";

/// One cell of a row: text, or a number for integer columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A string cell.
    Text(String),
    /// An integer cell.
    Int(i64),
}

impl fmt::Display for Cell {
    /// The cell as kubectl prints it (`%v`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Int(n) => write!(f, "{n}"),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Cell {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// The table of one kind.
pub struct KindTable {
    /// Every column, wide ones included, in the order they are printed.
    pub columns: &'static [Column],
    /// The cells of one object, one per entry of `columns`.
    pub cells: fn(&Value, &Context) -> Vec<Cell>,
}

impl KindTable {
    /// The columns a table shows: all of them when `wide`, else those of
    /// priority 0.
    pub fn visible(&self, wide: bool) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(move |c| wide || c.priority == 0)
    }

    /// The headers a table shows (`NAME`, `READY`, ...).
    pub fn headers(&self, wide: bool) -> Vec<String> {
        self.visible(wide).map(Column::header).collect()
    }

    /// The cells of `object` under the visible columns.
    pub fn row(&self, object: &Value, ctx: &Context) -> Vec<Cell> {
        let cells = (self.cells)(object, ctx);
        self.columns
            .iter()
            .zip(cells)
            .filter(|(c, _)| ctx.wide || c.priority == 0)
            .map(|(_, cell)| cell)
            .collect()
    }
}

/// The table for objects of `kind` (`Pod`, `Deployment`, ...).
pub fn for_kind(kind: &str) -> &'static KindTable {
    match kind {
        "Pod" => &pod::POD,
        "Deployment" => &workloads::DEPLOYMENT,
        "ReplicaSet" => &workloads::REPLICA_SET,
        "Service" => &service::SERVICE,
        "Endpoints" => &service::ENDPOINTS,
        "Node" => &node::NODE,
        "Namespace" => &core::NAMESPACE,
        "Event" => &event::EVENT,
        "ConfigMap" => &core::CONFIG_MAP,
        "Secret" => &core::SECRET,
        "Lease" => &core::LEASE,
        "CertificateSigningRequest" => &crate::certificates::CSR_TABLE,
        _ => &core::DEFAULT,
    }
}

/// The row conditions upstream attaches to some rows: a pod that has
/// finished carries `Completed`, which clients may use to hide it.
pub fn row_conditions(kind: &str, object: &Value) -> Vec<Value> {
    match kind {
        "Pod" => pod::row_conditions(object),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
