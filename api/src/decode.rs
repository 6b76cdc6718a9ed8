//! Strict decoding: unknown fields are an error that names the full path
//! of the field, as `kubectl --validate=strict` reports it; and the
//! lenient side of field validation: finding every unknown field of a
//! body ([`unknown_fields`]) and every duplicate key ([`parse_json`],
//! [`parse_yaml`]) so the apiserver can warn about them or drop them.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a body could not be decoded into a kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// A field the kind does not have (`spec.replicass`).
    #[error("strict decoding error: unknown field \"{0}\"")]
    UnknownField(String),
    /// A field of the wrong type or value (`spec.replicas`: expected i32).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Decode a JSON value into `T`, rejecting unknown fields by path.
pub fn decode_strict<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        if let Some(field) = unknown_field_name(&message) {
            // The path points at the containing object when the unknown key
            // is reported; append the key unless it is already the last segment.
            let full = if path == "." || path.is_empty() {
                field.to_string()
            } else if path.ends_with(&format!(".{field}")) || path == field {
                path
            } else {
                format!("{path}.{field}")
            };
            DecodeError::UnknownField(full)
        } else {
            DecodeError::Invalid { path, message }
        }
    })
}

/// How deep objects and arrays may nest in anything the apiserver stores.
/// serde_json (and so every Tugboat reader of stored objects, lists and
/// watch events) refuses documents nested deeper than 128 levels; 100
/// leaves room for the `List`/watch-event envelopes around an object, so
/// an object accepted once can always be read back.
pub const MAX_NESTING_DEPTH: usize = 100;

