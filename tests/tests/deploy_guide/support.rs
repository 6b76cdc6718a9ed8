//! What the guide's tests share: running `scripts/install.sh`, the
//! installed tree, daemons started from unit command lines, and `tugctl`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub use tug_tests::prereq::on_path;
use tug_tests::prereq::{cni_plugins_installed, missing_as_root};

use crate::systemd::Service;

/// The binaries `scripts/install.sh` installs.
pub const BINARIES: [&str; 6] = [
    "tug-apiserver",
    "tug-scheduler",
    "tug-controller-manager",
    "tug-kubelet",
    "tug-proxy",
    "tugctl",
];

/// The units in `deploy/systemd/`, named like their binaries.
pub const UNITS: [&str; 5] = [
    "tug-apiserver",
    "tug-scheduler",
    "tug-controller-manager",
    "tug-kubelet",
    "tug-proxy",
];

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// A tree `scripts/install.sh --prefix` made.
pub struct Installed {
    /// The prefix.
    pub prefix: PathBuf,
    /// `PREFIX/bin`.
    pub bin_dir: PathBuf,
}

impl Installed {
    /// The installed unit `name` (without `.service`).
    pub fn unit(&self, name: &str) -> PathBuf {
        self.prefix
            .join("lib/systemd/system")
            .join(format!("{name}.service"))
    }

    /// The settings file every installed unit reads.
    pub fn env_file(&self) -> PathBuf {
        self.prefix.join("etc/tugboat/tugboat.env")
    }

    /// The example settings the guide edits.
    pub fn env_example(&self) -> PathBuf {
        self.prefix.join("etc/tugboat/tugboat.env.example")
    }
}

/// Run `scripts/install.sh --prefix prefix` with the binaries this test
/// run was built with.
pub fn install(prefix: &Path) -> Installed {
    let built = tug_tests::bins::workspace_binary("tug-apiserver");
    let out = Command::new("bash")
        .arg(workspace().join("scripts/install.sh"))
        .arg("--prefix")
        .arg(prefix)
        .arg("--bin-from")
        .arg(built.parent().expect("a binary has a directory"))
        .output()
        .expect("run scripts/install.sh");
    assert!(
        out.status.success(),
        "scripts/install.sh --prefix {} failed: {}{}",
        prefix.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Installed {
        prefix: prefix.to_path_buf(),
        bin_dir: prefix.join("bin"),
    }
}

/// Why this machine cannot run the cluster test, if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    missing_as_root(&[
        (on_path("runc"), "runc"),
        (on_path("nft"), "nftables"),
        (on_path("ip"), "iproute2"),
        (cni_plugins_installed(), "containernetworking-plugins"),
        (tug_tests::etcd::etcd_available(), "etcd-server"),
        (tug_tests::images::busybox_available(), "busybox-static"),
    ])
}

/// A unit's command line, expanded from the env file at `env_file` (the
/// one the unit names, or a VM's own copy).
pub fn unit_command(unit: &Path, env_file: &Path) -> Command {
    let service = Service::load(unit);
    let env = crate::systemd::parse_env_file(
        &std::fs::read_to_string(env_file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", env_file.display())),
    );
    let line = service.command_line(&env);
    let mut cmd = Command::new(&line[0]);
    cmd.args(&line[1..]);
    // systemd gives a service the env file's variables and little else.
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env);
    cmd
}

/// A process started from a unit, stopped (SIGTERM, then SIGKILL) when
/// dropped, as `systemctl stop` with `KillMode=process` would.
pub struct Daemon {
    /// The unit it came from.
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Start `cmd`, its output into `log`.
    pub fn start(name: &str, mut cmd: Command, log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("create the log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup the log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    /// The last lines of its log, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Panic, with its log, if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id();
        tug_cluster::process::signal(pid, libc::SIGTERM);
        let child = &mut self.child;
        let exited = tug_tests::net::wait_until(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run the installed `tugctl` with `args` against the kubeconfig at
/// `kubeconfig`.
pub fn tugctl(tree: &Installed, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(tree.bin_dir.join("tugctl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run tugctl")
}

/// `tugctl get nodes` as rows of (NAME, STATUS).
pub fn parse_get_nodes(table: &str) -> BTreeMap<String, String> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            Some((cols.next()?.to_string(), cols.next()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_nodes_rows_give_name_and_status() {
        let rows = parse_get_nodes(
            "NAME   STATUS     ROLES    AGE   VERSION\nvm-a   Ready      <none>   5s    v0.1.0\n\
             vm-b   NotReady   <none>   5s    v0.1.0\n",
        );
        assert_eq!(rows["vm-a"], "Ready");
        assert_eq!(rows["vm-b"], "NotReady");
        assert_eq!(rows.len(), 2);
    }
}
