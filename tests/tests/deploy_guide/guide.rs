//! The guide, end to end, with the units' own command lines: etcd and the
//! control plane on the host (VM 1's role), two "VMs" (network namespaces
//! on a bridge, as VMs on a private LAN) each running the kubelet and
//! proxy units, `tugctl get nodes` showing them Ready, `tugctl apply -f
//! manifests/` running the demo on them, and NodePort 30080 answering on
//! every VM's address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tug_cluster::netns::{enter_on_exec, Lan, NodeNamespace};
use tug_tests::host_state::HostState;
use tug_tests::net::wait_for;

use crate::support::{
    install, missing_prerequisite, parse_get_nodes, tugctl, unit_command, workspace, Daemon,
    Installed,
};
use crate::systemd::edit_env_file;

/// The APISERVER_URL the example names (VM 1 at 192.168.56.11).
const EXAMPLE_URL: &str = "https://192.168.56.11:6443";
/// The NodePort `manifests/nodeport.yaml` asks for, as the guide says.
const NODE_PORT: u16 = 30080;
/// The VMs joining the cluster.
const VMS: [&str; 2] = ["vm-a", "vm-b"];

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_brings_up_a_cluster_from_the_units() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("SKIP the_guide_brings_up_a_cluster_from_the_units: {why}");
        return;
    }
    let before = HostState::capture();
    let dir = tempfile::tempdir().expect("temp dir");
    let tag = std::process::id();
    let tree = install(&dir.path().join("prefix"));

    // etcd as Debian's etcd.service runs it: on loopback, for the
    // apiserver beside it.
    let etcd = tug_tests::etcd::EtcdProcess::start().expect("etcd starts");
    let mut lan = LanGuard(Lan::create(&format!("deploy-guide-{tag}")).expect("create the LAN"));
    let vm1 = lan.0.host_ip;
    let port = tug_tests::net::free_port();
    let url = format!("https://{vm1}:{port}");

    // VM 1's settings: the example, edited as the guide says.
    let example = std::fs::read_to_string(tree.env_example()).expect("the example is installed");
    assert!(
        example.contains(&format!("APISERVER_URL={EXAMPLE_URL}")),
        "the example env names the guide's apiserver"
    );
    let data_dir = dir.path().join("apiserver");
    let mut cluster_settings = vec![
        ("APISERVER_URL", url.clone()),
        ("APISERVER_BIND_ADDRESS", vm1.to_string()),
        ("APISERVER_ADVERTISE_ADDRESS", vm1.to_string()),
        ("APISERVER_PORT", port.to_string()),
        ("ETCD_SERVERS", etcd.endpoint.clone()),
        ("APISERVER_DATA_DIR", path_str(&data_dir)),
    ];
    std::fs::write(tree.env_file(), edit_env_file(&example, &cluster_settings))
        .expect("write tugboat.env");

    // The control plane, from the installed units. The scheduler and
    // controller-manager read the kubeconfigs the apiserver generates on
    // its first start (systemd restarts them until then; here they start
    // once the files exist).
    let mut control_plane = Vec::new();
    for unit in ["tug-apiserver", "tug-scheduler", "tug-controller-manager"] {
        let cmd = unit_command(&tree.unit(unit), &tree.env_file());
        let log = dir.path().join(format!("{unit}.log"));
        control_plane.push(Daemon::start(unit, cmd, &log));
        if unit == "tug-apiserver" {
            let generated = data_dir.join("controller-manager.kubeconfig");
            let apiserver = &mut control_plane[0];
            wait_for(
                "the apiserver to generate the control plane's kubeconfigs",
                Duration::from_secs(30),
                || {
                    apiserver.assert_running();
                    let there = generated.exists();
                    async move { there.then_some(()).ok_or("not yet".to_string()) }
                },
            )
            .await;
        }
    }

    // tugctl's kubeconfig: the admin's, which the apiserver generated
    // with VM 1's address.
    let kubeconfig = data_dir.join("admin.kubeconfig");
    wait_for(
        "the apiserver to answer tugctl",
        Duration::from_secs(30),
        || {
            let out = tugctl(&tree, &kubeconfig, &["get", "nodes"]);
            for d in &mut control_plane {
                d.assert_running();
            }
            async move { ok_or_stderr(&out).map(|_| ()) }
        },
    )
    .await;

    // A join token, as the guide makes it; every VM's settings get its
    // token and CA hash.
    let out = tugctl(
        &tree,
        &kubeconfig,
        &["token", "create", "--print-join-command"],
    );
    let join = ok_or_stderr(&out).expect("tugctl token create --print-join-command");
    assert!(join.contains(&format!("--master {url}")), "{join}");
    let token = flag_in(&join, "--token").expect("a token in the join command");
    let hash = flag_in(&join, "--discovery-token-ca-cert-hash").expect("a CA hash");
    cluster_settings.extend([("BOOTSTRAP_TOKEN", token), ("CA_CERT_HASH", hash)]);

    // The VMs: each its own settings (node name and address), the node
    // prerequisites, the demo image imported offline, kubelet and proxy.
    let archive = tug_tests::images::demo_archive(dir.path());
    let mut vms = Vec::new();
    for name in VMS {
        let node = format!("{name}-{tag}");
        let ns = lan.0.add_node(&node).expect("plug the VM into the LAN");
        let vm = Vm::new(&tree, ns, dir.path().join(name));
        let settings = [
            cluster_settings.clone(),
            vec![
                ("NODE_NAME", node.clone()),
                ("NODE_IP", vm.ns.ip().to_string()),
                ("KUBELET_ROOT_DIR", path_str(&vm.root_dir)),
                // Pod cgroups of this test only; and a disk threshold a
                // shared, fairly full test disk passes.
                (
                    "KUBELET_ARGS",
                    format!(
                        "--cgroup-root={} --eviction-hard=nodefs.available<1Gi",
                        vm.cgroup_root
                    ),
                ),
            ],
        ]
        .concat();
        std::fs::write(&vm.env_file, edit_env_file(&example, &settings)).expect("VM settings");
        vms.push(vm);
    }
    for vm in &mut vms {
        vm.prepare(&tree, &archive);
        vm.start(&tree, dir.path()).await;
    }

    // `tugctl get nodes`: every VM Ready.
    let names: Vec<String> = VMS.iter().map(|n| format!("{n}-{tag}")).collect();
    wait_for(
        "every VM Ready in `tugctl get nodes`",
        Duration::from_secs(120),
        || {
            let out = tugctl(&tree, &kubeconfig, &["get", "nodes"]);
            for vm in &mut vms {
                vm.assert_running();
            }
            let names = names.clone();
            async move {
                let rows = parse_get_nodes(&ok_or_stderr(&out)?);
                match names
                    .iter()
                    .all(|n| rows.get(n).is_some_and(|s| s == "Ready"))
                {
                    true => Ok(()),
                    false => Err(format!("{rows:?}")),
                }
            }
        },
    )
    .await;

    // Every proxy reports healthy on its VM's address.
    for vm in &vms {
        let addr = SocketAddr::from((vm.ns.ip(), 10256));
        wait_for("tug-proxy /healthz 200", Duration::from_secs(30), || {
            let answer = tug_tests::http::get(addr, "/healthz", Default::default());
            let log = vm.log_tail("tug-proxy");
            async move {
                match answer {
                    Ok(r) if r.status == 200 => Ok(()),
                    Ok(r) => Err(format!("{r:?}; its log:\n{log}")),
                    Err(e) => Err(format!("{e}; its log:\n{log}")),
                }
            }
        })
        .await;
    }

    // The demo, as the guide runs it.
    let manifests = path_str(&workspace().join("manifests"));
    let out = tugctl(&tree, &kubeconfig, &["apply", "-f", &manifests]);
    ok_or_stderr(&out).expect("tugctl apply -f manifests/");
    let out = tugctl(
        &tree,
        &kubeconfig,
        &["rollout", "status", "deployment/web", "--timeout=240s"],
    );
    if let Err(e) = ok_or_stderr(&out) {
        let pods = tugctl(&tree, &kubeconfig, &["get", "pods", "-o", "wide"]);
        panic!(
            "the demo did not roll out: {e}\n{}\nkubelet logs:\n{}",
            String::from_utf8_lossy(&pods.stdout),
            vms.iter()
                .map(|vm| vm.log_tail("tug-kubelet"))
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
    }

    // Its pods run on the VMs ...
    let out = tugctl(
        &tree,
        &kubeconfig,
        &["get", "pods", "-l", "app=web", "-o", "wide"],
    );
    let table = ok_or_stderr(&out).expect("tugctl get pods -o wide");
    let on_vms = pods_per_node(&table);
    assert!(
        on_vms.iter().all(|(node, _)| names.contains(node)) && !on_vms.is_empty(),
        "the web pods run on the VMs:\n{table}"
    );
    // ... and NodePort 30080 answers on every VM's address with a web
    // pod's name, whichever VM that pod is on.
    for vm in &vms {
        let addr = SocketAddr::from((vm.ns.ip(), NODE_PORT));
        let body = wait_for(
            "the NodePort to answer",
            Duration::from_secs(30),
            || async move {
                let r = tug_tests::http::get(addr, "/", Default::default())
                    .map_err(|e| e.to_string())?;
                (r.status == 200)
                    .then_some(r.body)
                    .ok_or("not 200".to_string())
            },
        )
        .await;
        assert!(
            body.trim().starts_with("web-"),
            "NodePort {addr} answers with a web pod's name: {body:?}"
        );
    }
    eprintln!("web pods per VM: {on_vms:?}");

    // Taking it all down (the guide's node teardown, stopping the units)
    // leaves nothing of the test's behind.
    let markers = [
        path_str(dir.path()),
        lan.0.bridge().to_string(),
        format!("-{tag}"),
        format!("tugboat-guide{tag}"),
    ];
    drop(vms);
    drop(control_plane);
    drop(lan);
    let left = HostState::capture().new_since(&before).mentioning(&markers);
    assert!(left.is_empty(), "left behind:\n{left}");
}

