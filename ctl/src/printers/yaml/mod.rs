//! `-o yaml`, written the way kubectl writes it (JSON through go-yaml v2):
//! keys in go-yaml's order, two-space indentation, lists inside a mapping
//! not indented (`- name: x` under `containers:`), and strings quoted only
//! when they must be — double quotes when the bare text would read as a
//! number, bool, null or timestamp (`resourceVersion: "12"`), single
//! quotes when YAML syntax forbids the bare form, `|` blocks for text with
//! line breaks. Long strings are not folded at 80 columns as go-yaml
//! folds them; the text reads back the same either way.

mod scalar;

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::gojson;
use scalar::{Place, Style};

/// The YAML document for `value`.
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0, false),
        scalar => write_scalar(&mut out, scalar, 0),
    }
    out
}

/// The entries of `map`, one per line at `indent`; with `inline`, the
/// first goes where the cursor is (after a `- `).
fn write_mapping(out: &mut String, map: &Map<String, Value>, indent: usize, inline: bool) {
    for (i, key) in sorted_keys(map).into_iter().enumerate() {
        if i > 0 || !inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar_text(key, Place::Key));
        out.push(':');
        match &map[key] {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                write_mapping(out, child, indent + 2, false);
            }
            // go-yaml does not indent a list that is a mapping's value.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_sequence(out, items, indent, false);
            }
            value => {
                out.push(' ');
                write_scalar(out, value, indent + 2);
            }
        }
    }
}

/// The items of a list, `- ` at `indent`; with `inline`, the first dash
/// goes where the cursor is (after another `- `).
fn write_sequence(out: &mut String, items: &[Value], indent: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_mapping(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => {
                write_sequence(out, inner, indent + 2, true)
            }
            value => write_scalar(out, value, indent + 2),
        }
    }
}

/// A scalar (or empty `{}` / `[]`) and its line break; a block scalar's
/// lines are indented by `indent`.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::String(s) if scalar::style(s, Place::Value) == Style::Literal => {
            out.push_str(&scalar::literal_header(s));
            out.push('\n');
            let body = s.strip_suffix('\n').unwrap_or(s);
            for line in body.split('\n') {
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Value::String(s) => {
            out.push_str(&scalar_text(s, Place::Value));
            out.push('\n');
        }
        Value::Null => out.push_str("null\n"),
        Value::Bool(b) => out.push_str(if *b { "true\n" } else { "false\n" }),
        Value::Number(n) => {
            out.push_str(&gojson::print_number(n));
            out.push('\n');
        }
        Value::Array(_) => out.push_str("[]\n"),
        Value::Object(_) => out.push_str("{}\n"),
    }
}

/// A one-line string in the style go-yaml picks for it.
fn scalar_text(s: &str, place: Place) -> String {
    match scalar::style(s, place) {
        Style::Plain => s.to_string(),
        Style::SingleQuoted => scalar::single_quoted(s),
        Style::DoubleQuoted | Style::Literal => scalar::double_quoted(s),
    }
}

/// The keys of `map` in go-yaml's order. An insertion sort: the order is
/// not guaranteed to be total, and this sort cannot fail on that.
fn sorted_keys(map: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && compare_keys(keys[j], keys[j - 1]) == Ordering::Less {
            keys.swap(j, j - 1);
            j -= 1;
        }
    }
    keys
}

