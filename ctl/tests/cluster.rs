//! `tugctl cluster up/status/down` with the real binaries: a local
//! cluster comes up with Ready nodes, its printed kubeconfig works, a
//! second `up` refuses, and `down` leaves no process and no state.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cells, rows, run, Run};

/// A home and a state directory of its own, and the cluster name used.
struct Env {
    home: tempfile::TempDir,
    name: String,
}

impl Env {
    fn new(tag: &str) -> Env {
        Env {
            home: tempfile::tempdir().expect("a temp dir"),
            name: format!("t-{tag}-{}", std::process::id()),
        }
    }

    fn xdg_state_home(&self) -> PathBuf {
        self.home.path().join("state")
    }

    fn state_dir(&self) -> PathBuf {
        self.xdg_state_home()
            .join("tugboat/clusters")
            .join(&self.name)
    }

    fn command(&self) -> Command {
        let mut cmd = common::tugctl_command(self.home.path());
        cmd.env("XDG_STATE_HOME", self.xdg_state_home());
        cmd
    }

    fn tugctl(&self, args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        run(cmd, "")
    }

    /// `cluster up --name NAME ARGS...`; a guard that brings it down again
    /// even when the test fails half-way.
    fn up(&self, args: &[&str]) -> (Run, Down<'_>) {
        let mut all = vec!["cluster", "up", "--name", &self.name];
        all.extend_from_slice(args);
        (self.tugctl(&all), Down(self))
    }
}

/// Runs `cluster down` on drop (errors ignored: it may be down already).
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.tugctl(&["cluster", "down", "--name", &self.0.name]);
    }
}

/// The recorded pids of the cluster's processes.
fn recorded_pids(state_dir: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(state_dir.join("cluster.json")).expect("cluster.json");
    let state: serde_json::Value = serde_json::from_str(&text).expect("cluster.json is JSON");
    state["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["pid"].as_u64().expect("pid") as u32)
        .collect()
}

/// Whether `pid` is a live process (a zombie waiting for its reaper is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|s| s != "Z")
        })
        .unwrap_or(false)
}

/// The kubeconfig path from `up`'s `export KUBECONFIG=...` line.
fn printed_kubeconfig(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
        .unwrap_or_else(|| panic!("no export line in {stdout}"))
        .to_string()
}

#[test]
fn up_status_refuse_twice_and_down() {
    let env = Env::new("basic");
    let (up, _down) = env.up(&["--nodes", "2"]);
    let up = up.ok();
    assert!(
        up.stdout
            .starts_with(&format!("Cluster {:?} is up: 2 nodes Ready.\n", env.name)),
        "{up:#?}"
    );
    assert!(up.stdout.ends_with(&format!(
        "Stop it with: tugctl cluster down --name {}\n",
        env.name
    )));
    let kubeconfig = printed_kubeconfig(&up.stdout);
    assert_eq!(
        Path::new(&kubeconfig),
        env.state_dir().join("kubeconfig"),
        "the kubeconfig is in the state directory"
    );

    // The printed kubeconfig reaches the cluster: two Ready nodes.
    let nodes = env
        .tugctl(&["--kubeconfig", &kubeconfig, "get", "nodes"])
        .ok();
    let table = rows(&nodes.stdout);
    assert_eq!(table[0][..2], ["NAME", "STATUS"], "{}", nodes.stdout);
    let mut ready: Vec<&str> = table[1..]
        .iter()
        .filter(|r| r[1] == "Ready")
        .map(|r| r[0].as_str())
        .collect();
    ready.sort();
    assert_eq!(ready, ["node-0", "node-1"], "{}", nodes.stdout);

    // status: every component, each Running.
    let status = env.tugctl(&["cluster", "status", "--name", &env.name]).ok();
    let lines: Vec<Vec<String>> = status.stdout.lines().map(cells).collect();
    assert_eq!(lines[0], ["COMPONENT", "PID", "STATUS", "DETAIL"]);
    let components: Vec<&str> = lines[1..].iter().map(|l| l[0].as_str()).collect();
    assert_eq!(
        components,
        [
            "apiserver",
            "scheduler-0",
            "controller-manager-0",
            "kubelet-node-0",
            "kubelet-node-1"
        ],
        "{}",
        status.stdout
    );
    for line in &lines[1..] {
        assert_eq!(line[2], "Running", "{}", status.stdout);
    }
    let detail = |id: &str| lines.iter().find(|l| l[0] == id).unwrap()[3].clone();
    assert_eq!(detail("scheduler-0"), "leader");
    assert_eq!(detail("controller-manager-0"), "leader");
    assert_eq!(detail("kubelet-node-1"), "node-1 Ready");

    // A second `up` of the same name refuses, in one line.
    let again = env.tugctl(&["cluster", "up", "--name", &env.name]);
    assert_eq!(
        again.one_error_line(),
        format!(
            "error: cluster {:?} is already running; tugctl cluster down --name {}",
            env.name, env.name
        )
    );

    // down: no process left, no state left.
    let pids = recorded_pids(&env.state_dir());
    assert_eq!(pids.len(), 5);
    assert!(pids.iter().all(|p| alive(*p)), "all running before down");
    let down = env.tugctl(&["cluster", "down", "--name", &env.name]).ok();
    assert_eq!(
        down.stdout,
        format!("Cluster {:?} is down; its state is removed.\n", env.name)
    );
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
    assert!(!env.state_dir().exists(), "the state directory is removed");

    // Nothing left to stop or show.
    let status = env.tugctl(&["cluster", "status", "--name", &env.name]);
    assert!(
        status
            .one_error_line()
            .starts_with(&format!("error: no cluster {:?}", env.name)),
        "{status:#?}"
    );
}

