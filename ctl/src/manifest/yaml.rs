//! YAML documents to JSON values, with a bound on how far aliases may
//! expand.
//!
//! A YAML alias (`*a`) repeats the node its anchor (`&a`) names, so a few
//! hundred bytes of nested aliases ("billion laughs") can expand to
//! gigabytes. Every node built here is charged against a [`Budget`] sized
//! from the input, and conversion stops as soon as it runs out, before the
//! memory is spent.
//!
//! The conversion follows `sigs.k8s.io/yaml` (what kubectl uses): scalar
//! keys become strings, `<<` merge keys are applied, and a key repeated in
//! one mapping is an error.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Bytes of expanded output every stream may use whatever its size.
const BASE_ALLOWANCE: usize = 1 << 20;
/// How many times its own size a stream may expand to through aliases.
const EXPANSION_FACTOR: usize = 10;

/// How much expanded output (nodes plus string bytes) a stream may produce.
pub(super) struct Budget {
    limit: usize,
    used: Cell<usize>,
    exhausted: Cell<bool>,
}

impl Budget {
    /// The budget for a stream of `input_len` bytes: generous for any
    /// manifest (one that uses no aliases expands to about its own size),
    /// far too small for an alias bomb.
    pub(super) fn for_input(input_len: usize) -> Budget {
        Budget {
            limit: BASE_ALLOWANCE.saturating_add(input_len.saturating_mul(EXPANSION_FACTOR)),
            used: Cell::new(0),
            exhausted: Cell::new(false),
        }
    }

    /// The limit in bytes, for the error message.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// Whether a conversion failed because the budget ran out.
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted.get()
    }

    /// Spend `cost`; fails once the total passes the limit.
    fn charge<E: de::Error>(&self, cost: usize) -> Result<(), E> {
        let used = self.used.get().saturating_add(cost);
        self.used.set(used);
        if used > self.limit {
            self.exhausted.set(true);
            return Err(E::custom("YAML aliases expand beyond the size limit"));
        }
        Ok(())
    }
}

/// Convert one YAML document into a JSON value within `budget`.
pub(super) fn to_json<'de, D: Deserializer<'de>>(
    document: D,
    budget: &Budget,
) -> Result<Value, D::Error> {
    ValueSeed(budget).deserialize(document)
}

/// Builds any JSON value from a YAML node.
struct ValueSeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.charge(1)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.0.charge(1)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.0.charge(1)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.0.charge(1)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        // Beyond 64 bits JSON numbers are floats, as in Go.
        self.visit_f64(v as f64)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.visit_f64(v as f64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.0.charge(1)?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} cannot be represented in JSON")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.charge(1 + v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.0.charge(1 + v.len())?;
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.charge(1)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.charge(1)?;
        let mut object = Map::new();
        let mut merges = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            let value = map.next_value_seed(ValueSeed(self.0))?;
            if key == "<<" {
                merges.push(value);
            } else if object.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        for merge in merges {
            apply_merge(&mut object, merge).map_err(de::Error::custom)?;
        }
        Ok(Value::Object(object))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // serde_yaml hands a value with a non-standard tag (`!Ref x`) over
        // as an enum whose variant is the tag.
        let (tag, _) = data.variant::<String>()?;
        Err(de::Error::custom(format!(
            "YAML tag !{tag} is not supported in manifests"
        )))
    }
}

/// `<<: *base` or `<<: [*a, *b]`: copy in the keys the mapping does not set
/// itself; with several sources the earlier one wins.
fn apply_merge(object: &mut Map<String, Value>, merge: Value) -> Result<(), &'static str> {
    let sources = match merge {
        Value::Object(source) => vec![source],
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(source) => Ok(source),
                _ => Err("a merge key (<<) list must hold only mappings"),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("a merge key (<<) must name a mapping or a list of mappings"),
    };
    for source in sources {
        for (key, value) in source {
            object.entry(key).or_insert(value);
        }
    }
    Ok(())
}

/// Builds a mapping key: any scalar, printed as a string (`1: a` has the
/// key `"1"`), as `sigs.k8s.io/yaml` converts them.
struct KeySeed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.0.charge(1 + v.len())?;
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.0.charge(1 + v.len())?;
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.visit_string("null".to_string())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(
            "a mapping key must be a scalar, not a list",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(
            "a mapping key must be a scalar, not a mapping",
        ))
    }
}
