//! Python virtualenvs for tests that drive Tugboat with Python tools (the
//! official Kubernetes client, schemathesis): made once in the target
//! directory, with pinned requirements, and reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target directory the test binaries were built into (the venvs live
/// beside the build so `cargo clean` removes them too).
fn target_dir() -> PathBuf {
    crate::bins::workspace_binary("tug-apiserver")
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

/// Make (or clear and remake) the virtualenv `dir` with `requirements`.
fn install(dir: &Path, requirements: &[&str]) -> Result<(), String> {
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(dir))
    .map_err(|e| format!("{e}\n(apt-get install python3-venv)"))?;
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements))
}

/// The virtualenv `<target>/<name>` with exactly `requirements` (pinned
/// pip specifiers such as `kubernetes==35.0.0`) installed: its directory,
/// or a loud SKIP line and `None` when python3, venv or PyPI are
/// unavailable. A venv made for other requirements is remade.
pub fn venv(name: &str, requirements: &[&str]) -> Option<PathBuf> {
    if !crate::prereq::on_path("python3") {
        eprintln!("SKIP: python3 is missing (apt-get install python3 python3-venv python3-pip)");
        return None;
    }
    let dir = target_dir().join(name);
    let marker = dir.join(".tug-requirements");
    let wanted = requirements.join("\n");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        if let Err(e) = install(&dir, requirements) {
            eprintln!("SKIP: cannot make a virtualenv with {requirements:?}: {e}");
            return None;
        }
        std::fs::write(&marker, &wanted).expect("write the venv marker");
    }
    Some(dir)
}
