//! JSON text exactly as kubectl (Go's `encoding/json`) writes it: object
//! keys sorted, `<`, `>` and `&` escaped as `\u003c`..., floats without a
//! trailing `.0`, and `-o json`'s four-space indentation.

use std::fmt::Write;

use serde_json::{Number, Value};

/// `json.MarshalIndent(v, "", "    ")` followed by a newline: `-o json`.
pub(crate) fn to_indented(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, Some(0));
    out.push('\n');
    out
}

/// `json.Marshal(v)`: the compact form jsonpath prints maps and lists in.
pub(crate) fn to_compact(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, None);
    out
}

/// `depth` is the indentation level, or `None` for compact output.
fn write_value(out: &mut String, value: &Value, depth: Option<usize>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            write_container(out, '[', ']', items.iter().map(|v| (None, v)), depth)
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries = entries.into_iter().map(|(k, v)| (Some(k.as_str()), v));
            write_container(out, '{', '}', entries, depth)
        }
    }
}

fn write_container<'a>(
    out: &mut String,
    open: char,
    close: char,
    entries: impl ExactSizeIterator<Item = (Option<&'a str>, &'a Value)>,
    depth: Option<usize>,
) {
    out.push(open);
    if entries.len() == 0 {
        out.push(close);
        return;
    }
    let inner = depth.map(|d| d + 1);
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, inner);
        if let Some(key) = key {
            write_string(out, key);
            out.push(':');
            if depth.is_some() {
                out.push(' ');
            }
        }
        write_value(out, value, inner);
    }
    newline(out, depth);
    out.push(close);
}

/// A line break and `depth` levels of four spaces (nothing when compact).
fn newline(out: &mut String, depth: Option<usize>) {
    if let Some(depth) = depth {
        out.push('\n');
        out.push_str(&"    ".repeat(depth));
    }
}

/// A JSON string with Go's escaping (HTML-safe, U+2028/U+2029 escaped).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Go's JSON encoder writes it: integers as they are, floats
/// in the shortest form, with an exponent only below 1e-6 or from 1e21.
fn json_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => {
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                // Go writes `e-7`, not `e-07`, in JSON.
                exponent_form(f, 1)
            } else {
                format!("{f}")
            }
        }
        _ => n.to_string(),
    }
}

/// A number as Go's `fmt.Print` writes it (jsonpath's plain text output):
/// floats in `%g` form with the shortest digits, so `1e+06`, `0.5`.
pub(crate) fn print_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => {
            let exponent = decimal_exponent(f);
            if f != 0.0 && !(-4..6).contains(&exponent) {
                exponent_form(f, 2)
            } else {
                format!("{f}")
            }
        }
        _ => n.to_string(),
    }
}

/// The power of ten of `f`'s leading digit.
fn decimal_exponent(f: f64) -> i32 {
    let s = format!("{f:e}");
    s.split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0)
}

/// `1.5e+21`, `1e-07`: shortest mantissa, signed exponent of at least
/// `min_digits` digits.
fn exponent_form(f: f64, min_digits: usize) -> String {
    let s = format!("{f:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{mantissa}e{sign}{:0width$}",
        exponent.abs(),
        width = min_digits
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indented_like_kubectl() {
        let v = json!({"kind": "List", "apiVersion": "v1", "items": [], "metadata": {"a": {}, "b": [1, "x"]}});
        assert_eq!(
            to_indented(&v),
            r#"{
    "apiVersion": "v1",
    "items": [],
    "kind": "List",
    "metadata": {
        "a": {},
        "b": [
            1,
            "x"
        ]
    }
}
"#
        );
    }

    #[test]
    fn compact_sorts_keys_and_escapes_like_go() {
        let v = json!({"b": "<a&b>", "a": "tab\there\u{1}\u{2028}", "c": [true, null, -3]});
        assert_eq!(
            to_compact(&v),
            r#"{"a":"tab\there\u0001\u2028","b":"\u003ca\u0026b\u003e","c":[true,null,-3]}"#
        );
    }

    #[test]
    fn floats() {
        let n = |f: f64| Number::from_f64(f).unwrap();
        assert_eq!(json_number(&n(1.0)), "1");
        assert_eq!(json_number(&n(0.5)), "0.5");
        assert_eq!(json_number(&n(1e20)), "100000000000000000000");
        assert_eq!(json_number(&n(1e21)), "1e+21");
        assert_eq!(json_number(&n(1.5e-7)), "1.5e-7");
        assert_eq!(print_number(&n(0.5)), "0.5");
        assert_eq!(print_number(&n(100000.0)), "100000");
        assert_eq!(print_number(&n(1e6)), "1e+06");
        assert_eq!(print_number(&n(123456789.0)), "1.23456789e+08");
        assert_eq!(print_number(&n(0.0001)), "0.0001");
        assert_eq!(print_number(&n(0.00001)), "1e-05");
        assert_eq!(print_number(&Number::from(42)), "42");
    }
}
