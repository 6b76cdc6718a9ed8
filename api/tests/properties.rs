//! Property tests for everything the apiserver runs on untrusted input:
//! the body parsers, every kind's strict decode + defaulting + validation,
//! the three patch formats, server-side apply's field bookkeeping,
//! quantities and int-or-strings. None of them may panic, whatever the
//! input; each case count is fixed so the suite runs in seconds.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tug_api::apps::{Deployment, ReplicaSet};
use tug_api::coordination::Lease;
use tug_api::core::{Binding, ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use tug_api::decode::{self, MAX_NESTING_DEPTH};
use tug_api::managedfields::{self, ListTypes, ManagedFields, Scope, Write};
use tug_api::patch::{self, PatchSchema};
use tug_api::{IntOrString, Quantity, Strategy as KindStrategy};

/// Cases per property: enough to find the shallow bugs, few enough for CI.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Field names the kinds really have, so generated documents reach deep
/// into the typed decoders instead of stopping at the first unknown key.
const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "status",
    "replicas",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "template",
    "containers",
    "image",
    "ports",
    "containerPort",
    "port",
    "targetPort",
    "nodePort",
    "protocol",
    "volumes",
    "hostPath",
    "path",
    "emptyDir",
    "configMap",
    "items",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "strategy",
    "rollingUpdate",
    "maxSurge",
    "maxUnavailable",
    "type",
    "data",
    "binaryData",
    "stringData",
    "finalizers",
    "ownerReferences",
    "uid",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "livenessProbe",
    "httpGet",
    "periodSeconds",
    "env",
    "value",
    "valueFrom",
    "clusterIP",
    "subsets",
    "addresses",
    "ip",
    "target",
    "holderIdentity",
    "leaseDurationSeconds",
    "involvedObject",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$deleteFromPrimitiveList/finalizers",
    "f:metadata",
    "f:spec",
    "k:{\"name\":\"c\"}",
    "v:\"a\"",
    "i:0",
    ".",
    "",
    "..",
    "a/b",
];

/// Strings with the shapes validators trip on: empty, long, non-ASCII,
/// numbers-as-text, quantities, percentages, paths with backsteps.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(KEYS).prop_map(str::to_string),
        prop::sample::select(
            &[
                "",
                "0",
                "-1",
                "25%",
                "999999999999999999999%",
                "%",
                "1e400",
                "1Ei",
                "99999999999999999999Ei",
                "0.0000000001m",
                "-0",
                "+1",
                "1e-400",
                "..",
                "/a/../b",
                "a b",
                "ä",
                "\u{0}",
                "9223372036854775808",
                "true",
                "null",
            ][..]
        )
        .prop_map(str::to_string),
        "[a-z0-9./%-]{0,70}",
        any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(
            &[
                0i64,
                -1,
                1,
                65535,
                65536,
                i32::MAX as i64,
                i32::MAX as i64 + 1,
                i64::MAX,
                i64::MIN
            ][..]
        )
        .prop_map(Value::from),
        Just(json!(1e300)),
        Just(json!(0.5)),
    ]
}

/// Arbitrary JSON values, a few levels deep.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid object of each kind the apiserver serves: the starting points
/// the mutations below change one field of.
fn seeds() -> Vec<(&'static str, Value)> {
    let meta = json!({"name": "a", "namespace": "default", "labels": {"app": "a"},
        "annotations": {"k": "v"}, "finalizers": ["x/y"]});
    let pod_spec = json!({
        "containers": [{"name": "c", "image": "busybox",
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "A", "value": "b"}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
            "livenessProbe": {"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 5},
            "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
        "volumes": [{"name": "v", "configMap": {"name": "cm", "items": [{"key": "k", "path": "p"}]}},
                    {"name": "h", "hostPath": {"path": "/tmp"}}, {"name": "e", "emptyDir": {}}],
        "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 60
    });
    let template = json!({"metadata": {"labels": {"app": "a"}}, "spec": pod_spec});
    let workload = json!({"replicas": 2, "selector": {"matchLabels": {"app": "a"},
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}, "template": template});
    let mut deploy_spec = workload.clone();
    deploy_spec["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}});
    vec![
        (
            "Pod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}),
        ),
        (
            "Deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": deploy_spec}),
        ),
        (
            "ReplicaSet",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": workload}),
        ),
        (
            "Service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "type": "NodePort", "selector": {"app": "a"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080, "protocol": "TCP"}]}}),
        ),
        (
            "ConfigMap",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {"a": "b"}, "binaryData": {"c": "ZA=="}}),
        ),
        (
            "Secret",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {"a": "Yg=="}, "stringData": {"c": "d"}}),
        ),
        (
            "Namespace",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "labels": {"a": "b"}}}),
        ),
        (
            "Node",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "spec": {"podCIDR": "10.0.0.0/24", "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
        ),
        (
            "Endpoints",
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
            "subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80, "name": "http"}]}]}),
        ),
        (
            "Event",
            json!({"apiVersion": "v1", "kind": "Event", "metadata": meta,
            "involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
            "reason": "Started", "message": "m", "type": "Normal", "count": 1}),
        ),
        (
            "Lease",
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}),
        ),
        (
            "Binding",
            json!({"apiVersion": "v1", "kind": "Binding", "metadata": meta,
            "target": {"kind": "Node", "name": "n1"}}),
        ),
    ]
}

