//! Starting one container instance: its bundle
//! (`<pod dir>/containers/<name>/<attempt>/`) with an overlayfs rootfs
//! over the image's layers, the `config.json` that joins the pause
//! container's namespaces, and the shim that runs and watches it.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tug_api::core::{Container, Pod};

use super::env::{self, PodFacts};
use super::shim::ShimOptions;
use super::spec::{self, BindMount, Namespace, Spec};
use super::state::{write_json, InstanceRecord, SandboxRecord};
use super::user::{self, UserInputs};
use super::{cgroup, mounts, volumes, Inner};
use crate::image::Image;
use crate::runtime::RuntimeError;

/// How long the shim may take to create and start a container.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The runc id of instance `attempt` of container `name` of pod `uid`.
pub fn container_id(uid: &str, name: &str, attempt: u32) -> String {
    format!("{uid}-{name}-{attempt}")
}

fn start_err(container: &Container, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::StartContainer {
        container: container.name.clone(),
        reason: reason.into(),
    }
}

/// Build, then run instance `attempt` of `container`.
pub(super) async fn create(
    inner: &Inner,
    pod: &Pod,
    container: &Container,
    image: &Image,
    attempt: u32,
) -> Result<(), RuntimeError> {
    let uid = &pod.metadata.uid;
    let entry = inner
        .entry(uid)
        .ok_or_else(|| RuntimeError::NoSandbox(pod.metadata.name.clone()))?;
    let sandbox = entry
        .sandbox
        .clone()
        .ok_or_else(|| RuntimeError::NoSandbox(pod.metadata.name.clone()))?;
    // Earlier instances of this container are over: their rootfs can go
    // (their state and logs stay).
    for r in entry.instances.iter().filter(|r| r.name == container.name) {
        if inner
            .state_of(uid, r)
            .is_some_and(|s| s.finished_at.is_some())
        {
            let _ = mounts::unmount(&inner.bundle_of(uid, r).join("rootfs"));
        }
    }
    let pod_dir = inner.layout.pod_dir(uid);
    let (cms, secrets) = volumes::referenced(pod, container);
    let sources = volumes::fetch(
        inner.config.client.as_ref(),
        &pod.metadata.namespace,
        &cms,
        &secrets,
    )
    .await
    .map_err(|e| start_err(container, e))?;
    let facts = PodFacts {
        pod_ips: sandbox.ips.iter().map(ToString::to_string).collect(),
        host_ip: sandbox.host_ip.clone(),
    };
    let spec_env = env::container_env(pod, container, &sources, &facts)
        .map_err(|e| start_err(container, e))?;
    let vols = volumes::prepare(&pod_dir, pod, &sources).map_err(|e| start_err(container, e))?;
    let binds = volumes::mounts_for(container, &vols).map_err(|e| start_err(container, e))?;

    let bundle = inner.layout.bundle(uid, &container.name, attempt);
    if bundle.exists() {
        // Left by a kubelet that died while starting it.
        let _ = mounts::unmount_all_under(&bundle);
        let _ = std::fs::remove_dir_all(&bundle);
    }
    let rootfs = bundle.join("rootfs");
    let made = (|| {
        for d in [&rootfs, &bundle.join("upper"), &bundle.join("work")] {
            std::fs::create_dir_all(d)?;
        }
        mounts::mount_overlay(
            &image.layers,
            &bundle.join("upper"),
            &bundle.join("work"),
            &rootfs,
        )
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&bundle);
        return Err(start_err(container, format!("mounting the rootfs: {e}")));
    }
    match build_and_run(
        inner, pod, container, image, attempt, &sandbox, &bundle, spec_env, binds,
    )
    .await
    {
        Ok(()) => Ok(()),
        Err((e, ran)) => {
            if !ran {
                let _ = mounts::unmount_all_under(&bundle);
                let _ = std::fs::remove_dir_all(&bundle);
            }
            Err(e)
        }
    }
}

/// What [`build_and_run`] fails with: the error, and whether an instance
/// was recorded (its bundle must stay).
type RunError = (RuntimeError, bool);

