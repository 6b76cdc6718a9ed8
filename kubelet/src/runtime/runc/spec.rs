//! The OCI runtime `config.json` of a container or sandbox, rendered by
//! a pure function from what the runtime decided ([`Spec`]), plus the
//! pure rules that feed it: resources from requests/limits and the
//! default capabilities.

use std::path::PathBuf;

use serde_json::{json, Value};
use tug_api::core::{Container, SecurityContext};

use super::user::User;

/// The CFS period every quota is expressed in (100 ms).
pub const CPU_PERIOD: u64 = 100_000;

/// The capabilities a container gets by default: containerd's list,
/// which is what Kubernetes pods get (runc's own `spec` keeps only
/// `AUDIT_WRITE`, `KILL` and `NET_BIND_SERVICE`, too few for images that
/// `chown` or switch users).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths hidden from containers (runc's defaults).
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths containers may read but not write (runc's defaults).
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A namespace the container gets: a new one (`path: None`) or one to
/// join. Kinds not listed are the host's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// `pid`, `network`, `ipc`, `uts`, `mount`.
    pub kind: &'static str,
    /// Join the namespace at this path (`/proc/<pid>/ns/net`).
    pub path: Option<PathBuf>,
}

/// A bind mount from the host (or pod dir) into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindMount {
    /// Where in the container.
    pub destination: String,
    /// What on the host.
    pub source: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

/// cgroup limits of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// `cpu.shares`.
    pub cpu_shares: u64,
    /// `cpu.cfs_quota_us` over [`CPU_PERIOD`], when a CPU limit is set.
    pub cpu_quota: Option<i64>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
}

/// Everything a `config.json` says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// argv.
    pub args: Vec<String>,
    /// `NAME=value`.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// Who the process runs as.
    pub user: User,
    /// The hostname, when the container has its own UTS namespace.
    pub hostname: Option<String>,
    /// The rootfs directory.
    pub rootfs: PathBuf,
    /// Whether the rootfs is mounted read-only.
    pub readonly_rootfs: bool,
    /// Its namespaces.
    pub namespaces: Vec<Namespace>,
    /// Bind mounts after the standard ones (`/etc/hosts`, volumes).
    pub mounts: Vec<BindMount>,
    /// cgroup limits.
    pub resources: Resources,
    /// `linux.cgroupsPath`.
    pub cgroups_path: String,
    /// Bounding/effective/permitted capabilities.
    pub capabilities: Vec<String>,
}

/// The `config.json` for `spec`.
pub fn render(spec: &Spec) -> Value {
    let caps = &spec.capabilities;
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    for m in &spec.mounts {
        let mut options = vec!["rbind", "rprivate"];
        options.push(if m.read_only { "ro" } else { "rw" });
        mounts.push(json!({
            "destination": m.destination,
            "type": "bind",
            "source": m.source,
            "options": options,
        }));
    }
    let namespaces: Vec<Value> = spec
        .namespaces
        .iter()
        .map(|ns| match &ns.path {
            Some(p) => json!({"type": ns.kind, "path": p}),
            None => json!({"type": ns.kind}),
        })
        .collect();
    let mut resources = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "cpu": {"shares": spec.resources.cpu_shares},
    });
    if let Some(q) = spec.resources.cpu_quota {
        resources["cpu"]["quota"] = json!(q);
        resources["cpu"]["period"] = json!(CPU_PERIOD);
    }
    if let Some(m) = spec.resources.memory_limit {
        resources["memory"] = json!({"limit": m});
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {
                "uid": spec.user.uid,
                "gid": spec.user.gid,
                "additionalGids": spec.user.additional_gids,
            },
            "args": spec.args,
            "env": spec.env,
            "cwd": spec.cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "noNewPrivileges": false,
        },
        "root": {"path": spec.rootfs, "readonly": spec.readonly_rootfs},
        "mounts": mounts,
        "linux": {
            "resources": resources,
            "cgroupsPath": spec.cgroups_path,
            "namespaces": namespaces,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    });
    if let Some(h) = &spec.hostname {
        config["hostname"] = json!(h);
    }
    config
}

/// cgroup limits from a container's requests and limits, as the kubelet
/// sets them: shares = milli-CPU requested × 1024 / 1000 (at least 2),
/// quota = milli-CPU limit × period / 1000 (at least 1 ms), memory limit
/// in bytes. A limit without a request counts as the request.
pub fn resources_of(c: &Container) -> Resources {
    let r = &c.resources;
    let cpu_request = r
        .requests
        .get("cpu")
        .or_else(|| r.limits.get("cpu"))
        .map(|q| q.milli_value())
        .unwrap_or(0);
    let cpu_shares = u64::try_from(cpu_request * 1024 / 1000).unwrap_or(0).max(2);
    let cpu_quota = r
        .limits
        .get("cpu")
        .map(|q| q.milli_value())
        .filter(|m| *m > 0)
        .map(|m| (m * CPU_PERIOD as i64 / 1000).max(1000));
    let memory_limit = r.limits.get("memory").map(|q| q.value()).filter(|v| *v > 0);
    Resources {
        cpu_shares,
        cpu_quota,
        memory_limit,
    }
}

