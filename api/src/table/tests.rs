//! The columns of each kind, and the pod STATUS / READY / RESTARTS rules
//! case by case.

use serde_json::{json, Value};

use super::duration::parse_time;
use super::*;

fn ctx(wide: bool) -> Context {
    Context {
        now: parse_time(Some("2024-05-01T12:00:00Z")).unwrap(),
        wide,
    }
}

/// READY, STATUS and RESTARTS of a pod with these spec and status.
fn summary(spec: Value, status: Value) -> [String; 3] {
    summary_of(&json!({
        "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": spec,
        "status": status,
    }))
}

fn summary_of(pod: &Value) -> [String; 3] {
    let cells = for_kind("Pod").row(pod, &ctx(false));
    [
        cells[1].to_string(),
        cells[2].to_string(),
        cells[3].to_string(),
    ]
}

fn one_container() -> Value {
    json!({"containers": [{"name": "app", "image": "app"}]})
}

fn expect(got: [String; 3], ready: &str, status: &str, restarts: &str) {
    assert_eq!(
        got,
        [ready.to_string(), status.to_string(), restarts.to_string()]
    );
}

#[test]
fn phase_and_reason() {
    expect(
        summary(one_container(), json!({"phase": "Pending"})),
        "0/1",
        "Pending",
        "0",
    );
    expect(
        summary(
            one_container(),
            json!({"phase": "Failed", "reason": "Evicted"}),
        ),
        "0/1",
        "Evicted",
        "0",
    );
    expect(
        summary(
            one_container(),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        ),
        "0/1",
        "SchedulingGated",
        "0",
    );
}

#[test]
fn container_states() {
    let with = |state: Value| {
        summary(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": state}]}),
        )
    };
    expect(
        with(json!({"waiting": {"reason": "ImagePullBackOff"}})),
        "0/1",
        "ImagePullBackOff",
        "0",
    );
    expect(
        with(json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
        "0/1",
        "Completed",
        "0",
    );
    expect(
        with(json!({"terminated": {"exitCode": 137}})),
        "0/1",
        "ExitCode:137",
        "0",
    );
    expect(
        with(json!({"terminated": {"exitCode": 0, "signal": 9}})),
        "0/1",
        "Signal:9",
        "0",
    );
    // An empty waiting reason keeps the phase.
    expect(with(json!({"waiting": {}})), "0/1", "Running", "0");
}

#[test]
fn completed_with_a_container_still_running() {
    let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let statuses = json!([
        {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": false, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    ]);
    expect(
        summary(
            spec.clone(),
            json!({"phase": "Running", "containerStatuses": statuses,
                   "conditions": [{"type": "Ready", "status": "True"}]}),
        ),
        "1/2",
        "Running",
        "0",
    );
    expect(
        summary(
            spec,
            json!({"phase": "Running", "containerStatuses": statuses}),
        ),
        "1/2",
        "NotReady",
        "0",
    );
}

#[test]
fn init_containers() {
    let spec = json!({
        "initContainers": [{"name": "one"}, {"name": "two"}],
        "containers": [{"name": "app"}]
    });
    let with = |init: Value| {
        summary(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": init,
                   "containerStatuses": [{"name": "app", "restartCount": 0,
                                          "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        )
    };
    expect(
        with(
            json!([{"name": "one", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]),
        ),
        "0/1",
        "Init:0/2",
        "0",
    );
    expect(
        with(json!([
            {"name": "one", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:59:00Z"}}}
        ])),
        "0/1",
        "Init:CrashLoopBackOff",
        "3 (60s ago)",
    );
    expect(
        with(json!([{"name": "one", "restartCount": 0,
                     "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}])),
        "0/1",
        "Init:Error",
        "0",
    );
    expect(
        with(json!([{"name": "one", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}])),
        "0/1",
        "Init:ExitCode:2",
        "0",
    );
    expect(
        with(
            json!([{"name": "one", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "signal": 15}}}]),
        ),
        "0/1",
        "Init:Signal:15",
        "0",
    );
}

#[test]
fn sidecars_count_as_containers() {
    let spec = json!({
        "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}]
    });
    expect(
        summary(
            spec,
            json!({
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true,
                                           "restartCount": 1, "state": {"running": {}},
                                           "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:30:00Z"}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
                                       "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:50:00Z"}}}]
            }),
        ),
        "2/2",
        "Running",
        "3 (10m ago)",
    );
}

#[test]
fn restarts_take_the_latest_termination_of_all_containers() {
    let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    expect(
        summary(
            spec,
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T09:00:00Z"}}},
                {"name": "b", "ready": true, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:57:50Z"}}}
            ]}),
        ),
        "2/2",
        "Running",
        "3 (2m10s ago)",
    );
}

#[test]
fn deletion() {
    let mut pod = json!({
        "kind": "Pod",
        "metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:59:00Z"},
        "spec": one_container(),
        "status": {"phase": "Running"}
    });
    expect(summary_of(&pod), "0/1", "Terminating", "0");
    pod["status"]["reason"] = json!("NodeLost");
    expect(summary_of(&pod), "0/1", "Unknown", "0");
    pod["status"] = json!({"phase": "Succeeded"});
    expect(summary_of(&pod), "0/1", "Succeeded", "0");
}

#[test]
fn readiness_gates_in_wide_output() {
    let pod = json!({
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [], "readinessGates": [
            {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
        "status": {"phase": "Running", "nominatedNodeName": "node-9", "conditions": [
            {"type": "example.com/lb", "status": "True"},
            {"type": "example.com/dns", "status": "False"}]}
    });
    let cells = for_kind("Pod").row(&pod, &ctx(true));
    let wide: Vec<String> = cells[5..].iter().map(Cell::to_string).collect();
    assert_eq!(wide, ["<none>", "<none>", "node-9", "1/2"]);
    assert_eq!(for_kind("Pod").headers(true).len(), cells.len());
    assert_eq!(for_kind("Pod").row(&pod, &ctx(false)).len(), 5);
}

#[test]
fn every_kind_has_a_cell_per_column() {
    let kinds = [
        "Pod",
        "Deployment",
        "ReplicaSet",
        "Service",
        "Endpoints",
        "Node",
        "Namespace",
        "Event",
        "ConfigMap",
        "Secret",
        "Lease",
        "Widget",
    ];
    for kind in kinds {
        let object = json!({"kind": kind, "metadata": {"name": "x"}});
        let table = for_kind(kind);
        let all = (table.cells)(&object, &ctx(true));
        assert_eq!(all.len(), table.columns.len(), "{kind}");
        for wide in [false, true] {
            assert_eq!(
                table.row(&object, &ctx(wide)).len(),
                table.headers(wide).len(),
                "{kind} wide={wide}"
            );
        }
    }
}
