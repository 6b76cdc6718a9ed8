use serde_json::{json, Value};

use super::*;

fn list() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [
            {
                "kind": "Pod",
                "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Initialized", "status": "True"},
                        {"type": "Ready", "status": "True"}
                    ]
                }
            },
            {
                "kind": "Pod",
                "metadata": {"name": "b"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}
            },
            {
                "kind": "Pod",
                "metadata": {"name": "c"},
                "spec": {"replicas": 3, "paused": false, "ratio": 0.5},
                "status": {"phase": "Running"}
            }
        ]
    })
}

fn run(template: &str, data: &Value) -> Result<String, String> {
    let path = JsonPath::parse(template).map_err(|e| e.to_string())?;
    path.execute(data).map_err(|e| e.to_string())
}

fn ok(template: &str) -> String {
    run(template, &list()).unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn err(template: &str) -> String {
    run(template, &list()).expect_err(template)
}

#[test]
fn fields_and_wildcard_indexes() {
    assert_eq!(ok("{.kind}"), "List");
    assert_eq!(ok("{.items[*].metadata.name}"), "a b c");
    assert_eq!(ok("{.items[0].metadata.name}"), "a");
    assert_eq!(ok("{.items[-1].metadata.name}"), "c");
    assert_eq!(ok("{ .items[1].status.phase }"), "Pending");
    assert_eq!(ok("{$.items[2].spec.replicas}"), "3");
    assert_eq!(ok("{.items[2].spec.paused}"), "false");
    assert_eq!(ok("{.items[2].spec.ratio}"), "0.5");
    assert_eq!(ok("{['kind']}"), "List");
    assert_eq!(ok("{.items[0]['metadata']['name']}"), "a");
}

#[test]
fn maps_and_lists_print_as_compact_json_with_sorted_keys() {
    assert_eq!(
        ok("{.items[0].spec}"),
        r#"{"containers":[{"image":"nginx","name":"c"}],"nodeName":"n1"}"#
    );
    assert_eq!(ok("{.items[1].spec.containers[*].image}"), "busybox");
    assert_eq!(ok("{.metadata}"), r#"{"resourceVersion":""}"#);
}

#[test]
fn slices_unions_and_escaped_dots() {
    assert_eq!(ok("{.items[0:2].metadata.name}"), "a b");
    assert_eq!(ok("{.items[0:3:2].metadata.name}"), "a c");
    assert_eq!(ok("{.items[1:].metadata.name}"), "b c");
    assert_eq!(ok("{.items[-2:].metadata.name}"), "b c");
    assert_eq!(ok("{.items[0,2].metadata.name}"), "a c");
    assert_eq!(ok("{.items[*]['metadata.name']}"), "a b c");
    assert_eq!(
        ok(r"{.items[0].metadata.labels.app\.kubernetes\.io/name}"),
        "web"
    );
    assert_eq!(ok("{.items[0].metadata.labels.*}"), "web");
}

#[test]
fn range_and_literal_text() {
    assert_eq!(
        ok(r#"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#),
        "a\tRunning\nb\tPending\nc\tRunning\n"
    );
    assert_eq!(
        ok("names: {.items[0].metadata.name}, {.items[1].metadata.name}!"),
        "names: a, b!"
    );
    assert_eq!(
        ok("{range .items[*]}[{range .spec.containers[*]}{.name}={.image};{end}]{end}"),
        "[c=nginx;][c=busybox;][]"
    );
    assert_eq!(ok(r"{'it\'s'}"), "it's");
    assert_eq!(ok("no actions at all"), "no actions at all");
}

#[test]
fn filters() {
    assert_eq!(
        ok(r#"{.items[0].status.conditions[?(@.type=="Ready")].status}"#),
        "True"
    );
    assert_eq!(
        ok(r#"{.items[*].status.conditions[?(@.type == 'Ready')].status}"#),
        "True False"
    );
    assert_eq!(
        ok(r#"{.items[?(@.status.phase!="Running")].metadata.name}"#),
        "b"
    );
    assert_eq!(ok("{.items[?(@.spec.replicas>2)].metadata.name}"), "c");
    assert_eq!(ok("{.items[?(@.spec.replicas<=2)].metadata.name}"), "");
    assert_eq!(ok("{.items[?(@.spec.nodeName)].metadata.name}"), "a");
    assert_eq!(
        err(r#"{.items[?(@.spec.replicas=="3")].metadata.name}"#),
        "incompatible types for comparison"
    );
}

#[test]
fn recursive_descent() {
    assert_eq!(ok("{.items[0].spec..name}"), "c");
    assert_eq!(ok("{..phase}"), "Running Pending Running");
}

#[test]
fn missing_fields_print_nothing() {
    assert_eq!(ok("{.a.b}"), "");
    assert_eq!(ok("{.items[*].spec.nodeName}"), "n1");
    assert_eq!(ok("[{.metadata.name}]"), "[]");
    assert_eq!(run("{.a[0]}", &json!({})).unwrap(), "");
}

#[test]
fn errors_read_like_kubectl() {
    assert_eq!(err("{.metadata.name"), "unclosed action");
    assert_eq!(err("{.items["), "unterminated array");
    assert_eq!(err("{.items[x]}"), "invalid array index x");
    assert_eq!(err("{#}"), "unrecognized character in action: U+0023 '#'");
    assert_eq!(err("{foo}"), "unrecognized identifier foo");
    assert_eq!(err(r#"{"abc}"#), "unterminated quoted string");
    assert_eq!(err("{.items[?(@.a==1}"), "unterminated filter");
    assert_eq!(
        err("{range .items[*]}{end}{end}"),
        "not in range, nothing to end"
    );
    assert_eq!(err("{....a}"), "invalid multiple recursive descent");
    assert_eq!(
        err("{.items[5].metadata.name}"),
        "array index out of bounds: index 5, length 3"
    );
    assert_eq!(
        run("{.items[0].metadata.name}", &json!({"items": []})).unwrap_err(),
        "array index out of bounds: index 0, length 0"
    );
    assert_eq!(err("{.kind[0]}"), "string is not array or slice");
    assert_eq!(err("{.items[0:3:0]}"), "step must be > 0");
}