/// What the apiserver does with a decoded body of kind `T`: strict
/// decode, defaulting, validation, then encoding it for storage.
fn pipeline<T: KindStrategy + serde::de::DeserializeOwned + serde::Serialize>(v: &Value) {
    let (_, cleaned) = decode::unknown_fields::<T>(v);
    if let Ok(mut obj) = decode::decode_strict::<T>(cleaned) {
        obj.apply_defaults();
        obj.prepare_for_create();
        let _ = obj.validate();
        let old = obj.clone();
        let _ = obj.validate_update(&old);
        let _ = serde_json::to_vec(&obj).expect("a decoded object encodes");
    }
}

/// Run [`pipeline`] for the kind `kind` names.
fn through_kind(kind: &str, v: &Value) {
    match kind {
        "Pod" => pipeline::<Pod>(v),
        "Deployment" => pipeline::<Deployment>(v),
        "ReplicaSet" => pipeline::<ReplicaSet>(v),
        "Service" => pipeline::<Service>(v),
        "ConfigMap" => pipeline::<ConfigMap>(v),
        "Secret" => pipeline::<Secret>(v),
        "Namespace" => pipeline::<Namespace>(v),
        "Node" => pipeline::<Node>(v),
        "Endpoints" => pipeline::<Endpoints>(v),
        "Event" => pipeline::<Event>(v),
        "Lease" => pipeline::<Lease>(v),
        "Binding" => pipeline::<Binding>(v),
        other => unreachable!("no pipeline for {other}"),
    }
}

/// Every path (object keys and array indexes) of `v`.
fn paths(v: &Value) -> Vec<Vec<Value>> {
    let mut out = vec![Vec::new()];
    let mut stack = vec![(v, Vec::new())];
    while let Some((v, at)) = stack.pop() {
        let children: Vec<(Value, &Value)> = match v {
            Value::Object(m) => m.iter().map(|(k, c)| (json!(k), c)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, c)| (json!(i), c)).collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            let mut p = at.clone();
            p.push(step);
            out.push(p.clone());
            stack.push((child, p));
        }
    }
    out
}

