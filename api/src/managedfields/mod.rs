//! `metadata.managedFields`: who owns which field of an object, kept up
//! to date on every write, and server-side apply on top of it — the
//! semantics of upstream's structured-merge-diff and fieldmanager.
//!
//! - Every non-apply write is an `Update` by its manager: the fields it
//!   added or changed become its own (and no longer anyone else's), the
//!   fields it removed are no one's.
//! - An apply (`Apply`) makes the manager own exactly the fields of its
//!   configuration; fields it owned before and no longer applies are
//!   removed from the object unless another manager owns them; changing
//!   a field another manager owns is a conflict unless forced.

pub mod lists;
pub mod set;
pub mod walk;

use serde_json::{json, Map, Value};

pub use lists::{ListType, ListTypes};
pub use set::{path_string, FieldSet, Path, PathElement};
pub use walk::Comparison;

/// The operation that produced an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write: create, update, patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `ManagedFieldsEntry`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, when the entry last changed.
    pub time: Option<String>,
    /// `""` for the main resource, `"status"`, `"scale"`, ….
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    /// Upstream's manager identifier: name, operation, subresource, and
    /// the apiVersion for `Update`s (an applier is the same manager
    /// whatever version it applies with).
    fn same_manager(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// How a conflict names the manager: `"kubectl" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }

    fn from_value(v: &Value) -> Result<Entry, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = match s("operation").as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(format!("invalid operation {other:?}")),
        };
        if !matches!(s("fieldsType").as_str(), "" | "FieldsV1") {
            return Err(format!("invalid fieldsType {:?}", s("fieldsType")));
        }
        let set = match v.get("fieldsV1") {
            Some(f) => FieldSet::from_fields_v1(f)?,
            None => FieldSet::new(),
        };
        Ok(Entry {
            manager: s("manager"),
            operation,
            api_version: s("apiVersion"),
            time: v.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: s("subresource"),
            set,
        })
    }
}

/// All entries of one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManagedFields {
    pub entries: Vec<Entry>,
}

impl ManagedFields {
    /// Decode `metadata.managedFields` of an object (none: empty).
    pub fn of(object: &Value) -> Result<ManagedFields, String> {
        match object.pointer("/metadata/managedFields") {
            None | Some(Value::Null) => Ok(ManagedFields::default()),
            Some(list) => ManagedFields::from_list(list),
        }
    }

    /// Decode a `managedFields` list.
    pub fn from_list(list: &Value) -> Result<ManagedFields, String> {
        let items = list
            .as_array()
            .ok_or_else(|| "metadata.managedFields must be a list".to_string())?;
        let entries = items
            .iter()
            .map(Entry::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ManagedFields { entries })
    }

    /// The wire list, ordered as upstream: appliers first, then by time
    /// and manager.
    pub fn to_value(&self) -> Value {
        let mut sorted: Vec<&Entry> = self.entries.iter().filter(|e| !e.set.is_empty()).collect();
        sorted.sort_by(|a, b| {
            (
                a.operation,
                &a.time,
                &a.manager,
                &a.api_version,
                &a.subresource,
            )
                .cmp(&(
                    b.operation,
                    &b.time,
                    &b.manager,
                    &b.api_version,
                    &b.subresource,
                ))
        });
        Value::Array(sorted.into_iter().map(Entry::to_value).collect())
    }

    /// Write the entries into `object`'s metadata (dropping the field
    /// when there are none).
    pub fn store(&self, object: &mut Value) {
        let list = self.to_value();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            if list.as_array().is_some_and(Vec::is_empty) {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), list);
            }
        }
    }

    fn position(&self, w: &Write<'_>, operation: Operation) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.same_manager(w.manager, operation, w.api_version, w.subresource))
    }

    /// The entry of the writer, created empty when missing.
    fn entry_mut(&mut self, w: &Write<'_>, operation: Operation) -> &mut Entry {
        let i = match self.position(w, operation) {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    manager: w.manager.to_string(),
                    operation,
                    api_version: w.api_version.to_string(),
                    time: Some(w.now.to_string()),
                    subresource: w.subresource.to_string(),
                    set: FieldSet::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[i]
    }
}

/// Which part of the object a write addresses; fields outside it are
/// reset by the server and owned by nobody through this write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole object (kinds without a status subresource).
    Whole,
    /// The main resource of a kind with a status subresource: `status`
    /// is not this write's.
    WithoutStatus,
    /// The `status` subresource: only `status`.
    OnlyStatus,
}

/// Fields never tracked (upstream's `StripMeta`): identity and
/// server-managed metadata.
fn ignored() -> Vec<Path> {
    let mut out = vec![set::fields(&["apiVersion"]), set::fields(&["kind"])];
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "selfLink",
        "managedFields",
    ] {
        out.push(set::fields(&["metadata", f]));
    }
    out
}

/// One write, as the managed-fields bookkeeping sees it.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    /// The field manager (`fieldManager`, or derived from the User-Agent).
    pub manager: &'a str,
    /// `apps/v1`.
    pub api_version: &'a str,
    /// `""` or the subresource written (`status`).
    pub subresource: &'a str,
    pub scope: Scope,
    /// The list types of the kind.
    pub lists: &'a ListTypes,
    /// The time to stamp on entries this write changes (RFC 3339).
    pub now: &'a str,
}

