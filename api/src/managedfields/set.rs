//! Field sets: which fields of an object a manager owns, as a tree of
//! path elements (structured-merge-diff's `fieldpath.Set`), with the
//! `FieldsV1` wire encoding (`f:spec`, `k:{"name":"web"}`, `v:"a"`, `.`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElement {
    /// A field of a struct or a key of a map: `f:replicas`.
    Field(String),
    /// An item of a list-map, by its key fields: `k:{"name":"web"}`. Held
    /// as the canonical JSON of the key object (keys sorted).
    Key(String),
    /// An item of a set-list, by its value: `v:"example.com/fin"`. Held as
    /// its JSON.
    Value(String),
    /// An item of a list by position: `i:0` (lists with no merge keys
    /// that are still granular; unused by the served kinds but decoded).
    Index(usize),
}

impl PathElement {
    /// The `FieldsV1` key of this element.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(f) => format!("f:{f}"),
            PathElement::Key(k) => format!("k:{k}"),
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parse a `FieldsV1` key (`f:…`, `k:…`, `v:…`, `i:…`).
    pub fn decode(s: &str) -> Result<PathElement, String> {
        let (prefix, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid path element {s:?}"))?;
        let canonical = |json: &str| -> Result<String, String> {
            let v: Value = serde_json::from_str(json)
                .map_err(|e| format!("invalid path element {s:?}: {e}"))?;
            Ok(v.to_string())
        };
        match prefix {
            "f" => Ok(PathElement::Field(rest.to_string())),
            "k" => Ok(PathElement::Key(canonical(rest)?)),
            "v" => Ok(PathElement::Value(canonical(rest)?)),
            "i" => rest
                .parse()
                .map(PathElement::Index)
                .map_err(|_| format!("invalid path element {s:?}")),
            _ => Err(format!("invalid path element {s:?}")),
        }
    }
}

/// Path elements print as upstream's `fieldpath.Path` does:
/// `.spec.replicas`, `[name="web"]`, `[="a"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(k) => {
                let obj: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = obj.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<PathElement>;

/// Print a path as upstream does (`.spec.template.spec.containers[name="web"].image`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// One node of a [`FieldSet`]: whether the path to it is itself in the
/// set (a "member"), and the set below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    children: FieldSet,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }
}