#[allow(clippy::too_many_arguments)]
async fn build_and_run(
    inner: &Inner,
    pod: &Pod,
    container: &Container,
    image: &Image,
    attempt: u32,
    sandbox: &SandboxRecord,
    bundle: &Path,
    spec_env: Vec<(String, String)>,
    binds: Vec<BindMount>,
) -> Result<(), RunError> {
    let uid = &pod.metadata.uid;
    let fail = |e: String| (start_err(container, e), false);
    let rootfs = bundle.join("rootfs");
    let id = container_id(uid, &container.name, attempt);
    let cgroup_path = cgroup::container_path(&inner.config.cgroup_parent, uid, &id);
    let spec = container_spec(ContainerSpecInputs {
        pod,
        container,
        image,
        sandbox,
        pod_dir: &inner.layout.pod_dir(uid),
        rootfs: &rootfs,
        spec_env: &spec_env,
        binds,
        cgroups_path: cgroup_path.clone(),
    })
    .map_err(fail)?;
    // The working directory may not exist in the image.
    let cwd = rootfs.join(spec.cwd.trim_start_matches('/'));
    if !cwd.exists() {
        std::fs::create_dir_all(&cwd)
            .map_err(|e| fail(format!("creating the working dir: {e}")))?;
    }
    let config =
        serde_json::to_vec_pretty(&spec::render(&spec)).map_err(|e| fail(e.to_string()))?;
    std::fs::write(bundle.join("config.json"), config).map_err(|e| fail(e.to_string()))?;
    let m = &pod.metadata;
    let log = inner
        .layout
        .log_file(&m.namespace, &m.name, uid, &container.name, attempt);
    let record = InstanceRecord {
        name: container.name.clone(),
        attempt,
        id: id.clone(),
        image: image.reference.clone(),
        image_id: image.image_id.clone(),
        cgroup: cgroup_path.clone(),
    };
    write_json(&bundle.join("instance.json"), &record).map_err(|e| fail(e.to_string()))?;
    let opts = ShimOptions {
        runc: inner.config.runc.clone(),
        root: inner.layout.runc_root(),
        bundle: bundle.to_path_buf(),
        id,
        log,
        cgroup: cgroup_path,
    };
    let (outcome, child) = spawn_shim(inner, &opts).await.map_err(fail)?;
    let recorded = !matches!(outcome, ShimOutcome::Broken(_));
    if recorded {
        if let Some(e) = inner.pods().get_mut(uid) {
            e.instances.push(record);
        }
        // The kubelet hears of the exit the moment the shim ends.
        let uid = uid.clone();
        let notify_on = inner_weak(inner);
        tokio::spawn(async move {
            let mut child = child;
            let _ = child.wait().await;
            if let Some(inner) = notify_on() {
                inner.notify(&uid);
            }
        });
    }
    match outcome {
        ShimOutcome::Started(_) => Ok(()),
        ShimOutcome::Failed(msg) | ShimOutcome::Broken(msg) => {
            Err((start_err(container, msg), recorded))
        }
    }
}

/// What a shim said about the start of its container.
pub(super) enum ShimOutcome {
    /// It runs, with this PID.
    Started(i32),
    /// runc could not start it (recorded as a `StartError` exit).
    Failed(String),
    /// The shim itself failed or timed out (nothing recorded; it is killed).
    Broken(String),
}

/// Start a shim for `opts` in its own session and wait for its word on
/// the start; the shim process, to wait on.
pub(super) async fn spawn_shim(
    inner: &Inner,
    opts: &ShimOptions,
) -> Result<(ShimOutcome, tokio::process::Child), String> {
    let shim_log = opts.bundle.join("shim.log");
    let log = std::fs::File::create(&shim_log).map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(&inner.config.shim_binary);
    cmd.arg("shim")
        .args(opts.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the shim gets its own session
    // so a kubelet killed (or its terminal hung up) leaves it running.
    unsafe {
        cmd.as_std_mut().pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "starting the shim {}: {e}",
            inner.config.shim_binary.display()
        )
    })?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    let read = tokio::time::timeout(
        START_TIMEOUT,
        tokio::io::BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    let outcome = match (read, line.trim().split_once(' ')) {
        (Ok(Ok(_)), Some(("started", pid))) => ShimOutcome::Started(pid.parse().unwrap_or(0)),
        (Ok(Ok(_)), Some(("failed", msg))) => ShimOutcome::Failed(msg.to_string()),
        (Err(_), _) => ShimOutcome::Broken("timed out starting the container".into()),
        _ => ShimOutcome::Broken(format!(
            "the shim failed: {}",
            std::fs::read_to_string(&shim_log)
                .unwrap_or_default()
                .trim()
        )),
    };
    if matches!(outcome, ShimOutcome::Broken(_)) {
        let _ = child.kill().await;
    }
    Ok((outcome, child))
}

