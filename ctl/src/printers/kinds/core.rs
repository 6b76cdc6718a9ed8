//! The small tables: namespaces, configmaps, secrets, leases, and
//! `NAME AGE` for every other kind.

use serde_json::Value;

use super::{Context, KindColumns};
use crate::printers::fields::{age, len_at, name, str_at};

pub(super) static NAMESPACE: KindColumns = KindColumns {
    headers: &["NAME", "STATUS", "AGE"],
    wide_headers: &["NAME", "STATUS", "AGE"],
    cells: |ns, ctx| {
        vec![
            name(ns).to_string(),
            str_at(ns, &["status", "phase"]).to_string(),
            age(ns, ctx.now),
        ]
    },
};

/// DATA counts `data` and `binaryData` entries.
pub(super) static CONFIG_MAP: KindColumns = KindColumns {
    headers: &["NAME", "DATA", "AGE"],
    wide_headers: &["NAME", "DATA", "AGE"],
    cells: |cm, ctx| {
        let entries = len_at(cm, &["data"]) + len_at(cm, &["binaryData"]);
        vec![name(cm).to_string(), entries.to_string(), age(cm, ctx.now)]
    },
};

pub(super) static SECRET: KindColumns = KindColumns {
    headers: &["NAME", "TYPE", "DATA", "AGE"],
    wide_headers: &["NAME", "TYPE", "DATA", "AGE"],
    cells: |secret, ctx| {
        vec![
            name(secret).to_string(),
            str_at(secret, &["type"]).to_string(),
            len_at(secret, &["data"]).to_string(),
            age(secret, ctx.now),
        ]
    },
};

/// HOLDER is empty while nobody holds the lease.
pub(super) static LEASE: KindColumns = KindColumns {
    headers: &["NAME", "HOLDER", "AGE"],
    wide_headers: &["NAME", "HOLDER", "AGE"],
    cells: |lease, ctx| {
        vec![
            name(lease).to_string(),
            str_at(lease, &["spec", "holderIdentity"]).to_string(),
            age(lease, ctx.now),
        ]
    },
};

/// Any kind without a table of its own.
pub(super) static DEFAULT: KindColumns = KindColumns {
    headers: &["NAME", "AGE"],
    wide_headers: &["NAME", "AGE"],
    cells: name_and_age,
};

fn name_and_age(object: &Value, ctx: &Context) -> Vec<String> {
    vec![name(object).to_string(), age(object, ctx.now)]
}