/// A set of field paths, as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    nodes: BTreeMap<PathElement, Node>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        self.nodes.values().all(Node::is_empty)
    }

    /// Add `path` (an empty path adds nothing).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let node = self.nodes.entry(first.clone()).or_default();
        if rest.is_empty() {
            node.member = true;
        } else {
            node.children.insert(rest);
        }
    }

    /// Whether `path` itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        match self.nodes.get(first) {
            Some(node) if rest.is_empty() => node.member,
            Some(node) => node.children.has(rest),
            None => false,
        }
    }

    /// Whether any path in the set starts with `prefix` (including
    /// `prefix` itself).
    pub fn has_prefix(&self, prefix: &[PathElement]) -> bool {
        let Some((first, rest)) = prefix.split_first() else {
            return !self.is_empty();
        };
        match self.nodes.get(first) {
            Some(node) if rest.is_empty() => !node.is_empty(),
            Some(node) => node.children.has_prefix(rest),
            None => false,
        }
    }

    /// The subset below one element (empty if none).
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.nodes.get(pe).map(|n| &n.children)
    }

    /// Whether `pe` is a member at this level.
    pub fn is_member(&self, pe: &PathElement) -> bool {
        self.nodes.get(pe).is_some_and(|n| n.member)
    }

    /// Elements with a member or children at this level.
    pub fn elements(&self) -> impl Iterator<Item = &PathElement> {
        self.nodes
            .iter()
            .filter(|(_, n)| !n.is_empty())
            .map(|(pe, _)| pe)
    }

    /// Every path in the set, depth first, in element order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (pe, node) in &self.nodes {
            prefix.push(pe.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.children.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for (pe, node) in &other.nodes {
            let mine = out.nodes.entry(pe.clone()).or_default();
            mine.member |= node.member;
            mine.children = mine.children.union(&node.children);
        }
        out
    }

    /// Paths in `self` but not in `other` (a member of `other` does not
    /// take away the paths below it, as upstream's `Difference`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (pe, node) in &self.nodes {
            let n = match other.nodes.get(pe) {
                None => node.clone(),
                Some(o) => Node {
                    member: node.member && !o.member,
                    children: node.children.difference(&o.children),
                },
            };
            if !n.is_empty() {
                out.nodes.insert(pe.clone(), n);
            }
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (pe, node) in &self.nodes {
            if let Some(o) = other.nodes.get(pe) {
                let n = Node {
                    member: node.member && o.member,
                    children: node.children.intersection(&o.children),
                };
                if !n.is_empty() {
                    out.nodes.insert(pe.clone(), n);
                }
            }
        }
        out
    }

    /// The set without the subtrees rooted at the paths of `roots`
    /// (upstream's `RecursiveDifference` for prefixes: used to drop
    /// ignored and reset fields).
    pub fn without_prefixes(&self, roots: &[Path]) -> FieldSet {
        let mut out = self.clone();
        for root in roots {
            out.remove_subtree(root);
        }
        out
    }

    fn remove_subtree(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.nodes.remove(first);
        } else if let Some(node) = self.nodes.get_mut(first) {
            node.children.remove_subtree(rest);
            if node.is_empty() {
                self.nodes.remove(first);
            }
        }
    }

    /// Only the subtrees rooted at `roots` (the paths themselves included).
    pub fn only_prefixes(&self, roots: &[Path]) -> FieldSet {
        let all = self.without_prefixes(roots);
        self.difference(&all)
    }

    /// The `FieldsV1` encoding: `{"f:spec":{"f:replicas":{}}}`, with
    /// `".": {}` for a member that also has children.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for (pe, node) in &self.nodes {
            if node.is_empty() {
                continue;
            }
            let mut inner = match node.children.to_fields_v1() {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if node.member && !inner.is_empty() {
                inner.insert(".".into(), Value::Object(Map::new()));
            }
            map.insert(pe.encode(), Value::Object(inner));
        }
        Value::Object(map)
    }

    /// Parse a `FieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| "fieldsV1 must be an object".to_string())?;
        let mut out = FieldSet::new();
        for (k, child) in obj {
            if k == "." {
                continue;
            }
            let pe = PathElement::decode(k)?;
            let child_obj = child
                .as_object()
                .ok_or_else(|| format!("fieldsV1 entry {k:?} must be an object"))?;
            let children = FieldSet::from_fields_v1(child)?;
            let member = child_obj.is_empty() || child_obj.contains_key(".");
            out.nodes.insert(pe, Node { member, children });
        }
        Ok(out)
    }
}

/// A path of field names, for building sets in code and tests.
pub fn fields(names: &[&str]) -> Path {
    names
        .iter()
        .map(|n| PathElement::Field(n.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: Value) -> PathElement {
        PathElement::Key(k.to_string())
    }

    #[test]
    fn fields_v1_round_trip_with_members_that_have_children() {
        let wire = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}}
            }
        });
        let set = FieldSet::from_fields_v1(&wire).unwrap();
        assert!(set.has(&fields(&["spec", "replicas"])));
        assert!(set.has(&fields(&["metadata", "labels"])));
        assert!(!set.has(&fields(&["spec"])));
        let mut web = fields(&["spec", "template", "spec", "containers"]);
        web.push(key(json!({"name": "web"})));
        assert!(set.has(&web));
        assert_eq!(set.to_fields_v1(), wire);
    }

    #[test]
    fn paths_print_as_upstream() {
        let mut p = fields(&["spec", "containers"]);
        p.push(key(json!({"name": "web"})));
        p.push(PathElement::Field("image".into()));
        assert_eq!(path_string(&p), ".spec.containers[name=\"web\"].image");
        let v = vec![
            PathElement::Field("finalizers".into()),
            PathElement::Value(json!("a").to_string()),
        ];
        assert_eq!(path_string(&v), ".finalizers[=\"a\"]");
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&fields(&["spec", "replicas"]));
        a.insert(&fields(&["spec", "paused"]));
        let mut b = FieldSet::new();
        b.insert(&fields(&["spec", "replicas"]));
        b.insert(&fields(&["metadata", "labels", "app"]));
        assert_eq!(
            a.intersection(&b).paths(),
            vec![fields(&["spec", "replicas"])]
        );
        assert_eq!(a.difference(&b).paths(), vec![fields(&["spec", "paused"])]);
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.difference(&a).is_empty());
        let no_spec = a.union(&b).without_prefixes(&[fields(&["spec"])]);
        assert_eq!(
            no_spec.paths(),
            vec![fields(&["metadata", "labels", "app"])]
        );
        let only_spec = a.union(&b).only_prefixes(&[fields(&["spec"])]);
        assert_eq!(only_spec, a);
    }

    #[test]
    fn bad_wire_is_an_error() {
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
    }
}
