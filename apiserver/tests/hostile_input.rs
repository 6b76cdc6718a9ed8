//! Hostile input against a real apiserver (its loopback port: decoders
//! and handlers, not authentication): every category of malformed or
//! malicious request is answered with a 4xx Status naming the problem;
//! afterwards the server is alive, answers quickly, stored nothing of
//! what it refused, never panicked, and its peak memory stayed bounded.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tug_tests::watched::WatchedApiServer;

const CM: &str = "/api/v1/namespaces/default/configmaps";
const PODS: &str = "/api/v1/namespaces/default/pods";
const SVCS: &str = "/api/v1/namespaces/default/services";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
/// Peak resident memory the apiserver may reach over the whole suite.
const MAX_PEAK_RSS_KIB: u64 = 512 * 1024;
/// How fast a trivial request must be answered after the suite.
const QUICK: Duration = Duration::from_secs(1);

/// One hostile request and what it must get back.
#[derive(Clone)]
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    /// A part of the Status message (the field or the problem named).
    message: &'static str,
}

fn post(what: &'static str, path: &str, body: Value, code: u16, message: &'static str) -> Case {
    Case {
        what,
        method: Method::POST,
        path: path.to_string(),
        content_type: "application/json",
        body: serde_json::to_vec(&body).unwrap(),
        code,
        message,
    }
}

fn raw(
    what: &'static str,
    path: &str,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    code: u16,
    message: &'static str,
) -> Case {
    Case {
        what,
        method: Method::POST,
        path: path.to_string(),
        content_type,
        body: body.into(),
        code,
        message,
    }
}

fn get(what: &'static str, path: &str, code: u16, message: &'static str) -> Case {
    Case {
        what,
        method: Method::GET,
        path: path.to_string(),
        content_type: "application/json",
        body: Vec::new(),
        code,
        message,
    }
}

/// A pod named `hostile` with `spec` merged over a valid one.
fn pod_with(spec: Value) -> Value {
    let mut p = pod("hostile");
    for (k, v) in spec.as_object().unwrap() {
        p["spec"][k] = v.clone();
    }
    p
}

/// A pod whose only container has `fields` merged in.
fn container_with(fields: Value) -> Value {
    let mut p = pod("hostile");
    for (k, v) in fields.as_object().unwrap() {
        p["spec"]["containers"][0][k] = v.clone();
    }
    p
}

fn deployment_with(spec: Value) -> Value {
    let mut d = deployment("hostile", 1);
    for (k, v) in spec.as_object().unwrap() {
        d["spec"][k] = v.clone();
    }
    d
}

fn service_ports(ports: Value, svc_type: &str) -> Value {
    let mut s = service("hostile", svc_type);
    s["spec"]["ports"] = ports;
    s
}

