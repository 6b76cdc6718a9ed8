use std::fs;
use std::path::Path;

use serde_json::json;

use super::*;

fn file(name: &str) -> Source {
    Source::File(PathBuf::from(name))
}

fn parse_yaml(name: &str, text: &str) -> Loaded {
    parse(file(name), text, Format::Yaml)
}

fn errors(loaded: &Loaded) -> Vec<String> {
    loaded.errors.iter().map(ToString::to_string).collect()
}

fn origins(loaded: &Loaded) -> Vec<String> {
    loaded
        .manifests
        .iter()
        .map(Manifest::describe_origin)
        .collect()
}

const WEB: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
---
# the deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
";

#[test]
fn error_line_names_file_document_and_object() {
    let loaded = parse_yaml("manifests/web.yaml", WEB);
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    let deployment = &loaded.manifests[1];
    assert_eq!(
        deployment.error_line("spec.replicas: Invalid value: -1: must be >= 0"),
        "manifests/web.yaml: document 2 (Deployment web): spec.replicas: Invalid value: -1: must be >= 0"
    );
    assert_eq!(deployment.kind(), "Deployment");
    assert_eq!(deployment.api_version(), "apps/v1");
    assert_eq!(deployment.name(), Some("web"));
    assert_eq!(deployment.namespace(), None);
    assert_eq!(deployment.object["spec"]["replicas"], json!(-1));
}

#[test]
fn multi_document_yaml_skips_empty_documents_but_counts_them() {
    let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# only a comment\n---\nnull\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: b-\n---\n";
    let loaded = parse_yaml("cm.yaml", text);
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    assert_eq!(
        origins(&loaded),
        [
            "cm.yaml: document 1 (ConfigMap a)",
            "cm.yaml: document 5 (ConfigMap b-)"
        ]
    );
}

#[test]
fn json_objects_and_streams() {
    let text = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}"#;
    let loaded = parse(file("ns.json"), text, Format::Json);
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    assert_eq!(
        origins(&loaded),
        [
            "ns.json: document 1 (Namespace a)",
            "ns.json: document 2 (Namespace b)"
        ]
    );
}

#[test]
fn list_items_become_objects_with_their_position() {
    let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        {"metadata": {"name": "typeless"}}
    ]}"#;
    let loaded = parse(file("all.json"), text, Format::Json);
    assert_eq!(
        origins(&loaded),
        [
            "all.json: document 1, item 1 (Service web)",
            "all.json: document 1, item 2 (Deployment web)"
        ]
    );
    assert_eq!(
        errors(&loaded),
        ["all.json: document 1, item 3 (typeless): apiVersion, kind not set"]
    );

    let yaml = "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n";
    let loaded = parse_yaml("pods.yaml", yaml);
    assert_eq!(origins(&loaded), ["pods.yaml: document 1, item 1 (Pod p)"]);
}

#[test]
fn yaml_syntax_error_names_file_document_and_line() {
    let text = format!(
        "{WEB}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n"
    );
    let loaded = parse_yaml("manifests/web.yaml", &text);
    // The documents before the broken one still load.
    assert_eq!(loaded.manifests.len(), 2);
    assert_eq!(
        errors(&loaded),
        ["manifests/web.yaml: document 3: line 21, column 7: mapping values are not allowed in this context"]
    );
}

#[test]
fn json_syntax_error_names_file_document_and_line() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}\n{\"apiVersion\": \"v1\",\n \"kind\" \"Namespace\"}\n";
    let loaded = parse(file("ns.json"), text, Format::Json);
    assert_eq!(loaded.manifests.len(), 1);
    assert_eq!(
        errors(&loaded),
        ["ns.json: document 2: line 3, column 9: expected `:`"]
    );
}

#[test]
fn documents_that_are_not_objects_or_lack_type_information() {
    let text = "- a\n- b\n---\nmetadata:\n  name: web\n---\nkind: Pod\n";
    let loaded = parse_yaml("x.yaml", text);
    assert!(loaded.manifests.is_empty());
    assert_eq!(
        errors(&loaded),
        [
            "x.yaml: document 1: expected an object with apiVersion and kind, found a list",
            "x.yaml: document 2 (web): apiVersion, kind not set",
            "x.yaml: document 3: apiVersion not set",
        ]
    );
}

#[test]
fn duplicate_keys_are_an_error() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n";
    let loaded = parse_yaml("dup.yaml", text);
    assert!(loaded.manifests.is_empty());
    let errors = errors(&loaded);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("dup.yaml: document 1: line ")
            && errors[0].ends_with("metadata: duplicate key \"name\""),
        "{errors:?}"
    );
}

