//! The runc runtime for real, as root: a busybox image laid out as one
//! layer, pods on the host network (the CNI path is exercised end to end
//! by `tests/tests/runc_node`), real `runc`, the real
//! `tug-kubelet shim`. Each test has its own root dir and cgroup parent
//! and leaves nothing behind; without root every test skips loudly.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tug_api::core::{
    Container, ExecAction, Lifecycle, LifecycleHandler, Pod, ResourceRequirements,
};
use tug_api::Quantity;
use tug_kubelet::image::{Image, ImageConfig, ImageStore, StoreConfig};
use tug_kubelet::network::cni::{Cni, CniConfig};
use tug_kubelet::runtime::runc::state::{read_json, InstanceState, Layout, SandboxRecord};
use tug_kubelet::runtime::runc::{cgroup, mounts, RuncConfig, RuncRuntime};
use tug_kubelet::runtime::{InstanceState as RtState, Runtime, RuntimePod, SandboxNetwork};
use tug_tests::net::wait_for;

const HOST: SandboxNetwork = SandboxNetwork::Host(IpAddr::V4(Ipv4Addr::LOCALHOST));

fn is_root() -> bool {
    let root = tug_tests::prereq::is_root();
    if !root {
        eprintln!("SKIP: the runc runtime tests need root");
    }
    root
}

/// A root dir, a cgroup parent and a runtime over them; dropping it
/// removes every container, mount and cgroup the test made.
struct Fixture {
    dir: tempfile::TempDir,
    cgroup_parent: String,
    image: Image,
    runtime: Option<RuncRuntime>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        let image = busybox_image(&dir.path().join("layers"));
        let cgroup_parent = format!("/tug-test-{}", rand::random::<u32>());
        let mut f = Fixture {
            dir,
            cgroup_parent,
            image,
            runtime: None,
        };
        f.restart();
        f
    }

    fn config(&self) -> RuncConfig {
        let root = self.dir.path().join("root");
        RuncConfig {
            root_dir: root.clone(),
            runc: PathBuf::from("runc"),
            shim_binary: PathBuf::from(env!("CARGO_BIN_EXE_tug-kubelet")),
            cgroup_parent: self.cgroup_parent.clone(),
            images: Arc::new(
                ImageStore::open(StoreConfig {
                    root: root.join("images"),
                    insecure_registries: Vec::new(),
                })
                .expect("an image store"),
            ),
            cni: Arc::new(
                Cni::new(CniConfig {
                    bin_dirs: vec!["/usr/lib/cni".into(), "/opt/cni/bin".into()],
                    bridge: "tugtest0".into(),
                    state_dir: root.join("cni"),
                })
                .expect("a CNI client"),
            ),
            client: None,
            node_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Drop the runtime and make a new one over the same directories,
    /// as a restarted kubelet does.
    fn restart(&mut self) {
        self.runtime = None;
        self.runtime = Some(RuncRuntime::new(self.config()).expect("the runtime starts"));
    }

    fn rt(&self) -> &RuncRuntime {
        self.runtime.as_ref().expect("a runtime")
    }

    fn layout(&self) -> Layout {
        Layout {
            root: self.dir.path().join("root"),
        }
    }

    fn state(&self, uid: &str, name: &str, attempt: u32) -> InstanceState {
        read_json(&self.layout().bundle(uid, name, attempt).join("state.json"))
            .expect("the shim wrote state.json")
    }

    fn sandbox(&self, uid: &str) -> SandboxRecord {
        read_json(&self.layout().pod_dir(uid).join("sandbox.json")).expect("sandbox.json")
    }

    async fn start(&self, pod: &Pod, c: &Container, attempt: u32) {
        self.rt()
            .create_container(pod, c, &self.image, attempt)
            .await
            .unwrap_or_else(|e| panic!("container {} starts: {e}", c.name));
    }

    /// Wait for `cond` on the pod's runtime state, up to `within`.
    async fn wait_for(
        &self,
        uid: &str,
        within: Duration,
        what: &str,
        cond: impl Fn(&RuntimePod) -> bool,
    ) -> RuntimePod {
        let rt = self.rt();
        wait_for(what, within, || async {
            let st = rt.pod_status(uid).await.expect("the pod is known");
            if cond(&st) {
                Ok(st)
            } else {
                Err(format!("{st:#?}"))
            }
        })
        .await
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.runtime = None;
        let runc_root = self.layout().runc_root();
        if let Ok(out) = std::process::Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(["list", "-q"])
            .output()
        {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = std::process::Command::new("runc")
                    .arg("--root")
                    .arg(&runc_root)
                    .args(["delete", "--force", id])
                    .status();
            }
        }
        let _ = mounts::unmount_all_under(self.dir.path());
        cgroup::remove_tree(&self.cgroup_parent);
    }
}