#[test]
fn kubeconfig_flag_merges_the_context_and_down_takes_it_out() {
    let env = Env::new("kubeconfig");
    let theirs = env.home.path().join("config");
    std::fs::write(
        &theirs,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1:6443\n\
         contexts:\n- name: other\n  context:\n    cluster: other\ncurrent-context: other\n",
    )
    .unwrap();
    let path = theirs.to_str().unwrap();
    let (up, _down) = env.up(&["--kubeconfig", path]);
    up.ok();
    let context = format!("tugboat-{}", env.name);
    let current = env
        .tugctl(&["--kubeconfig", path, "config", "current-context"])
        .ok();
    assert_eq!(current.stdout.trim(), context);
    let nodes = env.tugctl(&["--kubeconfig", path, "get", "nodes"]).ok();
    assert!(nodes.stdout.contains("node-0"), "{}", nodes.stdout);

    env.tugctl(&["cluster", "down", "--name", &env.name]).ok();
    let left = std::fs::read_to_string(&theirs).unwrap();
    assert!(!left.contains(&context), "{left}");
    assert!(left.contains("https://10.0.0.1:6443"), "{left}");
}

/// Several runc nodes on one machine: each a network namespace with its
/// own address (printed for NodePorts) and its own proxy, shown by
/// `status`; without root, a one-line refusal.
#[test]
fn runc_nodes_each_get_a_namespace_an_address_and_a_proxy() {
    let env = Env::new("runc");
    let (up, _down) = env.up(&[
        "--runtime",
        "runc",
        "--nodes",
        "2",
        "--kubelet-arg=--eviction-hard=nodefs.available<1Gi",
    ]);
    if !tug_cluster::process::is_root() {
        let line = up.one_error_line();
        assert!(line.contains("run as root"), "{line}");
        assert!(!env.state_dir().join("cluster.json").exists());
        return;
    }
    let up = up.ok();
    for node in ["node-0", "node-1"] {
        assert!(
            up.stdout.contains(&format!("node {node}: 10.250.")),
            "{}",
            up.stdout
        );
    }
    let status = env.tugctl(&["cluster", "status", "--name", &env.name]).ok();
    for proxy in ["proxy-node-0", "proxy-node-1"] {
        let row = status
            .stdout
            .lines()
            .map(cells)
            .find(|l| l[0] == proxy)
            .unwrap_or_else(|| panic!("no {proxy} row: {}", status.stdout));
        assert_eq!(row[2..], ["Running", "healthz ok"], "{}", status.stdout);
    }
    env.tugctl(&["cluster", "down", "--name", &env.name]).ok();
    assert!(!env.state_dir().exists());
}

#[test]
fn etcd_store() {
    if !Path::new("/usr/bin/etcd").exists() && which("etcd").is_none() {
        eprintln!("etcd is not installed: skipping the --store etcd cluster");
        return;
    }
    let env = Env::new("etcd");
    let (up, _down) = env.up(&["--store", "etcd"]);
    up.ok();
    let status = env.tugctl(&["cluster", "status", "--name", &env.name]).ok();
    let etcd = status
        .stdout
        .lines()
        .map(cells)
        .find(|l| l[0] == "etcd")
        .unwrap_or_else(|| panic!("no etcd row: {}", status.stdout));
    assert_eq!(etcd[2..], ["Running", "healthy"]);
    env.tugctl(&["cluster", "down", "--name", &env.name]).ok();
    assert!(!env.state_dir().exists());
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
