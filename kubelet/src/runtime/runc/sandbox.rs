//! A pod's sandbox: its directory and `pod.json`, its network (a pinned
//! netns attached with CNI, or the host's), its `etc/` files, and the
//! pause container holding its namespaces; and reading every pod back
//! from disk when the kubelet starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tug_api::core::Pod;

use super::container::{spawn_shim, ShimOutcome};
use super::shim::ShimOptions;
use super::spec::{self, Namespace, Resources, Spec};
use super::state::{read_json, write_json, InstanceRecord, Layout, SandboxRecord};
use super::{cgroup, etc, mounts, Inner, PodEntry};
use crate::network::cni::{Attachment, PortMapping};
use crate::runtime::{RuntimeError, SandboxNetwork};

/// The pause container's runc id for pod `uid`.
pub fn pause_id(uid: &str) -> String {
    format!("{uid}-pause")
}

/// The hostPorts of a pod's containers, for the portmap plugin.
pub fn port_mappings(pod: &Pod) -> Vec<PortMapping> {
    pod.spec
        .init_containers
        .iter()
        .chain(&pod.spec.containers)
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0)
        .map(|p| PortMapping {
            host_port: u16::try_from(p.host_port).unwrap_or(0),
            container_port: u16::try_from(p.container_port).unwrap_or(0),
            protocol: if p.protocol.is_empty() {
                "tcp".into()
            } else {
                p.protocol.to_ascii_lowercase()
            },
            host_ip: p.host_ip.clone(),
        })
        .collect()
}

/// The CNI attachment of a pod's sandbox.
pub fn attachment<'a>(
    pod: &'a Pod,
    netns: &'a Path,
    pod_cidr: ipnet::IpNet,
    ports: &'a [PortMapping],
) -> Attachment<'a> {
    Attachment {
        id: &pod.metadata.uid,
        netns,
        pod_cidr,
        ports,
        pod_namespace: &pod.metadata.namespace,
        pod_name: &pod.metadata.name,
        pod_uid: &pod.metadata.uid,
    }
}

/// Set up the pod's sandbox unless it has one. On failure nothing of it
/// is left (network detached, netns and pod dir removed).
pub(super) async fn run(
    inner: &Inner,
    pod: &Pod,
    network: SandboxNetwork,
) -> Result<(), RuntimeError> {
    let uid = pod.metadata.uid.clone();
    if inner.entry(&uid).is_some_and(|e| e.sandbox.is_some()) {
        return Ok(());
    }
    let pod_dir = inner.layout.pod_dir(&uid);
    let fail =
        |e: std::io::Error| RuntimeError::Network(format!("pod dir {}: {e}", pod_dir.display()));
    std::fs::create_dir_all(&pod_dir).map_err(fail)?;
    write_json(&pod_dir.join("pod.json"), pod).map_err(fail)?;
    inner.pods().insert(
        uid.clone(),
        PodEntry {
            pod: pod.clone(),
            sandbox: None,
            instances: Vec::new(),
            stopping_until: None,
        },
    );
    match setup(inner, pod, network, &pod_dir).await {
        Ok(record) => {
            if let Err(e) = write_json(&pod_dir.join("sandbox.json"), &record) {
                super::stop::teardown(inner, &uid, pod, Some(&record)).await;
                inner.pods().remove(&uid);
                return Err(fail(e));
            }
            if let Some(e) = inner.pods().get_mut(&uid) {
                e.sandbox = Some(record);
            }
            Ok(())
        }
        Err((e, partial)) => {
            super::stop::teardown(inner, &uid, pod, partial.as_ref()).await;
            inner.pods().remove(&uid);
            Err(e)
        }
    }
}

/// What was set up so far, for undoing it after an error.
type Partial = Option<SandboxRecord>;

