//! Story a: `tugctl apply -f manifests/` while `tugctl get pods -o wide
//! -w` runs beside it; the six web pods spread over the three nodes and
//! become Ready, and the watch shows them getting there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{nodes_of, summarize, wait_for, E2e, REPLICAS};

/// `tugctl get pods -o wide -w` running in the background, its output
/// collected line by line; killed when dropped.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(e2e: &E2e) -> Watch {
        let mut child = Command::new(&e2e.tugctl)
            .arg("--kubeconfig")
            .arg(e2e.cluster.kubeconfig_path())
            .args(["get", "pods", "-o", "wide", "-w"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting tugctl get pods -w");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Watch { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `get pods -o wide` row: NAME READY STATUS RESTARTS AGE IP NODE ...
struct Row<'a> {
    name: &'a str,
    ready: &'a str,
    status: &'a str,
    node: &'a str,
}

fn row(line: &str) -> Option<Row<'_>> {
    let cells: Vec<&str> = line.split_whitespace().collect();
    if cells.len() < 7 || cells[0] == "NAME" {
        return None;
    }
    Some(Row {
        name: cells[0],
        ready: cells[1],
        status: cells[2],
        node: cells[6],
    })
}

/// What the watch output shows of the web pods: the nodes of rows that
/// are `1/1 Running`, and the pods first seen not ready and later ready.
fn reconciliation(lines: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut ready_nodes = BTreeSet::new();
    let mut seen_unready: BTreeMap<&str, bool> = BTreeMap::new();
    let mut went_ready = BTreeSet::new();
    for r in lines.iter().filter_map(|l| row(l)) {
        if !r.name.starts_with("web-") {
            continue;
        }
        if r.ready == "1/1" && r.status == "Running" {
            ready_nodes.insert(r.node.to_string());
            if seen_unready.get(r.name) == Some(&true) {
                went_ready.insert(r.name.to_string());
            }
        } else {
            seen_unready.insert(r.name, true);
        }
    }
    (ready_nodes, went_ready)
}

pub async fn apply_manifests(e2e: &E2e) {
    eprintln!("e2e story a: tugctl apply -f manifests/, watching pods reconcile");
    let watch = Watch::start(e2e);
    let manifests = crate::support::manifests_dir();
    let out = e2e
        .tugctl(&["apply", "-f", manifests.to_str().expect("a UTF-8 path")])
        .await;
    for want in ["deployment.apps/web created", "service/web created"] {
        assert!(out.contains(want), "apply says {want:?}: {out}");
    }

    let pods = e2e
        .wait_web_settled(REPLICAS, "busybox:1.36", None, Duration::from_secs(180))
        .await;
    let nodes = nodes_of(&pods);
    eprintln!("e2e: web pods ready: {}", summarize(&pods));
    let all: BTreeSet<String> = e2e.cluster.node_names().into_iter().collect();
    assert_eq!(nodes, all, "the six web pods spread over every node");

    let (ready_nodes, went_ready) = wait_for(
        "the watch to show web pods 1/1 Running on every node",
        Duration::from_secs(30),
        || async {
            let lines = watch.lines();
            let (ready_nodes, went_ready) = reconciliation(&lines);
            if ready_nodes == all && !went_ready.is_empty() {
                Ok((ready_nodes, went_ready))
            } else {
                Err(format!(
                    "ready on {ready_nodes:?}, went ready {went_ready:?}; output:\n{}",
                    lines.join("\n")
                ))
            }
        },
    )
    .await;
    eprintln!(
        "e2e: the watch showed pods going Ready on {ready_nodes:?} (seen unready first: {went_ready:?}); \
         {} lines",
        watch.lines().len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_output_tells_which_pods_went_ready_where() {
        let out: Vec<String> = [
            "NAME          READY   STATUS              RESTARTS   AGE   IP          NODE     NOMINATED NODE   READINESS GATES",
            "web-abc-1     0/1     Pending             0          0s    <none>      <none>   <none>           <none>",
            "web-abc-1     0/1     ContainerCreating   0          0s    <none>      node-1   <none>           <none>",
            "web-abc-1     1/1     Running             0          2s    10.9.1.2    node-1   <none>           <none>",
            "web-abc-2     1/1     Running             0          2s    10.9.2.2    node-2   <none>           <none>",
            "client        1/1     Running             0          2s    10.9.0.2    node-0   <none>           <none>",
        ]
        .map(String::from)
        .into();
        let (nodes, went) = reconciliation(&out);
        assert_eq!(nodes, ["node-1", "node-2"].map(String::from).into());
        assert_eq!(went, ["web-abc-1".to_string()].into());
    }
}
