//! Finding the workspace's built binaries from a test of any crate.

use std::path::PathBuf;

/// The built binary `name` (e.g. `tug-apiserver`) in the target directory
/// the running test binary lives in. `scripts/test.sh` builds every binary
/// before the tests; a clear panic says so when one is missing.
pub fn workspace_binary(name: &str) -> PathBuf {
    let candidates = [
        // target/debug/deps/<test> → target/debug/<name>
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent()?.parent().map(|d| d.join(name))),
        Some(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/debug")
                .join(name),
        ),
    ];
    for c in candidates.into_iter().flatten() {
        if c.exists() {
            return c;
        }
    }
    panic!(
        "{name} binary not found in the target directory: run `cargo build --workspace --bins` \
         (scripts/test.sh does) before the tests"
    );
}
