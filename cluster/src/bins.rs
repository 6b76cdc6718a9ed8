//! Finding the programs a cluster runs.
//!
//! The `tug-*` binaries are built into one target directory, so the first
//! place to look is next to the running program (`target/debug/tugctl` →
//! `target/debug/tug-apiserver`; a test binary in `target/debug/deps/`
//! looks one level up too), then `PATH`. An explicit bin dir replaces
//! that search, so what runs is exactly what the caller meant.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The apiserver program.
pub const APISERVER: &str = "tug-apiserver";
/// The scheduler program.
pub const SCHEDULER: &str = "tug-scheduler";
/// The controller-manager program.
pub const CONTROLLER_MANAGER: &str = "tug-controller-manager";
/// The node agent program.
pub const KUBELET: &str = "tug-kubelet";
/// The service proxy program (netns nodes).
pub const PROXY: &str = "tug-proxy";
/// etcd, for `--store etcd`.
pub const ETCD: &str = "etcd";

/// Where to look for programs.
#[derive(Clone, Debug)]
pub struct BinaryLocator {
    dirs: Vec<PathBuf>,
    hint: String,
}

impl BinaryLocator {
    /// Look only in `bin_dir` when given; else next to the running program
    /// and then in `PATH`.
    pub fn new(bin_dir: Option<&Path>) -> BinaryLocator {
        match bin_dir {
            Some(dir) => BinaryLocator {
                dirs: vec![dir.to_path_buf()],
                hint: String::new(),
            },
            None => BinaryLocator {
                dirs: search_dirs(
                    std::env::current_exe().ok().as_deref(),
                    std::env::var_os("PATH").as_deref(),
                ),
                hint: " (build them with `cargo build --workspace --bins`)".into(),
            },
        }
    }

    /// The path of program `name`.
    pub fn find(&self, name: &str) -> Result<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| Error::BinaryNotFound {
                binary: name.to_string(),
                searched: self.dirs.iter().map(|d| d.display().to_string()).collect(),
                hint: self.hint.clone(),
            })
    }

    /// The `etcd` program: `$TUG_ETCD_BIN` when set, else `PATH` (and
    /// Debian's `/usr/bin/etcd`); etcd is not one of the workspace's own.
    pub fn find_etcd(&self) -> Result<PathBuf> {
        if let Some(bin) = std::env::var_os("TUG_ETCD_BIN") {
            return Ok(PathBuf::from(bin));
        }
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.push(PathBuf::from("/usr/bin"));
        dirs.iter()
            .map(|dir| dir.join(ETCD))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| Error::BinaryNotFound {
                binary: ETCD.into(),
                searched: vec!["PATH".into(), "/usr/bin".into()],
                hint: " (install it: apt-get install etcd-server)".into(),
            })
    }
}

/// The directories searched without an explicit bin dir: the running
/// program's directory, its parent when that is a cargo `deps/` directory,
/// then each `PATH` entry.
pub fn search_dirs(current_exe: Option<&Path>, path: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = current_exe.and_then(Path::parent) {
        dirs.push(dir.to_path_buf());
        if dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(parent) = dir.parent() {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(path));
    }
    dirs
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_to_the_program_first_then_path() {
        let dirs = search_dirs(
            Some(Path::new("/w/target/debug/tugctl")),
            Some(std::ffi::OsStr::new("/usr/local/bin:/usr/bin")),
        );
        assert_eq!(
            dirs,
            [
                PathBuf::from("/w/target/debug"),
                "/usr/local/bin".into(),
                "/usr/bin".into()
            ]
        );
        let dirs = search_dirs(Some(Path::new("/w/target/debug/deps/e2e-123")), None);
        assert_eq!(
            dirs,
            [
                PathBuf::from("/w/target/debug/deps"),
                "/w/target/debug".into()
            ]
        );
    }

    #[test]
    fn an_explicit_dir_is_the_only_place_looked_in() {
        let dir = tempfile::tempdir().unwrap();
        let locator = BinaryLocator::new(Some(dir.path()));
        let err = locator.find("tug-scheduler").unwrap_err().to_string();
        assert!(err.contains("cannot find tug-scheduler"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");

        let bin = dir.path().join("tug-scheduler");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        // Not executable yet: not a program.
        assert!(locator.find("tug-scheduler").is_err());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(locator.find("tug-scheduler").unwrap(), bin);
    }
}
