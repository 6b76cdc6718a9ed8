//! The store's index, persisted as one JSON file written atomically
//! (temporary file, fsync, rename): which images it holds, which tags
//! point at them, and when each was last used.
//!
//! More than one process may open a store (the kubelet, and
//! `tug-kubelet image import` beside it), so changes are made under an
//! `flock` on `index.lock` after re-reading the file, and readers reload
//! it when its mtime or size changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::ImageConfig;

/// One image: what a reference resolves to (an index or a manifest) and
/// the platform manifest's parts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The digest references resolve to (index or manifest): the repo digest.
    pub digest: String,
    /// The platform manifest (the same as `digest` without an index).
    pub manifest: String,
    /// The config blob.
    pub config_digest: String,
    /// Compressed layer digests, bottom first.
    pub layers: Vec<String>,
    /// The config the containers are built from.
    pub config: ImageConfig,
    /// Repositories (`registry/repository`) this image came from.
    pub repos: BTreeSet<String>,
    /// Compressed size of config and layers.
    pub size: i64,
    /// Unix seconds of the last `ensure` that returned it (GC order).
    pub last_used: i64,
}

impl ImageRecord {
    /// Every blob this image keeps alive.
    pub fn blobs(&self) -> impl Iterator<Item = &String> {
        [&self.digest, &self.manifest, &self.config_digest]
            .into_iter()
            .chain(self.layers.iter())
    }
}

/// The whole index.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Images by their top digest.
    pub images: BTreeMap<String, ImageRecord>,
    /// Tagged references (`registry/repo:tag`) → top digest.
    pub tags: BTreeMap<String, String>,
}

impl State {
    /// Read the index at `path`; a missing file is an empty store.
    pub fn load(path: &Path) -> anyhow::Result<State> {
        match fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Write the index to `path` atomically.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = tmp_path(path);
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    }

    /// Record `image` under `tag` (if any), merging with what is held.
    pub fn insert(&mut self, mut image: ImageRecord, repo: &str, tag: Option<String>) {
        if let Some(old) = self.images.get(&image.digest) {
            image.repos.extend(old.repos.iter().cloned());
        }
        image.repos.insert(repo.to_string());
        if let Some(tag) = tag {
            self.tags.insert(tag, image.digest.clone());
        }
        self.images.insert(image.digest.clone(), image);
    }

    /// Drop an image and every tag pointing at it; returns the tags.
    pub fn remove(&mut self, digest: &str) -> Vec<String> {
        self.images.remove(digest);
        let tags: Vec<String> = self
            .tags
            .iter()
            .filter(|(_, d)| d.as_str() == digest)
            .map(|(t, _)| t.clone())
            .collect();
        for t in &tags {
            self.tags.remove(t);
        }
        tags
    }

    /// The names of an image: its tags and `repo@digest` for each repo.
    pub fn names(&self, image: &ImageRecord) -> Vec<String> {
        let mut names: Vec<String> = self
            .tags
            .iter()
            .filter(|(_, d)| **d == image.digest)
            .map(|(t, _)| t.clone())
            .collect();
        names.extend(image.repos.iter().map(|r| format!("{r}@{}", image.digest)));
        names
    }

    /// Every blob some image keeps alive.
    pub fn live_blobs(&self) -> BTreeSet<String> {
        self.images
            .values()
            .flat_map(|i| i.blobs().cloned())
            .collect()
    }
}

/// The index file of a store, cached in memory.
pub struct Index {
    path: PathBuf,
    lock_path: PathBuf,
    cached: Mutex<(State, Option<Stamp>)>,
}

/// What tells a changed index file apart: mtime and length.
type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Index {
    /// The index at `dir/index.json`.
    pub fn open(dir: &Path) -> anyhow::Result<Index> {
        let path = dir.join("index.json");
        let st = stamp(&path);
        let state = State::load(&path)?;
        Ok(Index {
            lock_path: dir.join("index.lock"),
            path,
            cached: Mutex::new((state, st)),
        })
    }

    /// Look at the current index.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let mut cached = self.cached.lock().expect("image index lock");
        let now = stamp(&self.path);
        if now != cached.1 {
            match State::load(&self.path) {
                Ok(s) => *cached = (s, now),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "reloading the image index"),
            }
        }
        f(&cached.0)
    }

    /// Change the index: under the file lock, on a fresh read, saved
    /// atomically afterwards.
    pub fn modify<R>(&self, f: impl FnOnce(&mut State) -> R) -> anyhow::Result<R> {
        let mut cached = self.cached.lock().expect("image index lock");
        let _flock = FileLock::acquire(&self.lock_path)?;
        let mut state = State::load(&self.path)?;
        let out = f(&mut state);
        state.save(&self.path)?;
        *cached = (state, stamp(&self.path));
        Ok(out)
    }
}

/// An exclusive `flock`, released on drop (and by the kernel if the
/// process dies).
struct FileLock(fs::File);

impl FileLock {
    fn acquire(path: &Path) -> io::Result<FileLock> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{:016x}", rand::random::<u64>()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(digest: &str) -> ImageRecord {
        ImageRecord {
            digest: digest.into(),
            manifest: digest.into(),
            config_digest: "sha256:c".into(),
            layers: vec!["sha256:l".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_index_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut s = State::default();
        s.insert(
            rec("sha256:a"),
            "localhost:5000/x",
            Some("localhost:5000/x:v1".into()),
        );
        s.save(&path).unwrap();
        let back = State::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            back.names(&back.images["sha256:a"]),
            ["localhost:5000/x:v1", "localhost:5000/x@sha256:a"]
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_second_handle_sees_the_first_ones_changes() {
        let dir = tempfile::tempdir().unwrap();
        let a = Index::open(dir.path()).unwrap();
        let b = Index::open(dir.path()).unwrap();
        assert!(b.read(|s| s.images.is_empty()));
        a.modify(|s| s.insert(rec("sha256:a"), "r/x", Some("r/x:1".into())))
            .unwrap();
        assert_eq!(
            b.read(|s| s.tags.get("r/x:1").cloned()).as_deref(),
            Some("sha256:a")
        );
        b.modify(|s| s.remove("sha256:a")).unwrap();
        assert!(a.read(|s| s.images.is_empty()));
    }

    #[test]
    fn removing_an_image_drops_its_tags_and_blobs() {
        let mut s = State::default();
        s.insert(rec("sha256:a"), "r/x", Some("r/x:1".into()));
        s.insert(rec("sha256:a"), "r/y", Some("r/y:1".into()));
        assert_eq!(s.images["sha256:a"].repos.len(), 2, "repos merge");
        assert_eq!(s.remove("sha256:a"), ["r/x:1", "r/y:1"]);
        assert!(s.live_blobs().is_empty());
    }
}