/// Deeply nested, oversized, aliased and mis-encoded bodies.
fn body_cases() -> Vec<Case> {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"metadata\":{}1{}}}",
        "{\"a\":".repeat(300),
        "}".repeat(300)
    );
    // Parses (under serde_json's 128) but nests past what may be stored.
    let nested_110 = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"n\"}},\"x\":{}1{}}}",
        "[".repeat(110),
        "]".repeat(110)
    );
    let deep_yaml_block: String = (0..400).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
    let mut laughs = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (level, prev) in ('b'..='i').zip('a'..='h') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        laughs.push_str(&format!("{level}: &{level} [{refs}]\n"));
    }
    let anchor = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors\ndata:\n  a0: &x {}\n{}",
        "x".repeat(2 << 20),
        (1..200)
            .map(|i| format!("  a{i}: *x\n"))
            .collect::<String>()
    );
    let mut huge = configmap("huge", json!({}));
    huge["metadata"]["annotations"] = json!({"a": "x".repeat(2_900_000)});
    vec![
        raw(
            "deeply nested JSON array",
            CM,
            "application/json",
            deep_array.clone(),
            400,
            "recursion limit exceeded",
        ),
        raw(
            "deeply nested JSON object",
            CM,
            "application/json",
            deep_object,
            400,
            "recursion limit exceeded",
        ),
        raw(
            "JSON nested past the storable depth",
            CM,
            "application/json",
            nested_110,
            400,
            "too deeply nested",
        ),
        raw(
            "deeply nested YAML flow",
            CM,
            "application/yaml",
            deep_array,
            400,
            "recursion limit exceeded",
        ),
        raw(
            "deeply nested YAML block",
            CM,
            "application/yaml",
            deep_yaml_block,
            400,
            "recursion limit exceeded",
        ),
        raw(
            "billion laughs",
            CM,
            "application/yaml",
            laughs,
            400,
            "not valid YAML",
        ),
        raw(
            "huge anchor repeated",
            CM,
            "application/yaml",
            anchor,
            400,
            "YAML aliases expand the document beyond",
        ),
        raw(
            "body over 3 MiB",
            CM,
            "application/json",
            vec![b' '; 4 << 20],
            413,
            "too large",
        ),
        post(
            "a 2.9 MiB annotation",
            CM,
            huge,
            422,
            "metadata.annotations: Too long",
        ),
        raw(
            "invalid UTF-8 in a JSON string",
            CM,
            "application/json",
            b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"\xff\"}}"
                .to_vec(),
            400,
            "not valid JSON",
        ),
        raw(
            "invalid UTF-8 in YAML",
            CM,
            "application/yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"\xfe\"\n".to_vec(),
            400,
            "not valid UTF-8",
        ),
        raw(
            "JSON with a lone surrogate",
            CM,
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\ud800"}}"#.to_vec(),
            400,
            "not valid JSON",
        ),
        raw(
            "duplicate keys, strict",
            &format!("{CM}?fieldValidation=Strict"),
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}"#
                .to_vec(),
            400,
            "duplicate field \"metadata.name\"",
        ),
    ]
}

