//! Pinned network namespaces: a new namespace bind-mounted on a file, so
//! it outlives the processes in it and CNI can set it up before the
//! sandbox starts and tear it down after.
//!
//! This is what `ip netns add` does: the directory holding the pins is
//! made a shared mount (a bind mount of itself first if it is not a mount
//! point), so that unmounting a pin propagates to every mount namespace
//! that saw it (runc's containers copy the host's mounts) and the
//! namespace is really freed.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// Serialises the "make the pin directory a shared mount" dance, so two
/// concurrent creates do not stack two bind mounts on the directory.
static DIR_SETUP: Mutex<()> = Mutex::new(());

/// Create a new network namespace pinned at `path` (a file is created).
///
/// The namespace is made by a short-lived dedicated thread that
/// `unshare(CLONE_NEWNET)`s itself and bind-mounts its own namespace onto
/// `path`; the calling thread (possibly a tokio worker) never changes
/// namespace. Fails with `AlreadyExists` when `path` exists.
pub fn create(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "netns path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    make_shared_mount(dir)?;
    // The mount point: an empty file nobody may open for anything else.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(path)?;
    let target = cstring(path)?;
    let pinned = std::thread::Builder::new()
        .name("netns-create".into())
        .spawn(move || pin_new_netns(&target))
        .map_err(|e| io::Error::other(format!("spawning the netns thread: {e}")))?
        .join()
        .map_err(|_| io::Error::other("the netns thread panicked"))?;
    if let Err(e) = pinned {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Unmount and remove the namespace pinned at `path`; absent is fine.
///
/// The unmount is lazy (`MNT_DETACH`): processes still in the namespace
/// keep it alive, but the pin is gone at once.
pub fn remove(path: &Path) -> io::Result<()> {
    let target = cstring(path)?;
    // SAFETY: `target` is a valid NUL-terminated path.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
        let err = io::Error::last_os_error();
        // EINVAL: not a mount point (a create that failed half-way, or
        // already unmounted); ENOENT: no file at all.
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => {}
            _ => return Err(err),
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Undo what [`create`] did to the pin directory `dir` (its bind mount on
/// itself), for tests and a node's teardown. Pins inside should have been
/// [`remove`]d first; not a mount point is fine.
pub fn release_dir(dir: &Path) -> io::Result<()> {
    let target = cstring(dir)?;
    let _guard = DIR_SETUP.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `target` is a valid NUL-terminated path.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => {}
            _ => return Err(err),
        }
    }
    Ok(())
}

/// Whether `path` is a pinned network namespace (an nsfs mount).
pub fn is_pinned(path: &Path) -> bool {
    let Ok(target) = cstring(path) else {
        return false;
    };
    // SAFETY: an all-zero statfs is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `target` is NUL-terminated and `st` is writable.
    if unsafe { libc::statfs(target.as_ptr(), &mut st) } != 0 {
        return false;
    }
    st.f_type == NSFS_MAGIC
}

/// `NSFS_MAGIC` from `linux/magic.h`: the file system of `/proc/*/ns/*`.
const NSFS_MAGIC: libc::__fsword_t = 0x6e73_6673;

/// `mount --make-shared dir`, making `dir` a bind mount of itself first
/// when it is not a mount point (what iproute2 does for `/run/netns`).
fn make_shared_mount(dir: &Path) -> io::Result<()> {
    let target = cstring(dir)?;
    let none = c"none";
    let empty = c"";
    let _guard = DIR_SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let mut bound = false;
    loop {
        // SAFETY: all pointers are valid NUL-terminated strings or null.
        let rc = unsafe {
            libc::mount(
                empty.as_ptr(),
                target.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) || bound {
            return Err(io::Error::other(format!(
                "mount --make-shared {}: {err}",
                dir.display()
            )));
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::mount(
                target.as_ptr(),
                target.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::other(format!(
                "mount --bind {0} {0}: {err}",
                dir.display()
            )));
        }
        bound = true;
    }
}

/// Runs on a dedicated thread: move this thread into a new network
/// namespace and bind-mount it on `target`. The thread ends right after,
/// so no other work ever runs in the new namespace by accident.
fn pin_new_netns(target: &CString) -> io::Result<()> {
    // SAFETY: unshare only affects the calling thread here.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::other(format!("unshare(CLONE_NEWNET): {err}")));
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let source = CString::new(format!("/proc/self/task/{tid}/ns/net"))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let none = c"none";
    // SAFETY: all pointers are valid NUL-terminated strings or null.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            none.as_ptr(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::other(format!(
            "bind-mounting the new netns on {}: {err}",
            target.to_string_lossy()
        )));
    }
    Ok(())
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}
