//! The value walks behind managed fields: the field set of an object
//! (upstream `ToFieldSet`), the comparison of two versions (`Compare`:
//! added, modified, removed), the apply merge (`Merge`), and removing the
//! fields an applier gave up (`RemoveItems`).

use serde_json::{Map, Value};

use super::lists::{ListType, ListTypes};
use super::set::{FieldSet, Path, PathElement};

/// Where a walk is: the path as elements and as dot-joined field names
/// (the key into [`ListTypes`]).
#[derive(Clone, Default)]
struct At {
    path: Path,
    names: String,
}

impl At {
    fn field(&self, name: &str) -> At {
        let mut path = self.path.clone();
        path.push(PathElement::Field(name.to_string()));
        let names = if self.names.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.names)
        };
        At { path, names }
    }

    fn item(&self, pe: PathElement) -> At {
        let mut path = self.path.clone();
        path.push(pe);
        At {
            path,
            names: self.names.clone(),
        }
    }
}

/// The path element naming `item` (at position `index`) in a list of
/// type `t`; `None` for atomic lists.
pub fn item_element(t: ListType, item: &Value, index: usize) -> Option<PathElement> {
    match t {
        ListType::Atomic => None,
        ListType::Set => Some(PathElement::Value(item.to_string())),
        ListType::Map(keys) => {
            let mut key = Map::new();
            for k in keys {
                match (item.get(k.name), k.default) {
                    (Some(v), _) if !v.is_null() => {
                        key.insert(k.name.to_string(), v.clone());
                    }
                    (_, Some(d)) => {
                        key.insert(k.name.to_string(), Value::String(d.to_string()));
                    }
                    // An item without its key cannot be named by key.
                    _ => return Some(PathElement::Index(index)),
                }
            }
            Some(PathElement::Key(Value::Object(key).to_string()))
        }
    }
}

/// Items of a granular list with their path elements, first occurrence
/// of each element only.
fn index_items(t: ListType, list: &[Value]) -> Vec<(PathElement, &Value)> {
    let mut out: Vec<(PathElement, &Value)> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        if let Some(pe) = item_element(t, item, i) {
            if !out.iter().any(|(p, _)| *p == pe) {
                out.push((pe, item));
            }
        }
    }
    out
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Every field set in `object`: scalars, atomic lists and empty maps are
/// leaves; list-map and set items are members themselves.
pub fn to_set(object: &Value, lists: &ListTypes) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(map) = object {
        to_set_map(map, &At::default(), lists, &mut set);
    }
    set
}

fn to_set_map(map: &Map<String, Value>, at: &At, lists: &ListTypes, set: &mut FieldSet) {
    for (k, v) in map {
        to_set_value(v, &at.field(k), lists, set);
    }
}

fn to_set_value(v: &Value, at: &At, lists: &ListTypes, set: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => to_set_map(m, at, lists, set),
        Value::Array(items) => {
            let t = lists.get(&at.names);
            if t == ListType::Atomic {
                set.insert(&at.path);
                return;
            }
            for (pe, item) in index_items(t, items) {
                let child = at.item(pe);
                set.insert(&child.path);
                if let Value::Object(m) = item {
                    to_set_map(m, &child, lists, set);
                }
            }
        }
        _ => set.insert(&at.path),
    }
}

/// What changed between two versions of an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// Paths only in the new version (a new subtree: its root and every
    /// path below it).
    pub added: FieldSet,
    /// Leaves in both whose values differ.
    pub modified: FieldSet,
    /// Paths only in the old version.
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified: what the writer of the new version set.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// This comparison limited by `f` applied to each set.
    pub fn map(&self, f: impl Fn(&FieldSet) -> FieldSet) -> Comparison {
        Comparison {
            added: f(&self.added),
            modified: f(&self.modified),
            removed: f(&self.removed),
        }
    }
}

/// Compare two versions of an object.
pub fn compare(old: &Value, new: &Value, lists: &ListTypes) -> Comparison {
    let mut c = Comparison::default();
    compare_at(Some(old), Some(new), &At::default(), lists, &mut c);
    c
}

