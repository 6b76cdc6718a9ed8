//! Schemathesis (PyPI) against the OpenAPI v3 documents a fresh apiserver
//! serves (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`, …): for a
//! fixed budget of generated requests per operation (valid and invalid
//! bodies, path and query parameters) the server must answer every one
//! without a 5xx or a dropped connection, never panic, and keep its peak
//! memory bounded.
//!
//! The virtualenv lives in the target directory (`schemathesis-venv/`),
//! made once. Run `cargo build -p tug-apiserver` first.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tug_tests::watched::WatchedApiServer;

/// The pinned schemathesis release.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Generated cases per API operation (the fixed budget).
const MAX_EXAMPLES: &str = "25";
/// The seed, so a CI failure reproduces.
const SEED: &str = "8";
/// How long one group-version's run may take before it counts as a hang.
const RUN_DEADLINE: Duration = Duration::from_secs(300);
/// Peak resident memory the apiserver may reach over the whole campaign.
const MAX_PEAK_RSS_KIB: u64 = 512 * 1024;

/// `watch=true` turns a list into a stream that ends only at its timeout;
/// schemathesis cannot judge a stream, so the parameter is taken out of
/// the document it is given (watches are tested by the watch suites).
fn without_watch_parameters(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.retain(|p| p.get("name").and_then(Value::as_str) != Some("watch"));
            }
        }
    }
}

/// Run schemathesis on one document; its output and the JUnit report.
async fn run_schemathesis(venv: &Path, work: &Path, name: &str, base: &str) -> (String, String) {
    let report_dir = work.join(format!("report-{name}"));
    let child = tokio::process::Command::new(venv.join("bin/schemathesis"))
        .current_dir(work)
        .arg("run")
        .arg(work.join(format!("{name}.json")))
        .args(["--url", base])
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", "examples,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "2", "--no-shrink", "--request-timeout", "20"])
        .args(["--suppress-health-check", "all"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(report_dir.join("junit.xml"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("schemathesis starts");
    let out = tokio::time::timeout(RUN_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {name} finished within {RUN_DEADLINE:?}"))
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let junit = std::fs::read_to_string(report_dir.join("junit.xml")).unwrap_or_default();
    (text, junit)
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error() {
    let Some(venv) = tug_tests::python::venv("schemathesis-venv", &[SCHEMATHESIS]) else {
        return;
    };
    let binary = tug_tests::bins::workspace_binary("tug-apiserver");
    let mut server = WatchedApiServer::start(&binary, &[]).expect("apiserver starts");
    let http = reqwest::Client::new();
    let base = server.url.clone();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("GET the OpenAPI document")
                .json::<Value>()
                .await
                .expect("OpenAPI JSON")
        }
    };
    let index = get("/openapi/v3".into()).await;
    let group_versions: Vec<String> = index["paths"]
        .as_object()
        .expect("the v3 index lists group-versions")
        .keys()
        .cloned()
        .collect();
    assert!(group_versions.iter().any(|g| g == "api/v1"), "{index}");

    let work = tempfile::tempdir().expect("a work dir");
    let started = Instant::now();
    let mut problems = Vec::new();
    for gv in &group_versions {
        let mut doc = get(format!("/openapi/v3/{gv}")).await;
        without_watch_parameters(&mut doc);
        let name = gv.replace('/', "_");
        std::fs::write(
            work.path().join(format!("{name}.json")),
            serde_json::to_vec(&doc).unwrap(),
        )
        .unwrap();
        let t = Instant::now();
        let (output, junit) = run_schemathesis(&venv, work.path(), &name, &base).await;
        eprintln!(
            "schemathesis {gv}: {:.1} s\n{}",
            t.elapsed().as_secs_f64(),
            output
                .lines()
                .skip(output.lines().count().saturating_sub(12))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(!junit.is_empty(), "schemathesis wrote no report:\n{output}");
        if junit.contains("<failure") {
            problems.push(format!("{gv}: server errors:\n{output}"));
        }
        // A dropped connection or a timeout is a crashed handler or a hang.
        if output.contains("Network Error") {
            problems.push(format!("{gv}: connections failed:\n{output}"));
        }
        assert!(server.is_running(), "the apiserver died during {gv}");
    }
    eprintln!(
        "schemathesis campaign: {} group-versions, {MAX_EXAMPLES} examples per operation, {:.1} s",
        group_versions.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert_eq!(
        tug_tests::net::http_status(server.port, "/readyz"),
        Some(200),
        "the apiserver still answers"
    );
    let panics = server.panics();
    assert!(panics.is_empty(), "the apiserver panicked: {panics:?}");
    let peak = server.peak_rss_kib().expect("VmHWM of the apiserver");
    eprintln!("apiserver peak RSS (VmHWM): {} MiB", peak / 1024);
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {peak} KiB over {MAX_PEAK_RSS_KIB} KiB"
    );
}