/// The value after `flag` in a command line.
fn flag_in(line: &str, flag: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == flag)?;
    words.next().map(str::to_string)
}

/// `NODE` → how many pods, from `tugctl get pods -o wide`.
fn pods_per_node(table: &str) -> Vec<(String, usize)> {
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let Some(col) = header.iter().position(|h| *h == "NODE") else {
        return Vec::new();
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for row in lines {
        let Some(node) = row.split_whitespace().nth(col) else {
            continue;
        };
        match counts.iter_mut().find(|(n, _)| n == node) {
            Some((_, c)) => *c += 1,
            None => counts.push((node.to_string(), 1)),
        }
    }
    counts
}

/// A command's stdout when it succeeded, its stderr otherwise.
fn ok_or_stderr(out: &std::process::Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The LAN's bridge, deleted when dropped.
struct LanGuard(Lan);

impl Drop for LanGuard {
    fn drop(&mut self) {
        if let Err(e) = self.0.remove() {
            eprintln!("removing the LAN bridge {}: {e}", self.0.bridge());
        }
    }
}

/// One VM: its namespace, its own settings file and state, and the
/// kubelet and proxy started from the units inside it. Dropping it stops
/// them and takes the node apart as the guide's teardown does
/// (`tug-kubelet reset`, `tug-proxy cleanup`), then removes the namespace.
struct Vm {
    ns: NodeNamespace,
    env_file: PathBuf,
    root_dir: PathBuf,
    cgroup_root: String,
    bin_dir: PathBuf,
    daemons: Vec<Daemon>,
}

impl Vm {
    fn new(tree: &Installed, ns: NodeNamespace, dir: PathBuf) -> Vm {
        std::fs::create_dir_all(&dir).expect("VM dir");
        Vm {
            env_file: dir.join("tugboat.env"),
            root_dir: dir.join("kubelet"),
            cgroup_root: format!("/tugboat-guide{}", std::process::id()),
            bin_dir: tree.bin_dir.clone(),
            ns,
            daemons: Vec::new(),
        }
    }

    /// A command run inside the VM.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        enter_on_exec(&mut cmd, &self.ns.path()).expect("enter the VM's namespace");
        cmd
    }

    /// The guide's node preparation: its sysctl settings, and the demo
    /// image imported into the kubelet's store for a VM without internet.
    fn prepare(&self, tree: &Installed, archive: &Path) {
        let sysctl = tree.prefix.join("etc/sysctl.d/90-tugboat.conf");
        run(self.command("sysctl").arg("-q").arg("-p").arg(&sysctl));
        run(self
            .command(self.bin_dir.join("tug-kubelet"))
            .args(["image", "import", "--root-dir"])
            .arg(&self.root_dir)
            .arg(archive));
    }

    /// `systemctl start tug-kubelet tug-proxy` on this VM.
    /// The kubelet, then (once it has joined and written the kubeconfig
    /// tug-proxy uses; systemd would restart the proxy until then) the
    /// proxy.
    async fn start(&mut self, tree: &Installed, logs: &Path) {
        for unit in ["tug-kubelet", "tug-proxy"] {
            if unit == "tug-proxy" {
                let joined = self.root_dir.join("kubeconfig");
                let kubelet = &mut self.daemons[0];
                wait_for("the kubelet to join", Duration::from_secs(60), || {
                    kubelet.assert_running();
                    let there = joined.exists();
                    async move { there.then_some(()).ok_or("not yet".to_string()) }
                })
                .await;
            }
            let mut cmd = unit_command(&tree.unit(unit), &self.env_file);
            enter_on_exec(&mut cmd, &self.ns.path()).expect("enter the VM's namespace");
            let log = logs.join(format!("{}-{unit}.log", self.ns.node));
            self.daemons.push(Daemon::start(unit, cmd, &log));
        }
    }

    fn assert_running(&mut self) {
        for d in &mut self.daemons {
            d.assert_running();
        }
    }

    /// The end of the log of its `unit`.
    fn log_tail(&self, unit: &str) -> String {
        self.daemons
            .iter()
            .find(|d| d.name == unit)
            .map(Daemon::log_tail)
            .unwrap_or_default()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.daemons.clear();
        let reset = self
            .command(self.bin_dir.join("tug-kubelet"))
            .arg("reset")
            .arg("--root-dir")
            .arg(&self.root_dir)
            .output();
        if !reset.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("tug-kubelet reset on {}: {reset:?}", self.ns.node);
        }
        let _ = self
            .command(self.bin_dir.join("tug-proxy"))
            .arg("cleanup")
            .output();
        remove_cgroup_root(&self.cgroup_root);
        if let Err(e) = self.ns.remove() {
            eprintln!("removing {}: {e}", self.ns.name);
        }
    }
}

/// Remove the (now empty) `--cgroup-root` of the test's nodes from every
/// hierarchy; the kubelet's reset removes the nodes' own cgroups in it.
fn remove_cgroup_root(root: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.flatten() {
        let _ = std::fs::remove_dir(h.path().join(root.trim_start_matches('/')));
    }
}

/// Run `cmd` to success, or panic with its output.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_are_counted_per_node_column() {
        let table = "NAME   READY   STATUS    RESTARTS   AGE   IP          NODE   NOMINATED NODE   READINESS GATES\n\
                     web-1  1/1     Running   0          5s    10.0.0.2    vm-a   <none>           <none>\n\
                     web-2  1/1     Running   0          5s    10.0.1.2    vm-b   <none>           <none>\n\
                     web-3  1/1     Running   0          5s    10.0.1.3    vm-b   <none>           <none>\n";
        assert_eq!(
            pods_per_node(table),
            [("vm-a".to_string(), 1), ("vm-b".to_string(), 2)]
        );
    }
}