fn compare_at(
    old: Option<&Value>,
    new: Option<&Value>,
    at: &At,
    lists: &ListTypes,
    c: &mut Comparison,
) {
    match (old, new) {
        (None, None) => {}
        (Some(Value::Object(o)), Some(Value::Object(n))) if !(o.is_empty() && n.is_empty()) => {
            for k in o.keys().chain(n.keys().filter(|k| !o.contains_key(*k))) {
                compare_at(o.get(k), n.get(k), &at.field(k), lists, c);
            }
        }
        (Some(Value::Array(o)), Some(Value::Array(n)))
            if lists.get(&at.names) != ListType::Atomic && !(o.is_empty() && n.is_empty()) =>
        {
            compare_lists(o, n, at, lists, c);
        }
        (Some(o), Some(n)) => {
            if o != n {
                c.modified.insert(&at.path);
            }
        }
        (None, Some(n)) => {
            c.added.insert(&at.path);
            below(n, at, lists, &mut c.added);
        }
        (Some(o), None) => {
            c.removed.insert(&at.path);
            below(o, at, lists, &mut c.removed);
        }
    }
}

/// Every path strictly below `at` in `v`.
fn below(v: &Value, at: &At, lists: &ListTypes, set: &mut FieldSet) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let a = at.field(k);
                set.insert(&a.path);
                below(child, &a, lists, set);
            }
        }
        Value::Array(items) if !is_empty_container(v) => {
            let t = lists.get(&at.names);
            for (pe, item) in index_items(t, items) {
                let a = at.item(pe);
                set.insert(&a.path);
                below(item, &a, lists, set);
            }
        }
        _ => {}
    }
}

fn compare_lists(o: &[Value], n: &[Value], at: &At, lists: &ListTypes, c: &mut Comparison) {
    let t = lists.get(&at.names);
    let old_items = index_items(t, o);
    let new_items = index_items(t, n);
    for (pe, item) in &old_items {
        let new_item = new_items.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
        compare_at(Some(item), new_item, &at.item(pe.clone()), lists, c);
    }
    for (pe, item) in &new_items {
        if !old_items.iter().any(|(p, _)| p == pe) {
            compare_at(None, Some(item), &at.item(pe.clone()), lists, c);
        }
    }
}

/// Merge an applied configuration into the live object: the config's
/// values win; maps merge; list-maps merge by key and sets by value
/// (live order, new items after); atomic lists are replaced. A `null` in
/// the config removes the field.
pub fn merge(live: &Value, config: &Value, lists: &ListTypes) -> Value {
    merge_at(live, config, &At::default(), lists)
}

