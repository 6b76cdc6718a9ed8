//! Turning `-f` arguments into the list of streams to read, as kubectl
//! walks them: a file named on the command line is read whatever its name;
//! in a directory only `.json`, `.yaml` and `.yml` files count, in name
//! order, and sub-directories only with `-R`.

use std::fs;
use std::path::{Path, PathBuf};

use super::decode::Format;
use super::{ManifestError, Source};

/// The sources `args` name, in command-line order (a directory expands in
/// place), and the arguments that name nothing readable.
pub(super) fn expand<S: AsRef<str>>(
    args: &[S],
    recursive: bool,
) -> (Vec<Source>, Vec<ManifestError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            sources.push(Source::Stdin);
        } else if arg.starts_with("http://") || arg.starts_with("https://") {
            errors.push(ManifestError::Url(arg.to_string()));
        } else {
            let path = PathBuf::from(arg);
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => walk(&path, recursive, &mut sources, &mut errors),
                Ok(_) => sources.push(Source::File(path)),
                Err(_) => errors.push(ManifestError::NotFound(path)),
            }
        }
    }
    (sources, errors)
}

/// Add the manifest files of `dir` in name order, descending into
/// sub-directories in place when `recursive`. Symbolic links to
/// directories are not followed, as `filepath.Walk` does not.
fn walk(dir: &Path, recursive: bool, sources: &mut Vec<Source>, errors: &mut Vec<ManifestError>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(ManifestError::Read {
                source_name: Source::File(dir.to_path_buf()),
                error,
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            if recursive {
                walk(&path, recursive, sources, errors);
            }
        } else if Format::from_extension(&path).is_some() && !path.is_dir() {
            // (`path.is_dir()` follows a symbolic link: a link to a
            // directory named `x.yaml` is skipped, not read.)
            sources.push(Source::File(path));
        }
    }
}