impl Write<'_> {
    /// The part of `set` this write can own.
    fn scoped(&self, set: &FieldSet) -> FieldSet {
        let set = set.without_prefixes(&ignored());
        let status = [set::fields(&["status"])];
        match self.scope {
            Scope::Whole => set,
            Scope::WithoutStatus => set.without_prefixes(&status),
            Scope::OnlyStatus => set.only_prefixes(&status),
        }
    }

    fn compare(&self, old: &Value, new: &Value) -> Comparison {
        walk::compare(old, new, self.lists).map(|s| self.scoped(s))
    }
}

/// Record a non-apply write of `new` over `old` (`{}` for a create) by
/// `w.manager`: it takes every field it added or changed; removed fields
/// are no one's.
pub fn update(managed: &mut ManagedFields, old: &Value, new: &Value, w: &Write<'_>) {
    let cmp = w.compare(old, new);
    let changed = cmp.changed();
    let me = managed.position(w, Operation::Update);
    for (i, e) in managed.entries.iter_mut().enumerate() {
        if Some(i) != me {
            e.set = e.set.difference(&changed).difference(&cmp.removed);
        }
    }
    let touched = !(changed.is_empty() && cmp.removed.is_empty());
    let entry = managed.entry_mut(w, Operation::Update);
    let before = entry.set.clone();
    entry.set = entry.set.difference(&cmp.removed).union(&changed);
    if touched || entry.set != before {
        entry.time = Some(w.now.to_string());
    }
    managed.entries.retain(|e| !e.set.is_empty());
}

/// A field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner, as upstream prints it (`"kubectl" using apps/v1`).
    pub manager: String,
    /// The field (`.spec.replicas`).
    pub field: String,
}

/// The conflicts of a refused apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with
    /// "m" using apps/v1: .spec.replicas`, or one line per field grouped
    /// by manager when there are several.
    pub fn message(&self) -> String {
        if let [one] = self.0.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                one.manager, one.field
            );
        }
        let mut managers: Vec<&str> = self.0.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with {m}:"));
            for c in self.0.iter().filter(|c| c.manager == m) {
                lines.push(format!("- {}", c.field));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

/// The manager upstream charges with the fields of an object that was
/// written before managed fields were tracked, on its first apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Apply `config` over `live` (`None`: the object does not exist yet) as
/// `w.manager`. Returns the object to store (before the server's
/// defaulting and validation), with `managed` updated; or the conflicts
/// if the apply would change fields other managers own and `force` is
/// not set.
pub fn apply(
    managed: &mut ManagedFields,
    live: Option<&Value>,
    config: &Value,
    w: &Write<'_>,
    force: bool,
) -> Result<Value, Conflicts> {
    let empty = Value::Object(Map::new());
    let base = live.unwrap_or(&empty);
    if live.is_some() && managed.entries.is_empty() {
        let owned = w.scoped(&walk::to_set(base, w.lists));
        if !owned.is_empty() {
            managed.entries.push(Entry {
                manager: BEFORE_FIRST_APPLY.into(),
                operation: Operation::Update,
                api_version: w.api_version.into(),
                time: Some(w.now.into()),
                subresource: w.subresource.into(),
                set: owned,
            });
        }
    }
    let mut merged = walk::merge(base, config, w.lists);
    let applied = w.scoped(&walk::to_set(config, w.lists));
    let me = managed.position(w, Operation::Apply);
    let last = me
        .map(|i| managed.entries[i].set.clone())
        .unwrap_or_default();
    // What every manager, the applier included, owns after this apply.
    let mut keep = applied.clone();
    for (i, e) in managed.entries.iter().enumerate() {
        if Some(i) != me {
            keep = keep.union(&e.set);
        }
    }
    walk::remove(&mut merged, &last.difference(&applied), &keep, w.lists);

    let cmp = w.compare(base, &merged);
    let changed = cmp.changed();
    let mut conflicts = Vec::new();
    for (i, e) in managed.entries.iter().enumerate() {
        if Some(i) == me {
            continue;
        }
        for path in e.set.intersection(&changed).paths() {
            conflicts.push((e.describe(), path));
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort();
        return Err(Conflicts(
            conflicts
                .into_iter()
                .map(|(manager, path)| Conflict {
                    manager,
                    field: path_string(&path),
                })
                .collect(),
        ));
    }
    for (i, e) in managed.entries.iter_mut().enumerate() {
        if Some(i) != me {
            e.set = e.set.difference(&changed);
        }
        e.set = e.set.difference(&cmp.removed);
    }
    let entry = managed.entry_mut(w, Operation::Apply);
    if entry.set != applied || !(changed.is_empty() && cmp.removed.is_empty()) {
        entry.time = Some(w.now.to_string());
    }
    entry.set = applied;
    managed.entries.retain(|e| !e.set.is_empty());
    Ok(merged)
}

#[cfg(test)]
mod tests;
