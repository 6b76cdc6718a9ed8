//! The launcher's failure paths, with the real `tug-apiserver` and small
//! shell programs standing in for components that must fail or idle:
//! a missing program fails before anything starts; a component that exits
//! during start-up stops everything started and the error quotes its log;
//! a stale state file never makes `up` refuse or `down` kill a stranger.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tug_cluster::bins::{BinaryLocator, APISERVER};
use tug_cluster::{Cluster, ClusterSpec, ClusterState, Error};

/// The built `tug-apiserver` (next to this test's directory in target/).
fn apiserver_binary() -> PathBuf {
    BinaryLocator::new(None)
        .find(APISERVER)
        .expect("tug-apiserver is built (cargo build -p tug-apiserver)")
}

/// A bin dir with the real apiserver and the given shell programs.
fn bin_dir(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(apiserver_binary(), dir.path().join(APISERVER)).unwrap();
    for (name, body) in scripts {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Whether `pid` names a live (not zombie) process.
fn alive(pid: u32) -> bool {
    tug_cluster::process::read_stat(pid).is_some_and(|s| s.state != 'Z')
}

fn pid_in(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_missing_program_fails_before_anything_starts() {
    let bins = bin_dir(&[]);
    let state = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        bin_dir: Some(bins.path().to_path_buf()),
        ..ClusterSpec::new("missing").in_dir(state.path())
    };
    let err = Cluster::up(spec).await.unwrap_err();
    assert!(matches!(err, Error::BinaryNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot find tug-scheduler"),
        "{err}"
    );
    assert!(!state.path().join("cluster.json").exists());
    assert!(!state.path().join("logs").exists(), "nothing was started");
}

#[tokio::test]
async fn a_component_exiting_during_start_up_stops_the_rest_and_shows_its_log() {
    let pids = tempfile::tempdir().unwrap();
    let idle = |name: &str| format!("echo $$ > {}/{name}\nexec sleep 600", pids.path().display());
    let kubelet = idle("kubelet");
    let controller_manager = idle("controller-manager");
    let bins = bin_dir(&[
        (
            "tug-scheduler",
            "echo 'starting'\necho 'tug-scheduler: cannot bind pods: boom' >&2\nexit 3",
        ),
        ("tug-controller-manager", &controller_manager),
        ("tug-kubelet", &kubelet),
    ]);
    let state = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        bin_dir: Some(bins.path().to_path_buf()),
        ..ClusterSpec::new("early-exit").in_dir(state.path())
    };
    let err = Cluster::up(spec).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("scheduler-0 exited during start-up (exit status: 3)"),
        "{message}"
    );
    assert!(message.contains("cannot bind pods: boom"), "{message}");

    // Everything it had started is gone, and it says so by not leaving a
    // state file behind (the logs stay, for reading).
    for name in ["kubelet", "controller-manager"] {
        let pid = pid_in(&pids.path().join(name));
        assert!(!alive(pid), "{name} (pid {pid}) still runs");
    }
    assert!(!state.path().join("cluster.json").exists());
    assert!(state.path().join("logs/scheduler-0.log").exists());
}

/// A state file whose pids now belong to other programs (the cluster died
/// with the machine, say): `up` does not refuse because of it and `down`
/// signals none of them.
#[tokio::test]
async fn stale_state_neither_blocks_up_nor_lets_down_kill_a_stranger() {
    let mut stranger = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let state = serde_json::json!({
        "version": 1,
        "name": "stale",
        "runtime": "fake",
        "store": "embedded",
        "url": "http://127.0.0.1:1",
        "apiPort": 1,
        "stateDir": state_dir.path(),
        "kubeconfig": state_dir.path().join("kubeconfig"),
        "logFilter": "info",
        "nodeTemplate": {
            "binary": "/nonexistent/tug-kubelet", "runtime": "fake", "cpu": "4",
            "memory": "8Gi", "maxPods": 110, "extraArgs": []
        },
        "components": [{
            "id": "apiserver", "role": "api-server",
            "binary": "/nonexistent/tug-apiserver", "args": [],
            "log": state_dir.path().join("logs/apiserver.log"),
            "pid": stranger.id()
        }]
    });
    std::fs::write(
        state_dir.path().join("cluster.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let loaded = ClusterState::read(state_dir.path()).unwrap().unwrap();
    assert!(!loaded.any_running(), "the stranger is not ours");

    // `up` gets past the "already running" check (and then fails for
    // want of programs in an empty bin dir).
    let empty = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        bin_dir: Some(empty.path().to_path_buf()),
        ..ClusterSpec::new("stale").in_dir(state_dir.path())
    };
    let err = Cluster::up(spec).await.unwrap_err();
    assert!(matches!(err, Error::BinaryNotFound { .. }), "{err:?}");

    std::fs::write(
        state_dir.path().join("cluster.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    Cluster::load(state_dir.path())
        .unwrap()
        .down()
        .await
        .unwrap();
    assert!(
        alive(stranger.id()),
        "down signalled a process it did not start"
    );
    assert!(!state_dir.path().join("cluster.json").exists());
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test]
async fn a_taken_api_port_is_reported_with_the_apiservers_words() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let bins = bin_dir(&[
        ("tug-scheduler", "exec sleep 600"),
        ("tug-controller-manager", "exec sleep 600"),
        ("tug-kubelet", "exec sleep 600"),
    ]);
    let state = tempfile::tempdir().unwrap();
    let spec = ClusterSpec {
        bin_dir: Some(bins.path().to_path_buf()),
        api_port: Some(port),
        ..ClusterSpec::new("taken").in_dir(state.path())
    };
    let message = Cluster::up(spec).await.unwrap_err().to_string();
    assert!(
        message.starts_with("apiserver exited during start-up"),
        "{message}"
    );
    assert!(message.contains("Address already in use"), "{message}");
    assert!(
        !state.path().join("logs/scheduler-0.log").exists(),
        "nothing after the apiserver was started"
    );
}