fn merge_at(live: &Value, config: &Value, at: &At, lists: &ListTypes) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => {
            let mut out = l.clone();
            for (k, cv) in c {
                if cv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match l.get(k) {
                    Some(lv) => merge_at(lv, cv, &at.field(k), lists),
                    None => cv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => {
            let t = lists.get(&at.names);
            if t == ListType::Atomic {
                return config.clone();
            }
            let cfg = index_items(t, c);
            let mut out = Vec::new();
            let mut seen = Vec::new();
            for (i, item) in l.iter().enumerate() {
                let Some(pe) = item_element(t, item, i) else {
                    continue;
                };
                match cfg.iter().find(|(p, _)| *p == pe) {
                    Some((_, ci)) => out.push(merge_at(item, ci, &at.item(pe.clone()), lists)),
                    None => out.push(item.clone()),
                }
                seen.push(pe);
            }
            for (pe, ci) in cfg {
                if !seen.contains(&pe) {
                    out.push(ci.clone());
                }
            }
            Value::Array(out)
        }
        _ => config.clone(),
    }
}

/// Remove from `object` the paths of `remove` that nobody keeps: a path
/// whose subtree still holds a path of `keep` is not removed itself, only
/// what below it is to go (upstream prunes, then adds back owned items).
pub fn remove(object: &mut Value, remove: &FieldSet, keep: &FieldSet, lists: &ListTypes) {
    remove_at(object, remove, Some(keep), &At::default(), lists);
}

fn remove_at(
    v: &mut Value,
    remove: &FieldSet,
    keep: Option<&FieldSet>,
    at: &At,
    lists: &ListTypes,
) {
    let empty = FieldSet::new();
    let keep = keep.unwrap_or(&empty);
    let kept = |pe: &PathElement| keep.has_prefix(std::slice::from_ref(pe));
    match v {
        Value::Object(m) => {
            for pe in remove.elements().cloned().collect::<Vec<_>>() {
                let PathElement::Field(k) = &pe else { continue };
                if remove.is_member(&pe) && !kept(&pe) {
                    m.remove(k);
                } else if let (Some(child), Some(sub)) = (m.get_mut(k), remove.child(&pe)) {
                    remove_at(child, sub, keep.child(&pe), &at.field(k), lists);
                }
            }
        }
        Value::Array(items) => {
            let t = lists.get(&at.names);
            let mut out = Vec::with_capacity(items.len());
            for (i, mut item) in std::mem::take(items).into_iter().enumerate() {
                let Some(pe) = item_element(t, &item, i) else {
                    out.push(item);
                    continue;
                };
                if remove.is_member(&pe) && !kept(&pe) {
                    continue;
                }
                if let Some(sub) = remove.child(&pe) {
                    remove_at(&mut item, sub, keep.child(&pe), &at.item(pe.clone()), lists);
                }
                out.push(item);
            }
            *items = out;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::set::fields;
    use super::*;
    use serde_json::json;

    fn deploy_lists() -> ListTypes {
        ListTypes::for_kind("apps", "Deployment")
    }

    fn web(image: &str) -> Value {
        json!({"name": "web", "image": image, "ports": [{"containerPort": 80}]})
    }

    #[test]
    fn field_set_of_an_applied_config() {
        let cfg = json!({
            "metadata": {"name": "d", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [web("nginx")]}}}
        });
        let wire = to_set(&cfg, &deploy_lists()).to_fields_v1();
        assert_eq!(
            wire,
            json!({
                "f:metadata": {"f:name": {}, "f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":
                            {".": {}, "f:containerPort": {}}}}
                }}}}
            })
        );
    }

    #[test]
    fn comparison_names_added_modified_removed() {
        let old = json!({"spec": {"replicas": 1, "paused": false,
            "template": {"spec": {"containers": [web("a")]}}}});
        let new = json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"},
            "template": {"spec": {"containers": [web("a"),
                {"name": "side", "image": "b"}]}}}});
        let c = compare(&old, &new, &deploy_lists());
        assert_eq!(c.modified.paths(), vec![fields(&["spec", "replicas"])]);
        assert_eq!(c.removed.paths(), vec![fields(&["spec", "paused"])]);
        assert!(c.added.has(&fields(&["spec", "strategy"])));
        assert!(c.added.has(&fields(&["spec", "strategy", "type"])));
        let mut side = fields(&["spec", "template", "spec", "containers"]);
        side.push(PathElement::Key(json!({"name": "side"}).to_string()));
        assert!(c.added.has(&side));
        side.push(PathElement::Field("image".into()));
        assert!(c.added.has(&side));
        assert_eq!(c.added.paths().len(), 5, "{:?}", c.added.paths());
    }

    #[test]
    fn merge_by_keys_and_atomic_lists() {
        let live = json!({"spec": {"replicas": 5, "template": {"spec": {
            "containers": [web("old"), {"name": "side", "image": "s", "args": ["a", "b"]}]}}}});
        let cfg = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "side", "args": ["c"]}, web("new")]}}}});
        let merged = merge(&live, &cfg, &deploy_lists());
        assert_eq!(
            merged,
            json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [
                web("new"), {"name": "side", "image": "s", "args": ["c"]}]}}}})
        );
        let cleared = merge(
            &merged,
            &json!({"spec": {"replicas": null}}),
            &deploy_lists(),
        );
        assert!(cleared["spec"].get("replicas").is_none());
    }

    #[test]
    fn remove_spares_what_others_keep() {
        let mut obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"template": {"spec": {"containers": [web("x"), {"name": "side", "image": "s"}]}}}});
        let lists = deploy_lists();
        let mut gone = FieldSet::new();
        gone.insert(&fields(&["metadata", "labels", "a"]));
        let mut side = fields(&["spec", "template", "spec", "containers"]);
        side.push(PathElement::Key(json!({"name": "side"}).to_string()));
        gone.insert(&side);
        let mut side_image = side.clone();
        side_image.push(PathElement::Field("image".into()));
        gone.insert(&side_image);
        // Someone else still owns the side container's image: it stays.
        let mut keep = FieldSet::new();
        keep.insert(&side_image);
        remove(&mut obj, &gone, &keep, &lists);
        assert_eq!(obj["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][1],
            json!({"name": "side", "image": "s"})
        );
        remove(&mut obj, &gone, &FieldSet::new(), &lists);
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
