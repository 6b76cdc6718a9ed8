//! Stopping and removing: a container's preStop `exec` hook within the
//! grace period, `SIGTERM`, `SIGKILL` once the grace is over (in the
//! background: the calls return at once); and a pod's teardown, which
//! leaves no process, mount, network attachment, cgroup or file behind.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tug_api::core::Pod;

use super::state::{read_json, InstanceRecord, InstanceState, SandboxRecord};
use super::{cgroup, mounts, sandbox, Inner};

/// How often a stopping container is looked at.
const POLL: Duration = Duration::from_millis(50);

/// How long a killed container may take to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// The running instances of `uid` (all, or those of container `only`).
fn running(inner: &Inner, uid: &str, only: Option<&str>) -> Vec<InstanceRecord> {
    let Some(entry) = inner.entry(uid) else {
        return Vec::new();
    };
    let mut latest: Vec<InstanceRecord> = Vec::new();
    for r in entry
        .instances
        .iter()
        .filter(|r| only.is_none_or(|n| n == r.name))
    {
        if inner
            .state_of(uid, r)
            .is_some_and(|s| s.finished_at.is_none())
        {
            latest.push(r.clone());
        }
    }
    latest
}

/// Stop every running container of pod `uid`, within `grace`.
pub(super) fn stop_pod(inner: &Inner, uid: &str, grace: Duration) {
    if let Some(e) = inner.pods().get_mut(uid) {
        let until = Utc::now() + chrono::Duration::from_std(grace).unwrap_or_default();
        e.stopping_until = Some(until + chrono::Duration::seconds(1));
    }
    for r in running(inner, uid, None) {
        spawn_stop(inner, uid, r, grace);
    }
}

/// Stop the running instance of `container` of pod `uid`, within `grace`.
pub(super) fn kill_container(inner: &Inner, uid: &str, container: &str, grace: Duration) {
    for r in running(inner, uid, Some(container)) {
        spawn_stop(inner, uid, r, grace);
    }
}

fn spawn_stop(inner: &Inner, uid: &str, r: InstanceRecord, grace: Duration) {
    let Some(inner) = inner.me.upgrade() else {
        return;
    };
    let uid = uid.to_string();
    tokio::spawn(async move { stop_instance(&inner, &uid, &r, grace).await });
}

fn finished(inner: &Inner, uid: &str, r: &InstanceRecord) -> bool {
    inner
        .state_of(uid, r)
        .is_none_or(|s| s.finished_at.is_some())
}

/// Wait until the instance has finished or `deadline` passed.
async fn wait_finished(inner: &Inner, uid: &str, r: &InstanceRecord, deadline: Instant) -> bool {
    loop {
        if finished(inner, uid, r) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// preStop, TERM, then KILL once `grace` is over.
async fn stop_instance(inner: &Arc<Inner>, uid: &str, r: &InstanceRecord, grace: Duration) {
    let deadline = Instant::now() + grace;
    let pre_stop = inner.entry(uid).and_then(|e| {
        e.pod
            .spec
            .containers
            .iter()
            .chain(&e.pod.spec.init_containers)
            .find(|c| c.name == r.name)
            .and_then(|c| c.lifecycle.as_ref())
            .and_then(|l| l.pre_stop.as_ref())
            .and_then(|h| h.exec.as_ref())
            .map(|x| x.command.clone())
    });
    if let Some(cmd) = pre_stop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = inner
            .runc
            .exec(&r.id, &cmd, left.max(Duration::from_millis(1)))
            .await
        {
            tracing::info!(container = %r.id, error = %e, "preStop hook failed");
        }
    }
    if !finished(inner, uid, r) {
        if let Err(e) = inner.runc.kill(&r.id, "TERM").await {
            tracing::debug!(container = %r.id, error = %e, "runc kill TERM");
        }
    }
    if !wait_finished(inner, uid, r, deadline).await {
        if let Err(e) = inner.runc.kill(&r.id, "KILL").await {
            tracing::debug!(container = %r.id, error = %e, "runc kill KILL");
        }
    }
}

/// Remove pod `uid` entirely; unknown pods are fine.
pub(super) async fn remove_pod(inner: &Inner, uid: &str) {
    let Some(entry) = inner.entry(uid) else {
        return;
    };
    teardown(inner, uid, &entry.pod, entry.sandbox.as_ref()).await;
    inner.pods().remove(uid);
}

/// Whether `pid` is gone (or a zombie nobody needs).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

async fn wait_gone(pid: i32, deadline: Instant) {
    while pid > 0 && !gone(pid) && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
}

/// Kill and delete the pod's containers and its pause, unmount their
/// rootfs, detach and remove its network, remove its cgroups, its
/// directory and its logs. Used on removal and to undo a failed sandbox.
pub(super) async fn teardown(inner: &Inner, uid: &str, pod: &Pod, sandbox: Option<&SandboxRecord>) {
    let deadline = Instant::now() + KILL_WAIT;
    let instances = inner.entry(uid).map(|e| e.instances).unwrap_or_default();
    for r in &instances {
        if !finished(inner, uid, r) {
            let _ = inner.runc.kill(&r.id, "KILL").await;
        }
    }
    for r in &instances {
        // The shim records the exit after deleting the container.
        if !wait_finished(inner, uid, r, deadline).await {
            tracing::warn!(container = %r.id, "container did not stop after SIGKILL");
        }
        let _ = inner.runc.delete(&r.id).await;
    }
    let pause = sandbox.map_or_else(|| sandbox::pause_id(uid), |s| s.pause_id.clone());
    let _ = inner.runc.delete(&pause).await;
    if let Some(s) = sandbox {
        wait_gone(s.pause_pid, deadline).await;
    }
    // Its shim records the end last: wait for that before removing the
    // directory it writes into.
    let pause_state = inner
        .layout
        .pod_dir(uid)
        .join("sandbox")
        .join(InstanceState::FILE);
    while read_json::<InstanceState>(&pause_state).is_some_and(|s| s.finished_at.is_none())
        && Instant::now() < deadline
    {
        tokio::time::sleep(POLL).await;
    }
    let pod_dir = inner.layout.pod_dir(uid);
    for r in &instances {
        let _ = mounts::unmount(&inner.bundle_of(uid, r).join("rootfs"));
    }
    if let Some(s) = sandbox {
        if let (Some(netns), Some(cidr)) =
            (&s.netns, s.pod_cidr.as_ref().and_then(|c| c.parse().ok()))
        {
            let ports = sandbox::port_mappings(pod);
            if let Err(e) = inner
                .config
                .cni
                .del(&sandbox::attachment(pod, netns, cidr, &ports))
                .await
            {
                tracing::warn!(pod = %pod.metadata.name, error = %e, "CNI DEL failed");
            }
        }
    }
    let netns = pod_dir.join("netns");
    if netns.exists() {
        if let Err(e) = crate::network::netns::remove(&netns) {
            tracing::warn!(pod = %pod.metadata.name, error = %e, "removing the network namespace");
        }
    }
    remove_tree(&pod_dir);
    let left = cgroup::remove_tree(&cgroup::pod_path(&inner.config.cgroup_parent, uid));
    if !left.is_empty() {
        tracing::warn!(pod = %pod.metadata.name, cgroups = ?left, "cgroups left behind");
    }
    let m = &pod.metadata;
    let _ = std::fs::remove_dir_all(inner.layout.pod_logs(&m.namespace, &m.name, uid));
}

/// Remove a directory after unmounting anything still mounted in it.
fn remove_tree(dir: &Path) {
    if let Err(e) = mounts::unmount_all_under(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "unmounting");
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "removing");
        }
    }
}