/// The capabilities under a securityContext: the defaults with its
/// `add` and without its `drop` (`ALL` drops every one).
pub fn capabilities_of(sc: Option<&SecurityContext>) -> Vec<String> {
    let norm = |c: &str| {
        let c = c.to_ascii_uppercase();
        if c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        }
    };
    let mut caps: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    if let Some(c) = sc.and_then(|s| s.capabilities.as_ref()) {
        if c.drop.iter().any(|d| d.eq_ignore_ascii_case("ALL")) {
            caps.clear();
        } else {
            let drop: Vec<String> = c.drop.iter().map(|d| norm(d)).collect();
            caps.retain(|c| !drop.contains(c));
        }
        for a in &c.add {
            let a = norm(a);
            if !caps.contains(&a) {
                caps.push(a);
            }
        }
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;
    use tug_api::core::Capabilities;
    use tug_api::quantity::Quantity;

    fn with_resources(req: &[(&str, &str)], lim: &[(&str, &str)]) -> Container {
        let mut c = Container::default();
        for (k, v) in req {
            c.resources
                .requests
                .insert(k.to_string(), Quantity(v.to_string()));
        }
        for (k, v) in lim {
            c.resources
                .limits
                .insert(k.to_string(), Quantity(v.to_string()));
        }
        c
    }

    #[test]
    fn cpu_and_memory_become_cgroup_limits() {
        let r = resources_of(&with_resources(
            &[("cpu", "250m")],
            &[("cpu", "500m"), ("memory", "64Mi")],
        ));
        assert_eq!(r.cpu_shares, 256);
        assert_eq!(r.cpu_quota, Some(50_000));
        assert_eq!(r.memory_limit, Some(64 * 1024 * 1024));
    }

    #[test]
    fn no_request_gets_the_minimum_shares_and_no_quota() {
        let r = resources_of(&with_resources(&[], &[]));
        assert_eq!(
            r,
            Resources {
                cpu_shares: 2,
                cpu_quota: None,
                memory_limit: None
            }
        );
        let r = resources_of(&with_resources(&[("cpu", "1m")], &[]));
        assert_eq!(r.cpu_shares, 2);
        let r = resources_of(&with_resources(&[], &[("cpu", "2")]));
        assert_eq!((r.cpu_shares, r.cpu_quota), (2048, Some(200_000)));
    }

    #[test]
    fn capabilities_add_and_drop() {
        let sc = SecurityContext {
            capabilities: Some(Capabilities {
                add: vec!["SYS_ADMIN".into()],
                drop: vec!["net_raw".into()],
            }),
            ..SecurityContext::default()
        };
        let caps = capabilities_of(Some(&sc));
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_NET_RAW".to_string()));
        assert!(caps.contains(&"CAP_CHOWN".to_string()));
        let sc = SecurityContext {
            capabilities: Some(Capabilities {
                add: vec!["NET_BIND_SERVICE".into()],
                drop: vec!["ALL".into()],
            }),
            ..SecurityContext::default()
        };
        assert_eq!(capabilities_of(Some(&sc)), ["CAP_NET_BIND_SERVICE"]);
    }

    #[test]
    fn the_config_joins_the_sandbox_and_carries_limits_and_mounts() {
        let spec = Spec {
            args: vec!["/bin/sh".into()],
            env: vec!["A=b".into()],
            cwd: "/".into(),
            user: User {
                uid: 33,
                gid: 44,
                additional_gids: vec![],
            },
            hostname: None,
            rootfs: "/r/rootfs".into(),
            readonly_rootfs: false,
            namespaces: vec![
                Namespace {
                    kind: "pid",
                    path: None,
                },
                Namespace {
                    kind: "mount",
                    path: None,
                },
                Namespace {
                    kind: "network",
                    path: Some("/proc/7/ns/net".into()),
                },
            ],
            mounts: vec![BindMount {
                destination: "/etc/hosts".into(),
                source: "/pods/u/etc/hosts".into(),
                read_only: true,
            }],
            resources: Resources {
                cpu_shares: 512,
                cpu_quota: Some(20_000),
                memory_limit: Some(1 << 20),
            },
            cgroups_path: "/tugboat/n/podu/c".into(),
            capabilities: vec!["CAP_KILL".into()],
        };
        let v = render(&spec);
        assert_eq!(v["process"]["user"]["uid"], 33);
        assert_eq!(v["process"]["args"][0], "/bin/sh");
        assert_eq!(v["linux"]["namespaces"][2]["path"], "/proc/7/ns/net");
        assert!(v["linux"]["namespaces"][0].get("path").is_none());
        assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 512);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 20_000);
        assert_eq!(v["linux"]["resources"]["cpu"]["period"], 100_000);
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 1 << 20);
        assert_eq!(v["linux"]["cgroupsPath"], "/tugboat/n/podu/c");
        assert!(v.get("hostname").is_none());
        let hosts = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/etc/hosts")
            .unwrap();
        assert_eq!(hosts["options"], json!(["rbind", "rprivate", "ro"]));
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&json!("/proc/kcore")));
    }
}