#[test]
fn aliases_and_merge_keys_expand() {
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  labels: &labels {app: web, tier: front}
  annotations:
    <<: *labels
    tier: back
data:
  1: one
  true: yes
";
    let loaded = parse_yaml("cm.yaml", text);
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    let object = &loaded.manifests[0].object;
    assert_eq!(
        object["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    assert_eq!(
        object["metadata"]["annotations"],
        json!({"app": "web", "tier": "back"})
    );
    assert_eq!(object["data"], json!({"1": "one", "true": "yes"}));
}

#[test]
fn alias_bombs_are_refused() {
    // "Billion laughs": nine levels of ten aliases each.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (level, prev) in ('b'..='i').zip('a'..='h') {
        let refs = vec![format!("*{prev}"); 10].join(",");
        bomb.push_str(&format!("{level}: &{level} [{refs}]\n"));
    }
    let loaded = parse_yaml("bomb.yaml", &bomb);
    assert!(loaded.manifests.is_empty());
    let lines = errors(&loaded);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("bomb.yaml: document 1: YAML aliases expand this file beyond ")
            && lines[0].ends_with(" bytes; refusing to load it (alias bomb?)"),
        "{lines:?}"
    );

    // Few aliases, but each repeats a long string.
    let long = "x".repeat(100_000);
    let refs = vec!["*s"; 200].join(",");
    let wide = format!("s: &s \"{long}\"\nt: [{refs}]\n");
    let loaded = parse_yaml("wide.yaml", &wide);
    assert!(
        matches!(loaded.errors[..], [ManifestError::TooLarge { .. }]),
        "{:?}",
        errors(&loaded)
    );
}

#[test]
fn unsupported_tags_are_an_error() {
    let loaded = parse_yaml("t.yaml", "apiVersion: v1\nkind: !Ref Pod\n");
    let errors = errors(&loaded);
    assert!(
        errors[0].contains("YAML tag !Ref is not supported in manifests"),
        "{errors:?}"
    );
}

fn write(dir: &Path, name: &str, kind: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
    let text = if name.ends_with(".json") {
        format!(r#"{{"apiVersion": "v1", "kind": "{kind}", "metadata": {{"name": "{stem}"}}}}"#)
    } else {
        format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {stem}\n")
    };
    fs::write(path, text).unwrap();
}

#[test]
fn directories_in_name_order_recursively_with_r() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "b.yaml", "ConfigMap");
    write(root, "a.json", "ConfigMap");
    write(root, "sub/c.yml", "Secret");
    write(root, "sub/deeper/d.yaml", "Secret");
    write(root, "z.yaml", "ConfigMap");
    fs::write(root.join("README.md"), "not a manifest").unwrap();

    let names = |loaded: &Loaded| -> Vec<String> {
        loaded
            .manifests
            .iter()
            .map(|m| m.name().unwrap().to_string())
            .collect()
    };
    let arg = root.to_str().unwrap();
    let flat = load(&[arg], false, &mut std::io::empty());
    assert!(flat.errors.is_empty(), "{:?}", errors(&flat));
    assert_eq!(names(&flat), ["a", "b", "z"]);

    let deep = load(&[arg], true, &mut std::io::empty());
    assert!(deep.errors.is_empty(), "{:?}", errors(&deep));
    assert_eq!(names(&deep), ["a", "b", "c", "d", "z"]);
    assert_eq!(
        deep.manifests[2].origin.source,
        Source::File(root.join("sub").join("c.yml"))
    );
}

#[test]
fn a_named_file_is_read_whatever_its_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("web.txt");
    fs::write(
        &path,
        r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}"#,
    )
    .unwrap();
    let loaded = load(&[path.to_str().unwrap()], false, &mut std::io::empty());
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    assert_eq!(loaded.manifests[0].name(), Some("n"));
}

#[test]
fn stdin_and_missing_paths() {
    let mut stdin = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-stdin\n".as_bytes();
    let loaded = load(
        &["-", "manifests/nope.yaml", "https://example.com/x.yaml"],
        false,
        &mut stdin,
    );
    assert_eq!(
        origins(&loaded),
        ["STDIN: document 1 (Namespace from-stdin)"]
    );
    assert_eq!(
        errors(&loaded),
        [
            "the path \"manifests/nope.yaml\" does not exist",
            "https://example.com/x.yaml: reading manifests from a URL is not supported; download the file and pass its path",
        ]
    );
}

#[test]
fn unreadable_and_non_utf8_files() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bin.yaml");
    fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    let loaded = load(&[path.to_str().unwrap()], false, &mut std::io::empty());
    assert_eq!(
        errors(&loaded),
        [format!(
            "{}: stream did not contain valid UTF-8",
            path.display()
        )]
    );
}

#[test]
fn byte_order_mark_is_ignored() {
    let loaded = parse_yaml(
        "bom.yaml",
        "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
    );
    assert!(loaded.errors.is_empty(), "{:?}", errors(&loaded));
    assert_eq!(loaded.manifests.len(), 1);
}
