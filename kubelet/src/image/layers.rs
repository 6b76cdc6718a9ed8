//! Unpacking a layer blob (gzip or plain tar) once into its own directory,
//! turning OCI whiteouts into overlayfs ones so the directory can serve as
//! an overlayfs lower layer as is:
//! - `.wh.<name>` becomes a character device 0:0 named `<name>`;
//! - `.wh..wh..opq` becomes the xattr `trusted.overlay.opaque=y` on its dir.
//!
//! The layer is unpacked into a temporary directory that is renamed into
//! place at the end, so a crash or a concurrent unpack never leaves half a
//! layer where the store looks.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use super::blobs::HashingReader;

/// The OCI whiteout prefix.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The OCI opaque-directory marker.
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The overlayfs xattr that makes a directory opaque.
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Unpack `blob` into `dest` unless `dest` already exists. `diff_id`, when
/// known, is checked against the sha256 of the uncompressed tar. `scratch`
/// is a directory on the same filesystem as `dest` for the temporary tree.
pub fn unpack_layer(
    blob: &Path,
    dest: &Path,
    diff_id: Option<&str>,
    scratch: &Path,
) -> anyhow::Result<()> {
    if dest.is_dir() {
        return Ok(());
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = scratch.join(format!("layer-{name}-{:016x}", rand::random::<u64>()));
    let guard = RemoveOnDrop(tmp.clone());
    fs::create_dir_all(&tmp)?;
    let actual = unpack_tar(open_maybe_gzip(blob)?, &tmp)?;
    if let Some(expected) = diff_id {
        if actual != expected {
            anyhow::bail!(
                "layer {}: uncompressed digest {actual} does not match the config's diff_id {expected}",
                blob.display()
            );
        }
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::rename(&tmp, dest) {
        Ok(()) => {
            std::mem::forget(guard);
            Ok(())
        }
        // Someone else unpacked the same layer first: theirs is as good.
        Err(_) if dest.is_dir() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A reader over the blob, gunzipping when it starts with gzip's magic.
pub(super) fn open_maybe_gzip(blob: &Path) -> io::Result<Box<dyn Read>> {
    let mut file = BufReader::new(File::open(blob)?);
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let whole = head.chain(file);
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(GzDecoder::new(whole))
    } else {
        Box::new(whole)
    })
}

/// Unpack a tar stream into `root`; returns the sha256 of the tar.
fn unpack_tar(reader: Box<dyn Read>, root: &Path) -> anyhow::Result<String> {
    let mut archive = tar::Archive::new(HashingReader::new(reader));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(rel) = clean_relative(&path) else {
            anyhow::bail!("layer entry {} escapes the layer", path.display());
        };
        let Some(file_name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue; // the root itself
        };
        if file_name == OPAQUE_MARKER {
            let dir = inside(root, rel.parent().unwrap_or(Path::new("")))?;
            fs::create_dir_all(&dir)?;
            set_xattr(&dir, OPAQUE_XATTR, b"y")?;
        } else if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            let parent = rel.parent().unwrap_or(Path::new(""));
            let target = inside(root, &parent.join(hidden))?;
            remove_any(&target)?;
            mknod(&target, libc::S_IFCHR, 0, 0)?;
        } else {
            let kind = entry.header().entry_type();
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                // tar-rs would write these as regular files.
                let target = inside(root, &rel)?;
                remove_any(&target)?;
                let header = entry.header();
                let file_type = if kind.is_character_special() {
                    libc::S_IFCHR
                } else if kind.is_block_special() {
                    libc::S_IFBLK
                } else {
                    libc::S_IFIFO
                };
                let major = header.device_major()?.unwrap_or(0);
                let minor = header.device_minor()?.unwrap_or(0);
                mknod(&target, file_type | (header.mode()? & 0o7777), major, minor)?;
                chown(&target, header.uid()? as u32, header.gid()? as u32)?;
            } else {
                entry.unpack_in(root)?;
            }
        }
    }
    Ok(archive.into_inner().finish()?)
}

/// `path` without `/`, `.` components; `None` if it climbs with `..`.
fn clean_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(out)
}

/// `root/rel`, with its parent created, refusing a parent that a symlink
/// in the layer leads out of `root`.
fn inside(root: &Path, rel: &Path) -> anyhow::Result<PathBuf> {
    let target = root.join(rel);
    let parent = target.parent().unwrap_or(root);
    fs::create_dir_all(parent)?;
    let canon_root = fs::canonicalize(root)?;
    let canon_parent = fs::canonicalize(parent)?;
    if !canon_parent.starts_with(&canon_root) {
        anyhow::bail!(
            "layer entry {} escapes the layer through a symlink",
            rel.display()
        );
    }
    Ok(canon_parent.join(target.file_name().unwrap_or_default()))
}