/// `v` with the value at `path` replaced by `new`.
fn replace_at(v: &Value, path: &[Value], new: Value) -> Value {
    let mut out = v.clone();
    let mut cur = &mut out;
    for step in path {
        cur = match step {
            Value::String(k) => &mut cur[k.as_str()],
            Value::Number(i) => &mut cur[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    *cur = new;
    out
}

/// A seed of some kind with one field (anywhere in it) replaced.
fn mutated_object() -> impl Strategy<Value = (&'static str, Value)> {
    let seeds = seeds();
    (0..seeds.len(), any::<prop::sample::Index>(), value()).prop_map(move |(k, at, new)| {
        let (kind, seed) = &seeds[k];
        let all = paths(seed);
        let path = &all[at.index(all.len())];
        (*kind, replace_at(seed, path, new))
    })
}

/// A JSON patch operation aimed at real paths of the seeds.
fn json_patch_op() -> impl Strategy<Value = Value> {
    let ops =
        prop::sample::select(&["add", "remove", "replace", "move", "copy", "test", "bogus"][..]);
    let path = prop::collection::vec(
        prop_oneof![
            text(),
            Just("-".to_string()),
            (0u8..4).prop_map(|i| i.to_string())
        ],
        0..6,
    )
    .prop_map(|segs| segs.iter().map(|s| format!("/{s}")).collect::<String>());
    (ops, path.clone(), path, value()).prop_map(
        |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::parse_json(&bytes);
    }

    #[test]
    fn yaml_text_never_panics(text in prop_oneof![
        any::<String>(),
        "[-a-z:&*!|>{}\\[\\], \n\"'#0-9.]{0,200}",
    ]) {
        let _ = decode::parse_yaml(&text);
    }

    #[test]
    fn parsed_values_never_nest_past_what_is_read_back(
        depth in 0usize..400, open in prop::sample::select(&["[", "{\"a\":"][..])
    ) {
        let close = if open == "[" { "]" } else { "}" };
        let doc = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        if let Ok((v, _)) = decode::parse_json(doc.as_bytes()) {
            // What parses, serializes and parses again.
            let bytes = serde_json::to_vec(&v).unwrap();
            prop_assert!(decode::parse_json(&bytes).is_ok());
            prop_assert_eq!(decode::nesting_depth(&v), depth);
            prop_assert_eq!(decode::check_nesting_depth(&v).is_ok(), depth <= MAX_NESTING_DEPTH);
        }
        let yaml = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let _ = decode::parse_yaml(&yaml);
    }

    #[test]
    fn arbitrary_values_through_every_kind_never_panic(v in value(), k in 0usize..12) {
        let kind = seeds()[k].0;
        through_kind(kind, &v);
    }

    #[test]
    fn mutated_objects_through_every_kind_never_panic((kind, v) in mutated_object()) {
        through_kind(kind, &v);
    }

    #[test]
    fn merge_patches_never_panic(mut target in value(), p in value()) {
        patch::merge_patch(&mut target, &p);
        let _ = patch::create_merge_patch(&target, &p);
    }

    #[test]
    fn json_patches_never_panic(
        (_, target) in mutated_object(),
        ops in prop::collection::vec(json_patch_op(), 0..4),
    ) {
        let mut t = target.clone();
        let _ = patch::json_patch(&mut t, &Value::Array(ops));
    }

    #[test]
    fn strategic_merge_patches_never_panic((kind, target) in mutated_object(), (_, p) in mutated_object(), junk in value()) {
        let group = target["apiVersion"].as_str().unwrap_or("v1").split_once('/').map_or("", |(g, _)| g).to_string();
        let schema = PatchSchema::for_kind(&group, kind);
        let _ = patch::strategic_merge_patch(&target, &p, &schema);
        let _ = patch::strategic_merge_patch(&target, &junk, &schema);
        let _ = patch::create_three_way_merge_patch(Some(&target), &p, &junk, &schema);
        let _ = patch::create_three_way_json_merge_patch(Some(&target), &p, &junk);
    }

    #[test]
    fn server_side_apply_never_panics(
        (kind, live) in mutated_object(), (_, config) in mutated_object(), mf in value(), force in any::<bool>()
    ) {
        let group = live["apiVersion"].as_str().unwrap_or("v1").split_once('/').map_or("", |(g, _)| g).to_string();
        let lists = ListTypes::for_kind(&group, kind);
        let w = Write {
            manager: "m", api_version: "v1", subresource: "", scope: Scope::WithoutStatus,
            lists: &lists, now: "2025-01-01T00:00:00Z",
        };
        let _ = ManagedFields::from_list(&mf);
        let mut managed = ManagedFields::of(&live).unwrap_or_default();
        let _ = managedfields::apply(&mut managed, Some(&live), &config, &w, force);
        managedfields::update(&mut managed, &live, &config, &w);
        let mut out = config.clone();
        managed.store(&mut out);
        let _ = ManagedFields::of(&out);
    }

    #[test]
    fn quantities_never_panic(s in prop_oneof![
        text(),
        "[-+]?[0-9.]{0,40}([eE][-+]?[0-9]{0,25})?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|n|u)?",
    ]) {
        if let Ok(parsed) = Quantity::parse(&s) {
            let _ = (parsed.milli_value(), parsed.value(), parsed.scaled_value(-9), parsed.scaled_value(30));
            let _ = parsed.checked_add(parsed).and_then(|p| p.checked_sub(-parsed));
            let q = parsed.to_quantity();
            prop_assert!(Quantity::parse(&q.to_string()).is_ok(), "canonical {} of {:?} parses", q, s);
        }
        let q: Result<Quantity, _> = serde_json::from_value(json!(s));
        if let Ok(q) = q {
            let _ = (q.milli_value(), q.value(), q.is_zero(), q.canonical());
            let _ = tug_api::validation::resource_quantity("f", &q);
        }
    }

    #[test]
    fn int_or_strings_never_panic(v in value(), total in any::<i32>(), up in any::<bool>()) {
        if let Ok(ios) = serde_json::from_value::<IntOrString>(v) {
            let _ = ios.scaled_value(total, up);
            let _ = tug_api::validation::port_num_or_name("f", &ios);
            let _ = ios.to_string();
        }
    }
}
