//! Deletion: SIGTERM first (the container sees it), SIGKILL once the
//! grace period is over, and nothing left behind — processes, mounts,
//! veths, IP allocations, cgroups — after many pods came and went.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{pod, processes_in_cgroup, sh, start, wait_for, RuncNode};

#[tokio::test(flavor = "multi_thread")]
async fn delete_sends_sigterm_then_sigkill_after_the_grace_period() {
    let Some(node) = start("delete_sends_sigterm_then_sigkill_after_the_grace_period").await else {
        return;
    };
    let host_dir = tempfile::tempdir().expect("temp dir");
    let volume = json!({"volumes": [{"name": "out", "hostPath": {"path": host_dir.path(), "type": "Directory"}}]});
    let mount = json!([{"name": "out", "mountPath": "/out"}]);

    // Exits on SIGTERM, saying so.
    let mut polite = sh(
        "app",
        &node.image,
        "trap 'echo TERM > /out/polite; exit 0' TERM; while true; do sleep 0.2; done",
    );
    polite["volumeMounts"] = mount.clone();
    // Ignores SIGTERM: only SIGKILL ends it.
    let mut stubborn = sh(
        "app",
        &node.image,
        "trap 'echo TERM > /out/stubborn' TERM; while true; do sleep 0.2; done",
    );
    stubborn["volumeMounts"] = mount;
    let mut spec = volume.clone();
    spec["terminationGracePeriodSeconds"] = json!(30);
    node.create(pod("polite", json!([polite]), spec.clone()))
        .await;
    node.create(pod("stubborn", json!([stubborn]), spec)).await;
    let polite_pod = node.wait_running("polite").await;
    let stubborn_pod = node.wait_running("stubborn").await;

    node.delete_and_wait("polite", 30, Duration::from_secs(20))
        .await;
    assert_eq!(
        std::fs::read_to_string(host_dir.path().join("polite"))
            .unwrap_or_default()
            .trim(),
        "TERM",
        "the container saw SIGTERM"
    );

    let grace = 3;
    let started = Instant::now();
    node.delete_and_wait("stubborn", grace, Duration::from_secs(30))
        .await;
    assert!(
        started.elapsed() >= Duration::from_secs(grace as u64),
        "a container ignoring SIGTERM runs until the grace period ends ({:?})",
        started.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(host_dir.path().join("stubborn"))
            .unwrap_or_default()
            .trim(),
        "TERM",
        "SIGTERM came first"
    );
    for p in [&polite_pod, &stubborn_pod] {
        let left = processes_in_cgroup(&format!("pod{}", p.metadata.uid));
        assert!(
            left.is_empty(),
            "processes of {} left: {left:?}",
            p.metadata.name
        );
    }
}

/// What a node holds on the host for its pods.
#[derive(Debug, PartialEq)]
struct Footprint {
    processes: usize,
    mounts: usize,
    veths: usize,
    allocated_ips: usize,
    pod_cgroups: usize,
}

fn footprint(node: &RuncNode) -> Footprint {
    let root = node.root_dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("{root}/pods")))
        .count();
    let veths = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", &node.bridge])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0);
    // host-local keeps one file per allocated address.
    let allocated_ips = walk_files(&node.root_dir.join("cni"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.parse::<std::net::IpAddr>().is_ok())
        })
        .count();
    let cgroup_dir = std::path::Path::new("/sys/fs/cgroup/memory");
    let pod_cgroups = walk_dirs(cgroup_dir)
        .into_iter()
        .filter(|d| {
            d.to_string_lossy().contains(&node.cgroup_root)
                && d.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("pod"))
        })
        .count();
    Footprint {
        processes: processes_in_cgroup(&format!("{}/", node.cgroup_root)).len(),
        mounts,
        veths,
        allocated_ips,
        pod_cgroups,
    }
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn walk_dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push(p.clone());
            out.extend(walk_dirs(&p));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_pods_come_and_go_without_leaking_anything() {
    let Some(node) = start("fifty_pods_come_and_go_without_leaking_anything").await else {
        return;
    };
    let n = 50;
    for i in 0..n {
        let c = sh("app", &node.image, "sleep 3600");
        let mut p = pod(&format!("churn-{i}"), json!([c]), json!({}));
        p["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
        p["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "scratch", "mountPath": "/scratch"}]);
        node.create(p).await;
    }
    let running = wait_for(
        &format!("{n} pods running"),
        Duration::from_secs(180),
        || async {
            let pods = node
                .pods()
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let running = pods
                .iter()
                .filter(|p| tug_api::core::is_pod_ready(p))
                .count();
            if running == n {
                Ok(pods)
            } else {
                Err(format!("{running} of {n} ready"))
            }
        },
    )
    .await;
    let ips: std::collections::BTreeSet<_> =
        running.iter().map(|p| p.status.pod_ip.clone()).collect();
    assert_eq!(ips.len(), n, "every pod has its own IP");
    let busy = footprint(&node);
    assert_eq!(busy.veths, n, "one veth per pod: {busy:?}");
    assert_eq!(busy.allocated_ips, n, "one address per pod: {busy:?}");

    for i in 0..n {
        let dp = tug_client::DeleteParams {
            grace_period_seconds: Some(1),
            ..Default::default()
        };
        node.pods()
            .delete(&format!("churn-{i}"), &dp)
            .await
            .expect("delete");
    }
    wait_for(
        "every pod gone and nothing left behind",
        Duration::from_secs(180),
        || async {
            let left = node
                .pods()
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let now = footprint(&node);
            let clean = Footprint {
                processes: 0,
                mounts: 0,
                veths: 0,
                allocated_ips: 0,
                pod_cgroups: 0,
            };
            if left.is_empty() && now == clean {
                Ok(())
            } else {
                Err(format!("{} pods left, {now:?}", left.len()))
            }
        },
    )
    .await;
}
