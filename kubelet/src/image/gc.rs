//! Image garbage collection, as the kubelet's image GC manager does it:
//! when the store's filesystem is fuller than the high threshold, remove
//! images no container uses, least recently used first, until usage would
//! be below the low threshold; then remove the blobs and unpacked layers
//! no image references any more.

use std::collections::{BTreeSet, HashSet};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::blobs::digest_hex;
use super::reference::Reference;
use super::state::ImageRecord;
use super::store::now_unix;
use super::ImageStore;

/// Images used more recently than this are kept (Kubernetes'
/// `ImageMinimumGCAge`), and blobs or layers written more recently are not
/// swept (another process may be about to record them).
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(120);

/// Capacity and available bytes of the filesystem holding `path`.
pub fn fs_usage(path: &Path) -> io::Result<(u64, u64)> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: statvfs is plain old data; zeroed is a valid value to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = st.f_frsize as u64;
    Ok((st.f_blocks as u64 * frsize, st.f_bavail as u64 * frsize))
}

/// Bytes to free to get from `used` of `capacity` down to `low_percent`,
/// or 0 when usage is below `high_percent`.
pub fn bytes_to_free(capacity: u64, used: u64, high_percent: u8, low_percent: u8) -> u64 {
    if capacity == 0 || used * 100 < capacity * u64::from(high_percent) {
        return 0;
    }
    used.saturating_sub(capacity * u64::from(low_percent) / 100)
}

/// Whether `image` is named by any entry of `in_use` (references, in any
/// spelling that normalises to one of its names, or image ids).
fn used(image: &ImageRecord, names: &[String], in_use: &HashSet<String>) -> bool {
    in_use.iter().any(|u| {
        let normalised = Reference::parse(u).map(|r| r.to_string()).ok();
        *u == image.digest || names.contains(u) || normalised.is_some_and(|n| names.contains(&n))
    })
}

impl ImageStore {
    /// [`ImageStore::garbage_collect`] with an explicit minimum age.
    pub async fn garbage_collect_with(
        &self,
        in_use: &HashSet<String>,
        high_percent: u8,
        low_percent: u8,
        min_age: Duration,
    ) -> anyhow::Result<Vec<String>> {
        let _exclusive = self.gc_lock.write().await;
        let (capacity, available) = fs_usage(self.root())?;
        let mut to_free = bytes_to_free(
            capacity,
            capacity.saturating_sub(available),
            high_percent,
            low_percent,
        );
        if to_free == 0 {
            return Ok(Vec::new());
        }
        let cutoff = now_unix() - min_age.as_secs() as i64;
        let mut candidates: Vec<(i64, String, Vec<String>)> = self.index.read(|s| {
            s.images
                .values()
                .filter_map(|img| {
                    let names = s.names(img);
                    (img.last_used <= cutoff && !used(img, &names, in_use))
                        .then(|| (img.last_used, img.digest.clone(), names))
                })
                .collect()
        });
        candidates.sort();
        let mut removed = Vec::new();
        for (_, digest, names) in candidates {
            if to_free == 0 {
                break;
            }
            let tags = self.index.modify(|s| s.remove(&digest))?;
            tracing::info!(image = %digest, names = ?names, "image garbage-collected");
            removed.extend(if tags.is_empty() { names } else { tags });
            let freed = self.sweep(min_age)?;
            to_free = to_free.saturating_sub(freed);
        }
        Ok(removed)
    }

    /// Remove blobs and layer directories no image references (and older
    /// than `min_age`); returns the bytes freed.
    pub(super) fn sweep(&self, min_age: Duration) -> anyhow::Result<u64> {
        let live: BTreeSet<String> = self.index.read(|s| s.live_blobs());
        let live_hex: BTreeSet<&str> = live.iter().map(|d| digest_hex(d)).collect();
        let young = |m: &fs::Metadata| {
            m.modified()
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_none_or(|age| age < min_age)
        };
        let mut freed = 0;
        for digest in self.blobs.list()? {
            if live.contains(&digest) {
                continue;
            }
            let path = self.blobs.path(&digest);
            match fs::metadata(&path) {
                Ok(m) if !young(&m) => {
                    freed += m.blocks() * 512;
                    self.blobs.remove(&digest)?;
                }
                _ => {}
            }
        }
        for entry in fs::read_dir(&self.layers_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if live_hex.contains(name.as_str()) {
                continue;
            }
            let m = entry.metadata()?;
            if young(&m) {
                continue;
            }
            freed += disk_usage(&entry.path());
            fs::remove_dir_all(entry.path())?;
        }
        Ok(freed)
    }
}

/// Bytes a tree takes on disk (symlinks not followed).
fn disk_usage(path: &Path) -> u64 {
    let Ok(m) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = m.blocks() * 512;
    if m.is_dir() {
        if let Ok(entries) = fs::read_dir(path) {
            for e in entries.flatten() {
                total += disk_usage(&e.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_freed_below_the_high_threshold() {
        assert_eq!(bytes_to_free(1000, 840, 85, 80), 0);
        assert_eq!(bytes_to_free(1000, 850, 85, 80), 50);
        assert_eq!(bytes_to_free(1000, 900, 85, 80), 100);
        assert_eq!(bytes_to_free(0, 0, 85, 80), 0);
        assert_eq!(
            bytes_to_free(1000, 10, 0, 0),
            10,
            "0% frees everything unused"
        );
    }

    #[test]
    fn in_use_matches_any_spelling_of_a_name() {
        let img = ImageRecord {
            digest: "sha256:a".into(),
            ..Default::default()
        };
        let names = vec![
            "docker.io/library/busybox:1".to_string(),
            "docker.io/library/busybox@sha256:a".to_string(),
        ];
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        assert!(used(&img, &names, &set(&["busybox:1"])));
        assert!(used(
            &img,
            &names,
            &set(&["docker.io/library/busybox@sha256:a"])
        ));
        assert!(used(&img, &names, &set(&["sha256:a"])));
        assert!(!used(&img, &names, &set(&["busybox:2", "other"])));
    }

    #[test]
    fn the_filesystem_usage_is_read() {
        let (cap, avail) = fs_usage(Path::new("/")).unwrap();
        assert!(cap > 0 && avail <= cap);
    }
}