/// How deep `value` nests: 0 for a scalar, 1 for `{}` or `[]`, 2 for
/// `{"a": []}`. Iterative, so any depth is measured without recursion.
pub fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Object(m) => {
                deepest = deepest.max(depth);
                stack.extend(m.values().map(|c| (c, depth + 1)));
            }
            Value::Array(a) => {
                deepest = deepest.max(depth);
                stack.extend(a.iter().map(|c| (c, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// An error naming the limit when `value` nests deeper than
/// [`MAX_NESTING_DEPTH`].
pub fn check_nesting_depth(value: &Value) -> Result<(), String> {
    let depth = nesting_depth(value);
    if depth > MAX_NESTING_DEPTH {
        Err(format!(
            "objects and arrays nest {depth} levels deep: at most {MAX_NESTING_DEPTH} are allowed"
        ))
    } else {
        Ok(())
    }
}

/// How many unknown fields [`unknown_fields`] reports at most (each costs
/// one decode of the body).
const MAX_UNKNOWN_FIELDS: usize = 256;

/// Every unknown field of `value` as a `T`, by path
/// (`spec.template.spec.containers[0].foo`), in the order serde meets
/// them, and `value` without them. The typed decode is the schema: each
/// round decodes strictly, notes the unknown field serde reports and
/// removes it. Stops at the first error that is not an unknown field
/// (the caller's decode reports it).
pub fn unknown_fields<T: DeserializeOwned>(value: &Value) -> (Vec<String>, Value) {
    let mut value = value.clone();
    let mut found = Vec::new();
    while found.len() < MAX_UNKNOWN_FIELDS {
        let Err(err) = serde_path_to_error::deserialize::<_, T>(&value) else {
            break;
        };
        let Some(field) = unknown_field_name(&err.inner().to_string()).map(str::to_string) else {
            break;
        };
        let mut segments: Vec<Segment> = err.path().iter().filter_map(Segment::of).collect();
        if segments.last() != Some(&Segment::Key(field.clone())) {
            segments.push(Segment::Key(field));
        }
        if !remove_at(&mut value, &segments) {
            break;
        }
        found.push(display_path(&segments));
    }
    (found, value)
}

/// One step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl Segment {
    fn of(s: &serde_path_to_error::Segment) -> Option<Segment> {
        match s {
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            _ => None,
        }
    }
}

/// `spec.containers[0].foo`, as upstream names fields.
fn display_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Remove the value at `path`; false if there is none.
fn remove_at(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for s in parents {
        let next = match s {
            Segment::Key(k) => v.get_mut(k.as_str()),
            Segment::Index(i) => v.get_mut(*i),
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    match (last, v) {
        (Segment::Key(k), Value::Object(m)) => m.remove(k).is_some(),
        _ => false,
    }
}

/// Parse JSON into a value, also returning the path of every key that
/// appears twice in one object (the last one wins, as in every JSON
/// decoder Kubernetes uses).
pub fn parse_json(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let dups = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // JSON has no aliases: a value is never bigger than its text.
    let budget = Budget::unlimited();
    let value = Checked {
        path: String::new(),
        dups: &dups,
        budget: &budget,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, dups.into_inner()))
}

/// Parse one YAML document into a JSON value, with the paths of
/// duplicate keys as [`parse_json`]. Aliases may expand the document to
/// at most [`YAML_BASE_ALLOWANCE`] plus [`YAML_EXPANSION_FACTOR`] times
/// its own size (strings by their bytes, every other node as one byte):
/// past that ("billion laughs", or a huge anchor repeated) parsing stops
/// with an error before the memory is spent.
pub fn parse_yaml(text: &str) -> Result<(Value, Vec<String>), serde_yaml::Error> {
    let dups = RefCell::new(Vec::new());
    let budget = Budget::for_yaml(text.len());
    let value = Checked {
        path: String::new(),
        dups: &dups,
        budget: &budget,
    }
    .deserialize(serde_yaml::Deserializer::from_str(text))?;
    Ok((value, dups.into_inner()))
}

/// Bytes of expanded YAML every document may produce whatever its size.
pub const YAML_BASE_ALLOWANCE: usize = 1 << 20;
/// How many times its own size a YAML document may expand to via aliases.
pub const YAML_EXPANSION_FACTOR: usize = 2;

/// How much output (string bytes, plus one per node) a parse may build.
struct Budget {
    limit: usize,
    used: Cell<usize>,
}

impl Budget {
    fn unlimited() -> Budget {
        Budget {
            limit: usize::MAX,
            used: Cell::new(0),
        }
    }

    fn for_yaml(input_len: usize) -> Budget {
        Budget {
            limit: YAML_BASE_ALLOWANCE
                .saturating_add(input_len.saturating_mul(YAML_EXPANSION_FACTOR)),
            used: Cell::new(0),
        }
    }

    /// Spend `cost`; an error once the total passes the limit.
    fn charge<E: serde::de::Error>(&self, cost: usize) -> Result<(), E> {
        let used = self.used.get().saturating_add(cost);
        self.used.set(used);
        if used > self.limit {
            return Err(E::custom(format!(
                "YAML aliases expand the document beyond {} bytes",
                self.limit
            )));
        }
        Ok(())
    }
}

/// A seed building a `serde_json::Value` that notes duplicate keys and
/// charges what it builds to a [`Budget`].
struct Checked<'a> {
    path: String,
    dups: &'a RefCell<Vec<String>>,
    budget: &'a Budget,
}

impl Checked<'_> {
    fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.charge(1)?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.charge(1 + v.len())?;
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.budget.charge(1 + v.len())?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.budget.charge(1)?;
        Ok(Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.budget.charge(1)?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Checked {
            path: format!("{}[{}]", self.path, out.len()),
            dups: self.dups,
            budget: self.budget,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.budget.charge(1)?;
        let mut out = Map::new();
        while let Some(k) = map.next_key::<KeyString>()? {
            self.budget.charge(1 + k.0.len())?;
            let path = self.key(&k.0);
            let v = map.next_value_seed(Checked {
                path: path.clone(),
                dups: self.dups,
                budget: self.budget,
            })?;
            if out.insert(k.0, v).is_some() {
                self.dups.borrow_mut().push(path);
            }
        }
        Ok(Value::Object(out))
    }
}

/// A map key as a string; YAML's non-string scalar keys (`80: x`, `true:`)
/// become their text, as the YAML-to-JSON conversion upstream does.
struct KeyString(String);

impl<'de> serde::Deserialize<'de> for KeyString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Pull the field name out of serde's "unknown field `x`, expected ..." text.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectMeta;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        metadata: ObjectMeta,
        spec: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        replicas: i32,
    }

    #[test]
    fn unknown_field_is_named_by_full_path() {
        let v =
            serde_json::json!({"metadata": {"name": "a"}, "spec": {"replicas": 1, "replicass": 2}});
        let err = decode_strict::<Outer>(v).unwrap_err();
        assert_eq!(err, DecodeError::UnknownField("spec.replicass".into()));
        assert_eq!(
            err.to_string(),
            "strict decoding error: unknown field \"spec.replicass\""
        );
    }

    #[test]
    fn every_unknown_field_is_found_and_dropped() {
        use crate::apps::Deployment;
        let v = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "bogus": 1},
            "spec": {"replicas": 1, "foo": true, "selector": {"matchLabels": {"a": "b"}},
              "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "imagee": "x"}]}}}
        });
        let (found, clean) = unknown_fields::<Deployment>(&v);
        assert_eq!(
            found,
            vec![
                "metadata.bogus",
                "spec.foo",
                "spec.template.spec.containers[0].imagee"
            ]
        );
        assert!(decode_strict::<Deployment>(clean.clone()).is_ok());
        assert_eq!(
            clean["spec"]["template"]["spec"]["containers"][0]["image"],
            "i"
        );
        // Nothing unknown: nothing found, value unchanged.
        let (none, same) = unknown_fields::<Deployment>(&clean);
        assert!(none.is_empty());
        assert_eq!(same, clean);
    }

    #[test]
    fn duplicate_keys_are_named_by_path_in_json_and_yaml() {
        let json = br#"{"metadata": {"name": "a", "name": "b"},
            "spec": {"containers": [{"image": "x", "image": "y"}]}}"#;
        let (v, dups) = parse_json(json).unwrap();
        assert_eq!(dups, vec!["metadata.name", "spec.containers[0].image"]);
        assert_eq!(v["metadata"]["name"], "b", "the last one wins");
        let (v2, none) = parse_json(br#"{"a": [1, 2.5, null, true], "b": {"c": "d"}}"#).unwrap();
        assert!(none.is_empty());
        assert_eq!(
            v2,
            serde_json::json!({"a": [1, 2.5, null, true], "b": {"c": "d"}})
        );
        assert!(parse_json(b"{} x").is_err());

        let yaml = "metadata:\n  name: a\nspec:\n  replicas: 1\n  replicas: 2\n";
        let (v, dups) = parse_yaml(yaml).unwrap();
        assert_eq!(dups, vec!["spec.replicas"]);
        assert_eq!(v["spec"]["replicas"], 2);
    }

    #[test]
    fn yaml_alias_expansion_is_bounded() {
        // Billion laughs: nine levels of nine aliases.
        let mut bomb = String::from("a: &a [\"lol\",\"lol\",\"lol\"]\n");
        for (level, prev) in ('b'..='i').zip('a'..='h') {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{level}: &{level} [{refs}]\n"));
        }
        assert!(parse_yaml(&bomb).is_err());
        // One big anchor repeated: small text, huge value.
        let big = "x".repeat(512 * 1024);
        let refs: String = (0..8).map(|i| format!("r{i}: *s\n")).collect();
        let err = parse_yaml(&format!("s: &s {big}\n{refs}")).unwrap_err();
        assert!(
            err.to_string()
                .contains("YAML aliases expand the document beyond"),
            "{err}"
        );
        // A few aliases of small nodes are fine.
        let (v, _) = parse_yaml("base: &b {a: 1}\nx: *b\ny: *b\n").unwrap();
        assert_eq!(v["y"]["a"], 1);
        // JSON is never charged: a 3 MiB string parses.
        let long = format!("{{\"a\": \"{}\"}}", "y".repeat(3 << 20));
        assert!(parse_json(long.as_bytes()).is_ok());
    }

    #[test]
    fn nesting_depth_is_measured_and_bounded() {
        assert_eq!(nesting_depth(&serde_json::json!(1)), 0);
        assert_eq!(nesting_depth(&serde_json::json!({})), 1);
        assert_eq!(nesting_depth(&serde_json::json!({"a": [1, {"b": []}]})), 4);
        let mut deep = serde_json::json!("leaf");
        for _ in 0..MAX_NESTING_DEPTH {
            deep = serde_json::json!([deep]);
        }
        assert!(check_nesting_depth(&deep).is_ok());
        let deeper = serde_json::json!({ "a": deep });
        let err = check_nesting_depth(&deeper).unwrap_err();
        assert!(err.contains("101 levels deep: at most 100"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let v = serde_json::json!({"metadata": {}, "spec": {"replicas": "x"}});
        match decode_strict::<Outer>(v).unwrap_err() {
            DecodeError::Invalid { path, .. } => assert_eq!(path, "spec.replicas"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