/// An image of one layer: the static busybox with its applet links and
/// a passwd naming `www` (uid 33).
fn busybox_image(layer: &Path) -> Image {
    let bin = layer.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(layer.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static is installed");
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::write(
        layer.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(layer.join("etc/group"), "root:x:0:\nwww:x:33:\n").unwrap();
    Image {
        reference: "test.local/busybox:1".into(),
        image_id: "test.local/busybox@sha256:0000".into(),
        layers: vec![layer.to_path_buf()],
        config: ImageConfig {
            entrypoint: Vec::new(),
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            working_dir: String::new(),
            user: String::new(),
        },
    }
}

fn pod(name: &str, containers: Vec<Container>) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = name.into();
    p.metadata.namespace = "default".into();
    p.metadata.uid = format!("{name}-{:08x}", rand::random::<u32>());
    p.spec.containers = containers;
    p
}

fn shell(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: "test.local/busybox:1".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..Container::default()
    }
}

fn exited(st: &RuntimePod, name: &str) -> Option<(i32, Option<String>)> {
    match &st.latest(name)?.state {
        RtState::Exited {
            exit_code, reason, ..
        } => Some((*exit_code, reason.clone())),
        RtState::Running { .. } => None,
    }
}

fn ns(pid: i32, kind: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("the process runs")
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_shares_its_sandbox_and_logs_in_cri_format() {
    if !is_root() {
        return;
    }
    let f = Fixture::new();
    let mut c = shell("c", "echo $(GREETING); cat /etc/hostname; exit 3");
    c.env = vec![tug_api::core::EnvVar {
        name: "GREETING".into(),
        value: "bye".into(),
        value_from: None,
    }];
    let p = pod(
        "two",
        vec![
            shell("a", "echo hello; echo oops >&2; exec sleep 3600"),
            shell("b", "exec sleep 3600"),
            c,
        ],
    );
    let uid = p.metadata.uid.clone();
    f.rt().run_pod_sandbox(&p, HOST).await.expect("the sandbox");
    for c in &p.spec.containers {
        f.start(&p, c, 0).await;
    }
    let st = f
        .wait_for(&uid, Duration::from_secs(20), "c to exit", |st| {
            exited(st, "c").is_some()
        })
        .await;
    assert_eq!(exited(&st, "c"), Some((3, None)));
    assert!(st.latest("a").unwrap().is_running());
    assert!(st.latest("b").unwrap().is_running());
    assert_eq!(st.ips(), [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert!(st.latest("a").unwrap().id.starts_with("runc://"));

    let pause = f.sandbox(&uid).pause_pid;
    let (a, b) = (f.state(&uid, "a", 0).pid, f.state(&uid, "b", 0).pid);
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(ns(a, kind), ns(pause, kind), "a shares the pause's {kind}");
        assert_eq!(ns(b, kind), ns(pause, kind), "b shares the pause's {kind}");
    }
    assert_ne!(
        ns(a, "mnt"),
        ns(b, "mnt"),
        "each container has its own mounts"
    );
    assert_ne!(ns(a, "pid"), ns(b, "pid"));
    assert_ne!(
        ns(a, "ipc"),
        std::fs::read_link("/proc/self/ns/ipc").unwrap(),
        "the pod has its own IPC namespace"
    );

    let log = f.rt().container_log(&uid, "a", 0).expect("a's log");
    let text = wait_for("two lines in a's log", Duration::from_secs(10), || async {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.lines().count() >= 2 {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    let mut lines: Vec<(&str, &str)> = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.splitn(4, ' ').collect();
            assert_eq!(parts.len(), 4, "a CRI record: {l}");
            assert!(
                chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok(),
                "an RFC 3339 time: {l}"
            );
            assert_eq!(parts[2], "F");
            (parts[1], parts[3])
        })
        .collect();
    lines.sort();
    assert_eq!(lines, [("stderr", "oops"), ("stdout", "hello")]);
    let c_log = std::fs::read_to_string(f.rt().container_log(&uid, "c", 0).unwrap()).unwrap();
    assert!(c_log.contains(" stdout F bye\n"), "{c_log}");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        c_log.contains(&format!(" stdout F {}", hostname.trim())),
        "{c_log}"
    );

    f.rt().remove_pod(&uid).await;
    assert_nothing_left(&f, &uid, &[pause, a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_runs_pre_stop_then_term_then_kill_after_the_grace() {
    if !is_root() {
        return;
    }
    let f = Fixture::new();
    let mut polite = shell(
        "polite",
        "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done",
    );
    polite.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo prestop > /proc/1/fd/1".into(),
                ],
            }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    // PID 1 without a handler ignores SIGTERM: only SIGKILL ends it.
    let stubborn = shell("stubborn", "exec sleep 3600");
    let p = pod("stop", vec![polite, stubborn]);
    let uid = p.metadata.uid.clone();
    f.rt().run_pod_sandbox(&p, HOST).await.unwrap();
    for c in &p.spec.containers {
        f.start(&p, c, 0).await;
    }
    let asked = Instant::now();
    f.rt().stop_pod(&uid, Duration::from_secs(2)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "stop_pod returns at once"
    );
    let st = f
        .wait_for(&uid, Duration::from_secs(5), "polite to exit", |st| {
            exited(st, "polite").is_some()
        })
        .await;
    assert_eq!(exited(&st, "polite"), Some((0, None)));
    assert!(
        st.next_change.is_some(),
        "the kubelet is told when to look again"
    );
    let st = f
        .wait_for(
            &uid,
            Duration::from_secs(10),
            "stubborn to be killed",
            |st| exited(st, "stubborn").is_some(),
        )
        .await;
    assert!(
        asked.elapsed() >= Duration::from_secs(2),
        "SIGKILL only after the grace"
    );
    assert_eq!(exited(&st, "stubborn"), Some((137, None)));
    let log = std::fs::read_to_string(f.rt().container_log(&uid, "polite", 0).unwrap()).unwrap();
    let pre = log.find("prestop").expect("the preStop hook ran");
    let term = log.find("got TERM").expect("SIGTERM reached the container");
    assert!(pre < term, "preStop before SIGTERM: {log}");

    // A restart is a new instance with the next attempt; the old one stays.
    f.start(&p, &p.spec.containers[1], 1).await;
    let st = f.rt().pod_status(&uid).await.unwrap();
    assert_eq!(st.latest("stubborn").unwrap().attempt, 1);
    assert!(st.latest("stubborn").unwrap().is_running());
    assert_eq!(st.previous("stubborn").unwrap().attempt, 0);
    f.rt()
        .kill_container(&uid, "stubborn", Duration::from_millis(200))
        .await;
    let st = f
        .wait_for(
            &uid,
            Duration::from_secs(10),
            "the restart to be killed",
            |st| exited(st, "stubborn").is_some(),
        )
        .await;
    assert_eq!(exited(&st, "stubborn"), Some((137, None)));
    f.rt().remove_pod(&uid).await;
    assert_nothing_left(&f, &uid, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_oom_killed() {
    if !is_root() {
        return;
    }
    let f = Fixture::new();
    let mut hog = shell("hog", "exec dd if=/dev/zero of=/dev/null bs=256M count=1");
    hog.resources = ResourceRequirements {
        limits: BTreeMap::from([("memory".to_string(), Quantity("32Mi".into()))]),
        ..ResourceRequirements::default()
    };
    let p = pod("oom", vec![hog]);
    let uid = p.metadata.uid.clone();
    f.rt().run_pod_sandbox(&p, HOST).await.unwrap();
    f.start(&p, &p.spec.containers[0], 0).await;
    let st = f
        .wait_for(&uid, Duration::from_secs(20), "the hog to die", |st| {
            exited(st, "hog").is_some()
        })
        .await;
    assert_eq!(
        exited(&st, "hog"),
        Some((137, Some("OOMKilled".to_string())))
    );
    f.rt().remove_pod(&uid).await;
    assert_nothing_left(&f, &uid, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_runtime_keeps_running_containers_and_their_records() {
    if !is_root() {
        return;
    }
    let mut f = Fixture::new();
    let p = pod(
        "keep",
        vec![
            shell("runner", "echo before; exec sleep 3600"),
            shell("done", "echo finished; exit 7"),
        ],
    );
    let uid = p.metadata.uid.clone();
    f.rt().run_pod_sandbox(&p, HOST).await.unwrap();
    for c in &p.spec.containers {
        f.start(&p, c, 0).await;
    }
    f.wait_for(&uid, Duration::from_secs(10), "done to exit", |st| {
        exited(st, "done").is_some()
    })
    .await;
    let pid = f.state(&uid, "runner", 0).pid;
    let before = f.rt().pod_status(&uid).await.unwrap();

    f.restart();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    f.rt().set_change_notifier(Arc::new(move |uid: &str| {
        let _ = tx.send(uid.to_string());
    }));
    assert_eq!(f.rt().list_pods().await, std::slice::from_ref(&uid));
    let after = f.rt().pod_status(&uid).await.unwrap();
    assert_eq!(
        after.containers, before.containers,
        "same instances, same times"
    );
    assert_eq!(after.ips(), before.ips());
    assert!(after.latest("runner").unwrap().is_running());
    assert_eq!(f.state(&uid, "runner", 0).pid, pid, "the same process");
    assert!(alive(pid));
    assert_eq!(exited(&after, "done"), Some((7, None)));
    let log = std::fs::read_to_string(f.rt().container_log(&uid, "done", 0).unwrap()).unwrap();
    assert!(log.contains(" stdout F finished\n"));

    // The adopted container's exit still reaches the kubelet.
    f.rt()
        .kill_container(&uid, "runner", Duration::from_millis(100))
        .await;
    let told = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the exit is announced");
    assert_eq!(told.as_deref(), Some(uid.as_str()));
    let st = f.rt().pod_status(&uid).await.unwrap();
    assert_eq!(exited(&st, "runner"), Some((137, None)));
    f.rt().remove_pod(&uid).await;
    assert_nothing_left(&f, &uid, &[pid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_run_is_a_start_error() {
    if !is_root() {
        return;
    }
    let f = Fixture::new();
    let mut c = shell("bad", "");
    c.command = vec!["/no/such/binary".into()];
    let p = pod("bad", vec![c]);
    let uid = p.metadata.uid.clone();
    f.rt().run_pod_sandbox(&p, HOST).await.unwrap();
    let err = f
        .rt()
        .create_container(&p, &p.spec.containers[0], &f.image, 0)
        .await
        .expect_err("runc cannot exec it");
    assert!(err.to_string().contains("bad"), "{err}");
    let st = f.rt().pod_status(&uid).await.unwrap();
    assert_eq!(
        exited(&st, "bad"),
        Some((128, Some("StartError".to_string())))
    );
    f.rt().remove_pod(&uid).await;
    assert_nothing_left(&f, &uid, &[]);
}

/// After `remove_pod`: no runc container, process, mount, cgroup, pod
/// dir or log of the pod.
fn assert_nothing_left(f: &Fixture, uid: &str, pids: &[i32]) {
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(f.layout().runc_root())
        .args(["list", "-q"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "runc containers left"
    );
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "process {pid} left: {stat}"
        );
    }
    assert_eq!(
        mounts::mounts_under(f.dir.path()),
        Vec::<PathBuf>::new(),
        "mounts left"
    );
    assert!(!f.layout().pod_dir(uid).exists(), "pod dir left");
    for h in ["memory", "cpu", "pids"] {
        let p = Path::new("/sys/fs/cgroup")
            .join(h)
            .join(cgroup::pod_path(&f.cgroup_parent, uid).trim_start_matches('/'));
        assert!(!p.exists(), "cgroup left: {}", p.display());
    }
    let logs = f.dir.path().join("root/logs");
    let left: Vec<_> = std::fs::read_dir(logs).unwrap().flatten().collect();
    assert!(left.is_empty(), "logs left: {left:?}");
}
