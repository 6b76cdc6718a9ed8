//! The small tables: namespaces, configmaps, secrets, leases, and
//! `NAME AGE` for every other kind.

use serde_json::Value;

use super::fields::{age, len_at, name, str_at};
use super::{Cell, Column, Context, KindTable};

pub(super) static NAMESPACE: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text(
            "Status",
            "The phase of the namespace: Active, or Terminating.",
        ),
        Column::age(),
    ],
    cells: |ns, ctx| {
        vec![
            name(ns).into(),
            str_at(ns, &["status", "phase"]).into(),
            age(ns, ctx.now).into(),
        ]
    },
};

/// DATA counts `data` and `binaryData` entries.
pub(super) static CONFIG_MAP: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::integer("Data", "The number of entries in data and binaryData."),
        Column::age(),
    ],
    cells: |cm, ctx| {
        let entries = len_at(cm, &["data"]) + len_at(cm, &["binaryData"]);
        vec![name(cm).into(), entries.into(), age(cm, ctx.now).into()]
    },
};

pub(super) static SECRET: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text("Type", "The type of the secret's data."),
        Column::integer("Data", "The number of entries in data."),
        Column::age(),
    ],
    cells: |secret, ctx| {
        vec![
            name(secret).into(),
            str_at(secret, &["type"]).into(),
            len_at(secret, &["data"]).into(),
            age(secret, ctx.now).into(),
        ]
    },
};

/// HOLDER is empty while nobody holds the lease.
pub(super) static LEASE: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::text("Holder", "The identity of the current holder of the lease."),
        Column::age(),
    ],
    cells: |lease, ctx| {
        vec![
            name(lease).into(),
            str_at(lease, &["spec", "holderIdentity"]).into(),
            age(lease, ctx.now).into(),
        ]
    },
};

/// Any kind without a table of its own.
pub(super) static DEFAULT: KindTable = KindTable {
    columns: &[Column::name(), Column::age()],
    cells: name_and_age,
};

fn name_and_age(object: &Value, ctx: &Context) -> Vec<Cell> {
    vec![name(object).into(), age(object, ctx.now).into()]
}
