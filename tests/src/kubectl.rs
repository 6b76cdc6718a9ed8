//! Where the stock kubectl the compatibility tests drive is.

use std::path::{Path, PathBuf};

/// The environment variable naming the kubectl binary to test with.
pub const KUBECTL_ENV: &str = "TUG_KUBECTL";

/// The repository's root (where `manifests/` and `.tools/` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The kubectl to test with: `$TUG_KUBECTL`, else the one
/// `scripts/setup.sh` installs into `.tools/bin/`. `None` when neither
/// exists (a stray kubectl on `PATH` is not used: it may be any version).
pub fn find_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(KUBECTL_ENV) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    Some(repo_root().join(".tools/bin/kubectl")).filter(|p| p.is_file())
}

/// The kubectl binary, or a loud SKIP line naming `test` and `None`.
pub fn kubectl_or_skip(test: &str) -> Option<PathBuf> {
    let found = find_kubectl();
    if found.is_none() {
        eprintln!(
            "SKIP {test}: no kubectl: set {KUBECTL_ENV} or run scripts/setup.sh \
             (installs kubectl 1.35 into .tools/bin with ../shared/tools/get-kubectl.sh)"
        );
    }
    found
}