/// Names, labels, annotations and paths that escape or overflow.
fn name_and_path_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (what, name) in [
        ("name with /", "a/b"),
        ("name with %", "a%b"),
        ("name ..", ".."),
        ("name .", "."),
    ] {
        cases.push(post(
            what,
            CM,
            configmap(name, json!({})),
            422,
            "metadata.name: Invalid value",
        ));
    }
    let mut long_label = configmap("l", json!({}));
    long_label["metadata"]["labels"] = json!({"a": "x".repeat(64)});
    cases.push(post(
        "label value over 63",
        CM,
        long_label,
        422,
        "must be no more than 63 characters",
    ));
    let mut bad_key = configmap("l", json!({}));
    bad_key["metadata"]["labels"] = json!({"a b/c/d": "x"});
    cases.push(post(
        "label key with bad characters",
        CM,
        bad_key,
        422,
        "metadata.labels: Invalid value",
    ));
    let mut annotations = configmap("l", json!({}));
    annotations["metadata"]["annotations"] =
        json!({"a": "x".repeat(200 * 1024), "b": "y".repeat(100 * 1024)});
    cases.push(post(
        "annotations over 256 KiB",
        CM,
        annotations,
        422,
        "may not be more than 262144 bytes",
    ));
    cases.push(post(
        "hostPath with ..",
        PODS,
        pod_with(json!({"volumes": [{"name": "v", "hostPath": {"path": "/var/../etc"}}]})),
        422,
        "spec.volumes[0].hostPath.path: Invalid value: \"/var/../etc\": must not contain '..'",
    ));
    cases.push(post(
        "volume name with ..",
        PODS,
        pod_with(json!({"volumes": [{"name": "../etc", "emptyDir": {}}]})),
        422,
        "spec.volumes[0].name: Invalid value",
    ));
    cases.push(post("configMap item path ..", PODS,
        pod_with(json!({"volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}]})),
        422, "spec.volumes[0].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'"));
    cases.push(post("configMap item path absolute", PODS,
        pod_with(json!({"volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "/etc/x"}]}}]})),
        422, "must be a relative path"));
    for (what, path) in [
        ("path name with %2F", format!("{CM}/a%2Fb")),
        ("path name invalid UTF-8", format!("{CM}/%ff%fe")),
    ] {
        cases.push(get(what, &path, 400, "invalid path segment"));
    }
    cases.push(get(
        "label selector of invalid UTF-8",
        &format!("{CM}?labelSelector=%ff"),
        400,
        "unable to parse labelSelector",
    ));
    cases.push(get(
        "label selector unbalanced",
        &format!("{CM}?labelSelector={}", "(".repeat(5000)),
        400,
        "unable to parse labelSelector",
    ));
    cases.push(get(
        "limit not a number",
        &format!("{CM}?limit=1e300"),
        400,
        "limit",
    ));
    cases.push(get(
        "limit over i64",
        &format!("{CM}?limit=99999999999999999999"),
        400,
        "limit",
    ));
    cases.push(get(
        "continue token garbage",
        &format!("{CM}?continue=%ff%fe"),
        400,
        "continue",
    ));
    cases
}

/// Numbers out of range, of the wrong type, negative or huge.
fn number_cases() -> Vec<Case> {
    vec![
        post(
            "replicas -1",
            DEPLOYS,
            deployment_with(json!({"replicas": -1})),
            422,
            "spec.replicas: Invalid value: -1",
        ),
        post(
            "replicas 1e300",
            DEPLOYS,
            deployment_with(json!({"replicas": 1e300})),
            400,
            "spec.replicas",
        ),
        post(
            "replicas 2^31",
            DEPLOYS,
            deployment_with(json!({"replicas": 2147483648u64})),
            400,
            "spec.replicas",
        ),
        post(
            "replicas 2^63",
            DEPLOYS,
            deployment_with(json!({"replicas": 9223372036854775808u64})),
            400,
            "spec.replicas",
        ),
        post(
            "replicas a float",
            DEPLOYS,
            deployment_with(json!({"replicas": 1.5})),
            400,
            "spec.replicas",
        ),
        post(
            "replicas a string",
            DEPLOYS,
            deployment_with(json!({"replicas": "3"})),
            400,
            "spec.replicas",
        ),
        post(
            "maxSurge -5",
            DEPLOYS,
            deployment_with(
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": -5}}}),
            ),
            422,
            "spec.strategy.rollingUpdate.maxSurge",
        ),
        post(
            "maxSurge 2^40",
            DEPLOYS,
            deployment_with(
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1u64 << 40}}}),
            ),
            400,
            "spec.strategy.rollingUpdate.maxSurge",
        ),
        post(
            "maxUnavailable 1000%",
            DEPLOYS,
            deployment_with(
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "1000%"}}}),
            ),
            422,
            "must not be greater than 100%",
        ),
        post(
            "revisionHistoryLimit -1",
            DEPLOYS,
            deployment_with(json!({"revisionHistoryLimit": -1})),
            422,
            "spec.revisionHistoryLimit",
        ),
        post(
            "containerPort 0",
            PODS,
            container_with(json!({"ports": [{"containerPort": 0}]})),
            422,
            "spec.containers[0].ports[0].containerPort",
        ),
        post(
            "containerPort 70000",
            PODS,
            container_with(json!({"ports": [{"containerPort": 70000}]})),
            422,
            "must be between 1 and 65535",
        ),
        post(
            "containerPort 1e300",
            PODS,
            container_with(json!({"ports": [{"containerPort": 1e300}]})),
            400,
            "spec.containers[0].ports[0].containerPort",
        ),
        post(
            "service port 65536",
            SVCS,
            service_ports(json!([{"port": 65536}]), "ClusterIP"),
            422,
            "spec.ports[0].port",
        ),
        post(
            "targetPort 70000",
            SVCS,
            service_ports(json!([{"port": 80, "targetPort": 70000}]), "ClusterIP"),
            422,
            "spec.ports[0].targetPort",
        ),
        post(
            "targetPort -1",
            SVCS,
            service_ports(json!([{"port": 80, "targetPort": -1}]), "ClusterIP"),
            422,
            "spec.ports[0].targetPort",
        ),
        post(
            "nodePort 70000",
            SVCS,
            service_ports(json!([{"port": 80, "nodePort": 70000}]), "NodePort"),
            422,
            "spec.ports[0].nodePort",
        ),
        post(
            "nodePort -1",
            SVCS,
            service_ports(json!([{"port": 80, "nodePort": -1}]), "NodePort"),
            422,
            "spec.ports[0].nodePort",
        ),
        post(
            "grace period -1",
            PODS,
            pod_with(json!({"terminationGracePeriodSeconds": -1})),
            422,
            "spec.terminationGracePeriodSeconds",
        ),
        post(
            "grace period 2^64",
            PODS,
            pod_with(json!({"terminationGracePeriodSeconds": 18446744073709551616.0})),
            400,
            "spec.terminationGracePeriodSeconds",
        ),
        post(
            "activeDeadlineSeconds 0",
            PODS,
            pod_with(json!({"activeDeadlineSeconds": 0})),
            422,
            "spec.activeDeadlineSeconds",
        ),
        post(
            "activeDeadlineSeconds -5",
            PODS,
            pod_with(json!({"activeDeadlineSeconds": -5})),
            422,
            "spec.activeDeadlineSeconds",
        ),
        post(
            "probe periodSeconds -1",
            PODS,
            container_with(
                json!({"livenessProbe": {"exec": {"command": ["x"]}, "periodSeconds": -1}}),
            ),
            422,
            "spec.containers[0].livenessProbe.periodSeconds",
        ),
        post(
            "probe port 0",
            PODS,
            container_with(json!({"readinessProbe": {"httpGet": {"port": 0}}})),
            422,
            "spec.containers[0].readinessProbe.httpGet.port",
        ),
        post(
            "quantity garbage",
            PODS,
            container_with(json!({"resources": {"limits": {"memory": "12xyz"}}})),
            422,
            "spec.containers[0].resources.limits[memory]",
        ),
        post(
            "quantity negative",
            PODS,
            container_with(json!({"resources": {"requests": {"cpu": "-1"}}})),
            422,
            "spec.containers[0].resources.requests[cpu]",
        ),
        post(
            "quantity exponent overflow",
            PODS,
            container_with(json!({"resources": {"limits": {"cpu": "1e9999999999999999999"}}})),
            422,
            "spec.containers[0].resources.limits[cpu]",
        ),
    ]
}