/// Remove whatever is at `path` (file, link, tree); absent is fine.
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

fn mknod(path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("mknod {}: {e}", path.display()),
        ));
    }
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cpath(path)?;
    let n = CString::new(name).expect("static xattr name");
    // SAFETY: both strings are NUL-terminated and `value` outlives the call.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("setxattr {name} on {}: {e}", path.display()),
        ));
    }
    Ok(())
}

/// Read an xattr (tests and callers checking a layer).
pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c = cpath(path).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: buffer pointer and length describe `buf`; strings are NUL-terminated.
    let rc = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return None;
    }
    buf.truncate(rc as usize);
    Some(buf)
}

/// Removes a directory tree when dropped (a failed unpack's or import's
/// leftovers).
pub(super) struct RemoveOnDrop(pub(super) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn header() -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    }

    /// A gzip layer with the given entries (a `None` body is a directory).
    fn layer(entries: &[(&str, Option<&[u8]>)], links: &[(&str, &str, bool)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, body) in entries {
            let mut h = header();
            match body {
                Some(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    h.set_mode(0o640);
                    h.set_uid(65534);
                    h.set_gid(65534);
                    b.append_data(&mut h, path, *data).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, path, io::empty()).unwrap();
                }
            }
        }
        for (path, target, hard) in links {
            let mut h = header();
            h.set_entry_type(if *hard {
                tar::EntryType::Link
            } else {
                tar::EntryType::Symlink
            });
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, path, target).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    fn unpack(bytes: &[u8], diff_id: Option<&str>) -> (tempfile::TempDir, anyhow::Result<()>) {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("blob");
        fs::write(&blob, bytes).unwrap();
        let r = unpack_layer(&blob, &dir.path().join("layers/L"), diff_id, dir.path());
        (dir, r)
    }

    #[test]
    fn files_modes_symlinks_and_hardlinks_are_kept() {
        let bytes = layer(
            &[
                ("etc/", None),
                ("etc/passwd", Some(b"root:x:0:0::/:/bin/sh\n")),
            ],
            &[
                ("etc/pw", "passwd", false),
                ("etc/hard", "etc/passwd", true),
            ],
        );
        let (dir, r) = unpack(&bytes, None);
        r.unwrap();
        let l = dir.path().join("layers/L");
        let m = fs::metadata(l.join("etc/passwd")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        if is_root() {
            assert_eq!((m.uid(), m.gid()), (65534, 65534), "ownership kept");
        }
        assert_eq!(
            fs::read_link(l.join("etc/pw")).unwrap(),
            Path::new("passwd")
        );
        assert_eq!(fs::metadata(l.join("etc/hard")).unwrap().ino(), m.ino());
        // Only the layer itself is left: no temporary directory.
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn whiteouts_become_overlayfs_whiteouts() {
        if !is_root() {
            eprintln!("SKIP: whiteouts need root (mknod, trusted.* xattrs)");
            return;
        }
        let bytes = layer(
            &[
                ("a/", None),
                ("a/.wh.gone", Some(b"")),
                ("b/", None),
                ("b/.wh..wh..opq", Some(b"")),
                ("b/new", Some(b"n")),
            ],
            &[],
        );
        let (dir, r) = unpack(&bytes, None);
        r.unwrap();
        let l = dir.path().join("layers/L");
        let wh = fs::symlink_metadata(l.join("a/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0, "a whiteout is device 0:0");
        assert!(!l.join("a/.wh.gone").exists());
        assert!(!l.join("b/.wh..wh..opq").exists());
        assert_eq!(
            get_xattr(&l.join("b"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(fs::read(l.join("b/new")).unwrap(), b"n");
    }

    #[test]
    fn a_wrong_diff_id_fails_and_leaves_nothing() {
        let bytes = layer(&[("f", Some(b"x"))], &[]);
        let wrong = format!("sha256:{}", "0".repeat(64));
        let (dir, r) = unpack(&bytes, Some(&wrong));
        let e = r.unwrap_err().to_string();
        assert!(e.contains("diff_id"), "{e}");
        assert!(!dir.path().join("layers/L").exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the blob"
        );
    }

    #[test]
    fn plain_tar_layers_are_read_and_diff_id_checked() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "hi", &b"hi"[..]).unwrap();
        let tar_bytes = b.into_inner().unwrap();
        let diff_id = super::super::blobs::sha256_digest(&tar_bytes);
        let (dir, r) = unpack(&tar_bytes, Some(&diff_id));
        r.unwrap();
        assert_eq!(fs::read(dir.path().join("layers/L/hi")).unwrap(), b"hi");
    }

    #[test]
    fn escaping_entries_are_refused() {
        assert!(clean_relative(Path::new("../x")).is_none());
        assert_eq!(
            clean_relative(Path::new("/./a/b")).unwrap(),
            Path::new("a/b")
        );
    }
}
