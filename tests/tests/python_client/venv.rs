//! A Python virtualenv with the official Kubernetes client, made once in
//! the target directory and reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target directory the test binaries were built into.
fn target_dir() -> PathBuf {
    tug_tests::bins::workspace_binary("tug-apiserver")
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/<binary>")
        .to_path_buf()
}

/// Run `cmd`; its combined output as the error when it fails.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Make (or clear and remake) the virtualenv `dir` with the client `version`.
fn install(dir: &Path, version: &str) -> Result<(), String> {
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(dir))
    .map_err(|e| format!("{e}\n(apt-get install python3-venv)"))?;
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("kubernetes=={version}")))
}

/// The virtualenv's python with `kubernetes==version` installed, or a
/// loud SKIP line and `None` when python3, venv or PyPI are unavailable.
pub fn with_kubernetes_client(version: &str) -> Option<PathBuf> {
    if !tug_tests::prereq::on_path("python3") {
        eprintln!("SKIP: python3 is missing (apt-get install python3 python3-venv python3-pip)");
        return None;
    }
    let dir = target_dir().join("python-venv");
    let marker = dir.join(format!(".kubernetes-{version}"));
    if !marker.exists() {
        if let Err(e) = install(&dir, version) {
            eprintln!("SKIP: cannot make a virtualenv with kubernetes=={version}: {e}");
            return None;
        }
        std::fs::write(&marker, version).expect("write the venv marker");
    }
    Some(dir.join("bin/python"))
}