/// Send `request` as raw bytes, as no client library would (invalid
/// UTF-8 or dot segments in the request line, which URL parsers rewrite);
/// the status code and the whole response.
fn raw_http(port: u16, request: &[u8]) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request).ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, text))
}

/// What the suite leaves stored, per collection, to compare before/after.
async fn stored(api: &Api) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [CM, PODS, SVCS, DEPLOYS] {
        let list = api.get(path).await.ok();
        let mut names: Vec<Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                json!([
                    path,
                    o["metadata"]["name"],
                    o["metadata"]["resourceVersion"]
                ])
            })
            .collect();
        names.sort_by_key(|v| v.to_string());
        out.extend(names);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_is_refused_without_harm() {
    let mut server = WatchedApiServer::start(binary(), &[]).expect("apiserver starts");
    let api = Api::new(&server.url);
    api.post(CM, &configmap("keep", json!({"a": "b"})))
        .await
        .ok();
    api.post(DEPLOYS, &deployment("keep", 1)).await.ok();
    let before = stored(&api).await;

    let mut failures = Vec::new();
    let cases: Vec<Case> = [body_cases(), name_and_path_cases(), number_cases()].concat();
    for case in &cases {
        let r = api
            .raw(
                case.method.clone(),
                &case.path,
                case.content_type,
                case.body.clone(),
            )
            .await;
        let ok =
            r.code == case.code && r.body["kind"] == "Status" && r.message().contains(case.message);
        if !ok {
            failures.push(format!(
                "{}: expected {} with {:?}, got {}: {}",
                case.what, case.code, case.message, r.code, r.body
            ));
        }
    }

    // Dot segments and invalid UTF-8 straight in the request line.
    for (line, message) in [
        (
            &b"/api/v1/namespaces/default/configmaps/.."[..],
            "invalid path segment",
        ),
        (
            b"/api/v1/namespaces/default/configmaps/.",
            "invalid path segment",
        ),
        (
            b"/api/v1/namespaces/%2e%2e/configmaps",
            "invalid path segment",
        ),
        (b"/api/v1/namespaces/default/configmaps/../../secrets", ""),
        (b"/api/v1/namespaces/default/configmaps/\xff\xfe", ""),
        (
            b"/api/v1/namespaces/default/configmaps?labelSelector=\xff",
            "",
        ),
    ] {
        let request = [
            &b"GET "[..],
            line,
            b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        let answer = raw_http(server.port, &request);
        let ok = answer
            .as_ref()
            .is_some_and(|(code, text)| (400..500).contains(code) && text.contains(message));
        if !ok {
            failures.push(format!(
                "GET {}: expected a 4xx with {message:?}, got {answer:?}",
                String::from_utf8_lossy(line)
            ));
        }
    }

    // A JSON patch nesting a value under a deep path would store an
    // object nobody can read back: refused, and the object stays readable.
    let deep_path: String = (0..60).map(|i| format!("/f:x{i}")).collect();
    let mut chain = json!({});
    let mut deep_value = json!({});
    for i in (0..60).rev() {
        chain = json!({ format!("f:x{i}"): chain });
        deep_value = json!({ "f:y": deep_value });
    }
    let managed = json!([{"manager": "m", "operation": "Update", "apiVersion": "v1",
        "fieldsType": "FieldsV1", "fieldsV1": chain}]);
    let r = api
        .patch(
            &format!("{CM}/keep"),
            "application/merge-patch+json",
            &json!({"metadata": {"managedFields": managed}}),
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.body);
    let r = api
        .patch(
            &format!("{CM}/keep"),
            "application/json-patch+json",
            &json!([{"op": "add", "path": format!("/metadata/managedFields/0/fieldsV1{deep_path}"), "value": deep_value}]),
        )
        .await;
    if !(r.code == 422 && r.message().contains("too deeply nested")) {
        failures.push(format!(
            "deep JSON patch: expected 422 too deeply nested, got {}: {}",
            r.code, r.body
        ));
    }
    let r = api.get(&format!("{CM}/keep")).await;
    assert_eq!(r.code, 200, "the patched object still reads: {}", r.body);

    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Alive, quick, unchanged, never panicked, memory bounded.
    assert!(server.is_running(), "the apiserver is running");
    let t = Instant::now();
    api.get("/readyz").await;
    assert!(t.elapsed() < QUICK, "readyz answered in {:?}", t.elapsed());
    let mut after = stored(&api).await;
    // The managedFields merge patch above changed `keep`'s version only.
    for v in after.iter_mut().chain(before.clone().iter_mut()) {
        v[2] = Value::Null;
    }
    let mut expected = before;
    for v in expected.iter_mut() {
        v[2] = Value::Null;
    }
    assert_eq!(after, expected, "nothing refused was written");
    let panics = server.panics();
    assert!(panics.is_empty(), "the apiserver panicked: {panics:?}");
    let peak = server.peak_rss_kib().expect("VmHWM");
    eprintln!(
        "apiserver peak RSS (VmHWM) over {} hostile cases: {} MiB",
        cases.len(),
        peak / 1024
    );
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB over {MAX_PEAK_RSS_KIB} KiB"
    );
}