/// go-yaml's `keyList.Less` for strings: letters by code point, a
/// non-letter before a letter, and runs of digits by their value
/// (`item9` before `item10`).
fn compare_keys(a: &str, b: &str) -> Ordering {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (a_letter, b_letter) = (a[i].is_alphabetic(), b[i].is_alphabetic());
        if a_letter && b_letter {
            return a[i].cmp(&b[i]);
        }
        if a_letter || b_letter {
            return if b_letter {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        // A digit after a non-zero digit continues a number: "10" vs "1".
        let continues_number = (a[i] == '0' || b[i] == '0')
            && a[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|c| *c != '0');
        let start = if continues_number { 1 } else { 0 };
        let (a_end, a_number) = number_at(&a, i, start);
        let (b_end, b_number) = number_at(&b, i, start);
        if a_number != b_number {
            return a_number.cmp(&b_number);
        }
        if a_end != b_end {
            return a_end.cmp(&b_end);
        }
        return a[i].cmp(&b[i]);
    }
    a.len().cmp(&b.len())
}

/// The end of the run of digits at `i` and its value (Go's overflow
/// wrap-around included), starting the value at `start`.
fn number_at(chars: &[char], i: usize, start: i64) -> (usize, i64) {
    let mut end = i;
    let mut value = start;
    while let Some(d) = chars.get(end).and_then(|c| c.to_digit(10)) {
        value = value.wrapping_mul(10).wrapping_add(i64::from(d));
        end += 1;
    }
    (end, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_layout() {
        let pod = json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "web",
                "labels": {"app": "web"},
                "resourceVersion": "12",
                "creationTimestamp": "2024-05-01T11:00:00Z",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\"}\n",
                    "note": "a: b",
                    "empty": ""
                },
                "finalizers": []
            },
            "spec": {
                "containers": [{
                    "name": "nginx",
                    "image": "nginx:1.25",
                    "args": ["-c", "echo hi\necho there", "true"],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {}
                }],
                "nodeSelector": null,
                "terminationGracePeriodSeconds": 30,
                "hostNetwork": false,
                "weights": [[1, 2], []]
            },
            "status": {"ratio": 0.5}
        });
        assert_eq!(
            to_yaml(&pod),
            "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    empty: \"\"
    kubectl.kubernetes.io/last-applied-configuration: |
      {\"apiVersion\":\"v1\"}
    note: 'a: b'
  creationTimestamp: \"2024-05-01T11:00:00Z\"
  finalizers: []
  labels:
    app: web
  name: web
  resourceVersion: \"12\"
spec:
  containers:
  - args:
    - -c
    - |-
      echo hi
      echo there
    - \"true\"
    image: nginx:1.25
    name: nginx
    ports:
    - containerPort: 80
      protocol: TCP
    resources: {}
  hostNetwork: false
  nodeSelector: null
  terminationGracePeriodSeconds: 30
  weights:
  - - 1
    - 2
  - []
status:
  ratio: 0.5
"
        );
    }

    #[test]
    fn key_order_is_go_yamls() {
        let map =
            json!({"item10": 1, "item9": 2, "B": 3, "a": 4, "_x": 5, "a-b": 6, "ab": 7, "a1": 8});
        let keys = sorted_keys(map.as_object().unwrap());
        assert_eq!(keys, ["_x", "B", "a", "a-b", "a1", "ab", "item9", "item10"]);
    }

    #[test]
    fn output_reads_back_as_the_same_value() {
        let strings = [
            "",
            " ",
            "x",
            "12",
            "1.5",
            "yes",
            "null",
            "~",
            "- a",
            "a: b",
            "#c",
            "x #y",
            "'q'",
            "\"dq\"",
            "tab\t",
            "line\n",
            "two\nlines",
            "\nlead",
            "trail \nx",
            "x\n\n",
            "😀",
            "back\\slash",
            "2024-01-01",
            "1:20",
            "@at",
            "%pct",
            "`tick`",
            "---",
            "...",
            "? q",
            "[a]",
            "{b}",
            "*star",
            "&amp",
            "!bang",
            "|pipe",
            ">gt",
            "\u{85}nel",
            "\r\n",
        ];
        let mut map = Map::new();
        for (i, s) in strings.iter().enumerate() {
            map.insert(format!("k{i}"), json!(s));
            map.insert(s.to_string(), json!(i));
        }
        let value = json!({"m": map, "l": strings.to_vec(), "n": [1, -2, 0.25, 1e21, true, null]});
        let text = to_yaml(&value);
        let back: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, value, "{text}");
    }
}
