//! Running a parsed template over a JSON value.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::parse::{Filter, Literal, Node, Op, Path, Slice, Step};
use super::JsonPathError;
use crate::printers::gojson;

type Item<'a> = Cow<'a, Value>;

fn error(message: impl Into<String>) -> JsonPathError {
    JsonPathError(message.into())
}

/// Run `nodes` with `current` as `@`, appending the output to `out`.
pub(super) fn execute(
    nodes: &[Node],
    current: &Value,
    out: &mut String,
) -> Result<(), JsonPathError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Expr(path) => {
                let results = eval(path, vec![Cow::Borrowed(current)])?;
                let texts: Vec<String> = results.iter().map(|r| text(r)).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range { expr, body } => {
                for item in eval(expr, vec![Cow::Borrowed(current)])? {
                    execute(body, &item, out)?;
                }
            }
        }
    }
    Ok(())
}

/// How one result prints: strings bare, maps and lists as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => gojson::print_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) | Value::Object(_) => gojson::to_compact(value),
    }
}

/// Apply `path` to `input`, step by step.
fn eval<'a>(path: &Path, input: Vec<Item<'a>>) -> Result<Vec<Item<'a>>, JsonPathError> {
    path.iter()
        .try_fold(input, |items, step| eval_step(step, items))
}

fn eval_step<'a>(step: &Step, input: Vec<Item<'a>>) -> Result<Vec<Item<'a>>, JsonPathError> {
    let mut out = Vec::new();
    match step {
        // A missing key gives no result (kubectl allows missing keys).
        Step::Field(name) if name.is_empty() => out = input,
        Step::Field(name) => {
            for item in input {
                if let Some(child) = child(item, Key::Name(name)) {
                    out.push(child);
                }
            }
        }
        Step::Wildcard => {
            for item in input {
                out.extend(children(item));
            }
        }
        Step::Recursive => {
            for item in input {
                descend(item, &mut out);
            }
        }
        Step::Slice(slice) => {
            for item in input {
                out.extend(eval_slice(slice, item)?);
            }
        }
        Step::Filter(filter) => {
            for item in input {
                out.extend(eval_filter(filter, item)?);
            }
        }
        Step::Union(alternatives) => {
            for alternative in alternatives {
                out.extend(eval(alternative, input.clone())?);
            }
        }
        Step::Literal(Literal::Text(text)) => out.push(Cow::Owned(Value::String(text.clone()))),
        Step::Literal(literal) => {
            let value = match literal {
                Literal::Int(i) => Value::from(*i),
                Literal::Float(f) => Value::from(*f),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Text(t) => Value::String(t.clone()),
            };
            out = input.iter().map(|_| Cow::Owned(value.clone())).collect();
        }
    }
    Ok(out)
}

/// A key of a map or an index of a list.
#[derive(Clone, Copy)]
enum Key<'k> {
    Name(&'k str),
    Index(usize),
}

/// The child at `key`, borrowed when the parent is borrowed.
fn child<'a>(item: Item<'a>, key: Key<'_>) -> Option<Item<'a>> {
    match item {
        Cow::Borrowed(v) => lookup(v, key).map(Cow::Borrowed),
        Cow::Owned(v) => lookup(&v, key).cloned().map(Cow::Owned),
    }
}

fn lookup<'v>(value: &'v Value, key: Key<'_>) -> Option<&'v Value> {
    match key {
        Key::Name(name) => value.as_object()?.get(name),
        Key::Index(i) => value.as_array()?.get(i),
    }
}

/// The values of a map (in key order) or the items of a list.
fn children(item: Item<'_>) -> Vec<Item<'_>> {
    match item {
        Cow::Borrowed(Value::Object(map)) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries.into_iter().map(|(_, v)| Cow::Borrowed(v)).collect()
        }
        Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
        Cow::Owned(Value::Object(map)) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.into_iter().map(|(_, v)| Cow::Owned(v)).collect()
        }
        Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
        _ => Vec::new(),
    }
}