/// A handle on the runtime that does not keep it alive.
fn inner_weak(inner: &Inner) -> impl Fn() -> Option<std::sync::Arc<Inner>> + Send + 'static {
    let weak = inner.me.clone();
    move || weak.upgrade()
}

/// What the `config.json` of a container is made from.
pub struct ContainerSpecInputs<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// The container.
    pub container: &'a Container,
    /// Its image.
    pub image: &'a Image,
    /// The pod's sandbox.
    pub sandbox: &'a SandboxRecord,
    /// The pod's directory (holds `etc/`).
    pub pod_dir: &'a Path,
    /// The mounted rootfs (its `/etc/passwd` names users).
    pub rootfs: &'a Path,
    /// The spec's environment, resolved.
    pub spec_env: &'a [(String, String)],
    /// Volume mounts.
    pub binds: Vec<BindMount>,
    /// `linux.cgroupsPath`.
    pub cgroups_path: String,
}

/// The [`Spec`] of a container: process (Kubernetes command semantics,
/// env, working dir, user), the sandbox's namespaces, `/etc` files and
/// volumes, resources and capabilities.
pub fn container_spec(i: ContainerSpecInputs<'_>) -> Result<Spec, String> {
    let c = i.container;
    let host_network = i.sandbox.netns.is_none();
    let args = env::process_args(c, &i.image.config, i.spec_env);
    if args.is_empty() {
        return Err("no command specified".into());
    }
    let read = |p: &str| std::fs::read_to_string(i.rootfs.join(p)).unwrap_or_default();
    let (passwd, group) = (read("etc/passwd"), read("etc/group"));
    let psc = i.pod.spec.security_context.as_ref();
    let csc = c.security_context.as_ref();
    let mut supplemental: Vec<i64> = psc
        .map(|s| s.supplemental_groups.clone())
        .unwrap_or_default();
    if let Some(fs) = psc.and_then(|s| s.fs_group) {
        supplemental.push(fs);
    }
    let user = user::resolve(&UserInputs {
        run_as_user: csc
            .and_then(|s| s.run_as_user)
            .or(psc.and_then(|s| s.run_as_user)),
        run_as_group: csc
            .and_then(|s| s.run_as_group)
            .or(psc.and_then(|s| s.run_as_group)),
        supplemental_groups: supplemental,
        image_user: &i.image.config.user,
        passwd: &passwd,
        group: &group,
    })?;
    if csc
        .and_then(|s| s.run_as_non_root)
        .or(psc.and_then(|s| s.run_as_non_root))
        == Some(true)
        && user.uid == 0
    {
        return Err("container has runAsNonRoot and image will run as root".into());
    }
    let cwd = [c.working_dir.as_str(), i.image.config.working_dir.as_str()]
        .into_iter()
        .find(|d| !d.is_empty())
        .unwrap_or("/")
        .to_string();
    let pause = PathBuf::from(format!("/proc/{}/ns", i.sandbox.pause_pid));
    let mut namespaces = vec![
        Namespace {
            kind: "pid",
            path: None,
        },
        Namespace {
            kind: "mount",
            path: None,
        },
        Namespace {
            kind: "ipc",
            path: Some(pause.join("ipc")),
        },
    ];
    if !host_network {
        namespaces.push(Namespace {
            kind: "uts",
            path: Some(pause.join("uts")),
        });
        namespaces.push(Namespace {
            kind: "network",
            path: Some(pause.join("net")),
        });
    }
    let mut mounts = Vec::new();
    for f in ["hosts", "hostname", "resolv.conf"] {
        let destination = format!("/etc/{f}");
        if !i.binds.iter().any(|b| b.destination == destination) {
            mounts.push(BindMount {
                destination,
                source: i.pod_dir.join("etc").join(f),
                read_only: false,
            });
        }
    }
    mounts.extend(i.binds);
    Ok(Spec {
        args,
        env: env::merged_env(&i.image.config.env, i.spec_env),
        cwd,
        user,
        hostname: None,
        rootfs: i.rootfs.to_path_buf(),
        readonly_rootfs: csc
            .and_then(|s| s.read_only_root_filesystem)
            .unwrap_or(false),
        namespaces,
        mounts,
        resources: spec::resources_of(c),
        cgroups_path: i.cgroups_path,
        capabilities: spec::capabilities_of(csc),
    })
}