async fn setup(
    inner: &Inner,
    pod: &Pod,
    network: SandboxNetwork,
    pod_dir: &Path,
) -> Result<SandboxRecord, (RuntimeError, Partial)> {
    let uid = &pod.metadata.uid;
    let mut record = SandboxRecord {
        ips: Vec::new(),
        netns: None,
        pod_cidr: None,
        pause_id: pause_id(uid),
        pause_pid: 0,
        host_ip: inner.config.node_ip.to_string(),
    };
    let host_network = matches!(network, SandboxNetwork::Host(_));
    match network {
        SandboxNetwork::Host(ip) => {
            record.ips = vec![ip];
            record.host_ip = ip.to_string();
        }
        SandboxNetwork::PodCidr(cidr) => {
            let netns = pod_dir.join("netns");
            crate::network::netns::create(&netns).map_err(|e| {
                (
                    RuntimeError::Network(format!("creating the network namespace: {e}")),
                    None,
                )
            })?;
            record.netns = Some(netns.clone());
            record.pod_cidr = Some(cidr.to_string());
            let ports = port_mappings(pod);
            match inner
                .config
                .cni
                .add(&attachment(pod, &netns, cidr, &ports))
                .await
            {
                Ok(ips) if !ips.is_empty() => record.ips = ips,
                Ok(_) => {
                    return Err((
                        RuntimeError::Network("CNI ADD returned no IP".into()),
                        Some(record),
                    ))
                }
                Err(e) => return Err((RuntimeError::Network(e.to_string()), Some(record))),
            }
        }
    }
    let sandbox_err = |msg: String| RuntimeError::StartContainer {
        container: "POD".into(),
        reason: msg,
    };
    if let Err(e) = etc::write(&pod_dir.join("etc"), pod, &record.ips, host_network) {
        return Err((
            sandbox_err(format!("writing /etc files: {e}")),
            Some(record),
        ));
    }
    let bundle = pod_dir.join("sandbox");
    let spec = pause_spec(inner, pod, &record, host_network);
    let written = std::fs::create_dir_all(&bundle).and_then(|()| {
        let json =
            serde_json::to_vec_pretty(&spec::render(&spec)).map_err(std::io::Error::other)?;
        std::fs::write(bundle.join("config.json"), json)
    });
    if let Err(e) = written {
        return Err((
            sandbox_err(format!("writing the pause bundle: {e}")),
            Some(record),
        ));
    }
    // The pause runs under a shim too: it reaps the pause when it ends,
    // whatever the host's PID 1 does with orphans.
    let opts = ShimOptions {
        runc: inner.config.runc.clone(),
        root: inner.layout.runc_root(),
        bundle: bundle.clone(),
        id: record.pause_id.clone(),
        log: bundle.join("pause.log"),
        cgroup: spec.cgroups_path.clone(),
    };
    match spawn_shim(inner, &opts).await {
        Ok((ShimOutcome::Started(pid), child)) => {
            record.pause_pid = pid;
            // Reap the shim when it ends (the pause stops on teardown).
            tokio::spawn(async move {
                let mut child = child;
                let _ = child.wait().await;
            });
        }
        Ok((ShimOutcome::Failed(msg) | ShimOutcome::Broken(msg), _)) | Err(msg) => {
            return Err((
                sandbox_err(format!("starting the pause container: {msg}")),
                Some(record),
            ));
        }
    }
    Ok(record)
}

/// The pause container: its own PID, IPC, UTS (hostname = pod's) and
/// mount namespaces, the pinned network namespace, a read-only rootfs.
fn pause_spec(inner: &Inner, pod: &Pod, record: &SandboxRecord, host_network: bool) -> Spec {
    let mut namespaces = vec![
        Namespace {
            kind: "pid",
            path: None,
        },
        Namespace {
            kind: "ipc",
            path: None,
        },
        Namespace {
            kind: "mount",
            path: None,
        },
    ];
    if !host_network {
        namespaces.push(Namespace {
            kind: "uts",
            path: None,
        });
    }
    if let Some(netns) = &record.netns {
        namespaces.push(Namespace {
            kind: "network",
            path: Some(netns.clone()),
        });
    }
    let uid = &pod.metadata.uid;
    Spec {
        args: vec!["/pause".into()],
        env: vec!["PATH=/".into()],
        cwd: "/".into(),
        user: Default::default(),
        hostname: (!host_network).then(|| etc::pod_hostname(pod)),
        rootfs: inner.layout.pause_rootfs(),
        readonly_rootfs: true,
        namespaces,
        mounts: Vec::new(),
        resources: Resources {
            cpu_shares: 2,
            ..Resources::default()
        },
        cgroups_path: cgroup::container_path(&inner.config.cgroup_parent, uid, &record.pause_id),
        capabilities: Vec::new(),
    }
}

/// Every pod a previous kubelet left under the layout's `pods/`: its
/// pod, sandbox and container instances. A directory without `pod.json`
/// (a sandbox whose creation died before anything was set up) is removed.
pub(super) fn load_all(layout: &Layout) -> BTreeMap<String, PodEntry> {
    let mut out = BTreeMap::new();
    let Ok(dirs) = std::fs::read_dir(layout.pods()) else {
        return out;
    };
    for d in dirs.flatten() {
        let dir = d.path();
        let uid = d.file_name().to_string_lossy().into_owned();
        let Some(pod) = read_json::<Pod>(&dir.join("pod.json")) else {
            let _ = mounts::unmount_all_under(&dir);
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        };
        let sandbox = read_json::<SandboxRecord>(&dir.join("sandbox.json"));
        let instances = load_instances(&dir.join("containers"));
        out.insert(
            uid,
            PodEntry {
                pod,
                sandbox,
                instances,
                stopping_until: None,
            },
        );
    }
    out
}

fn load_instances(containers: &Path) -> Vec<InstanceRecord> {
    let mut found: Vec<InstanceRecord> = std::fs::read_dir(containers)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|c| std::fs::read_dir(c.path()).into_iter().flatten().flatten())
        .map(|a| a.path())
        .filter_map(|p: PathBuf| read_json::<InstanceRecord>(&p.join("instance.json")))
        .collect();
    found.sort_by(|a, b| (a.attempt, &a.name).cmp(&(b.attempt, &b.name)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::{Container, ContainerPort};

    #[test]
    fn host_ports_become_port_mappings() {
        let mut pod = Pod::default();
        pod.spec.containers = vec![Container {
            name: "web".into(),
            ports: vec![
                ContainerPort {
                    name: "http".into(),
                    host_port: 8080,
                    container_port: 80,
                    protocol: "TCP".into(),
                    host_ip: String::new(),
                },
                ContainerPort {
                    name: "internal".into(),
                    host_port: 0,
                    container_port: 9090,
                    protocol: "TCP".into(),
                    host_ip: String::new(),
                },
            ],
            ..Container::default()
        }];
        assert_eq!(
            port_mappings(&pod),
            [PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
                host_ip: String::new(),
            }]
        );
    }
}