/// `..`: every map or list that has children, itself first, then its
/// descendants (leaves are reached by the step after).
fn descend<'a>(item: Item<'a>, out: &mut Vec<Item<'a>>) {
    let kids = children(item.clone());
    if kids.is_empty() {
        return;
    }
    out.push(item);
    for kid in kids {
        descend(kid, out);
    }
}

/// Go's name for the type of a value, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Bool(_) => "bool",
        Value::Null => "interface {}",
    }
}

fn eval_slice<'a>(slice: &Slice, item: Item<'a>) -> Result<Vec<Item<'a>>, JsonPathError> {
    if item.is_null() {
        return Ok(Vec::new());
    }
    let len = match item.as_array() {
        Some(items) => items.len() as i64,
        None => return Err(error(format!("{} is not array or slice", type_name(&item)))),
    };
    let mut start = if slice.start.known {
        slice.start.value
    } else {
        0
    };
    if start < 0 {
        start += len;
    }
    let mut end = if slice.end.known {
        slice.end.value
    } else {
        len
    };
    if end < 0 || (end == 0 && slice.end.derived) {
        end += len;
    }
    if start == end {
        return Ok(Vec::new());
    }
    if start >= len || start < 0 {
        return Err(error(format!(
            "array index out of bounds: index {start}, length {len}"
        )));
    }
    if end > len || end < 0 {
        return Err(error(format!(
            "array index out of bounds: index {}, length {len}",
            end - 1
        )));
    }
    if start > end {
        return Err(error(format!(
            "starting index {start} is greater than ending index {end}"
        )));
    }
    let step = match slice.step {
        s if !s.known => 1,
        s if s.value <= 0 => return Err(error("step must be > 0")),
        s => s.value as usize,
    };
    let indexes = (start as usize..end as usize).step_by(step);
    Ok(indexes
        .filter_map(|i| child(item.clone(), Key::Index(i)))
        .collect())
}

fn eval_filter<'a>(filter: &Filter, item: Item<'a>) -> Result<Vec<Item<'a>>, JsonPathError> {
    if !item.is_array() {
        return Err(error(format!(
            "{} is not array or slice and cannot be filtered",
            gojson::to_compact(&item)
        )));
    }
    let mut passed = Vec::new();
    for element in children(item) {
        let lefts = eval(&filter.left, vec![element.clone()]);
        let Some((op, right)) = &filter.comparison else {
            if lefts.is_ok_and(|l| !l.is_empty()) {
                passed.push(element);
            }
            continue;
        };
        let Some(left) = single(lefts?)? else {
            continue;
        };
        let Some(right) = single(eval(right, vec![element.clone()])?)? else {
            continue;
        };
        if compare(&left, *op, &right)? {
            passed.push(element);
        }
    }
    Ok(passed)
}

/// The one value a side of a comparison must give (none: skip the element).
fn single(mut values: Vec<Item<'_>>) -> Result<Option<Item<'_>>, JsonPathError> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop()),
        _ => Err(error("can only compare one element at a time")),
    }
}

/// A filter comparison, typed as Go templates compare: numbers with
/// numbers, strings with strings, booleans only for (in)equality.
fn compare(left: &Value, op: Op, right: &Value) -> Result<bool, JsonPathError> {
    let ordering = match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                let (a, b) = (
                    a.as_f64().unwrap_or(f64::NAN),
                    b.as_f64().unwrap_or(f64::NAN),
                );
                a.partial_cmp(&b).unwrap_or(Ordering::Less)
            }
        },
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => return Ok(a == b),
            Op::Ne => return Ok(a != b),
            _ => return Err(error("invalid type for comparison")),
        },
        (Value::Null, _) | (_, Value::Null) | (Value::Array(_) | Value::Object(_), _) => {
            return Err(error("invalid type for comparison"))
        }
        _ => return Err(error("incompatible types for comparison")),
    };
    Ok(match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Gt => ordering == Ordering::Greater,
        Op::Le => ordering != Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
    })
}
