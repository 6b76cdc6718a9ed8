//! Running code inside another network namespace: a node's namespace of
//! a netns cluster, or a pod's (its kubelet's pin or `/proc/<pid>/ns/net`
//! of its pause process), so a test reaches addresses as that node or pod
//! would.
//!
//! Only the network namespace changes, and only on a thread of its own:
//! the test's other threads (tokio workers included) stay where they are.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Run `f` on a fresh thread that has joined the network namespace at
/// `path` (`setns(CLONE_NEWNET)`) and return its result. Sockets `f`
/// opens live in that namespace; the calling thread is untouched.
///
/// Panics, naming `path`, when the namespace cannot be entered (needs
/// root), and re-raises a panic of `f`.
pub fn in_netns<T, F>(path: &Path, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    try_in_netns(path, f)
        .unwrap_or_else(|e| panic!("entering the network namespace {}: {e}", path.display()))
}

/// [`in_netns`] that reports a namespace it cannot enter as an error.
pub fn try_in_netns<T, F>(path: &Path, f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let ns = File::open(path)?;
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("in-netns".into())
            .spawn_scoped(s, move || {
                // SAFETY: `ns` is an open file descriptor for the whole
                // call; setns only affects this (dedicated) thread.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                drop(ns);
                Ok(f())
            })?;
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The inode of the network namespace at `path` (`/proc/<pid>/ns/net`, a
/// pin): two paths name the same namespace when their inodes match.
pub fn netns_inode(path: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_netns() -> u64 {
        netns_inode(Path::new("/proc/thread-self/ns/net")).unwrap()
    }

    #[test]
    fn runs_in_the_namespace_given_and_returns_the_result() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP: making and entering network namespaces needs root");
            return;
        }
        // A thread in a namespace of its own holds it while we enter it.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            // SAFETY: unshare affects only this thread.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            ready_tx
                .send(format!("/proc/self/task/{tid}/ns/net"))
                .unwrap();
            let _ = done_rx.recv();
        });
        let path = ready_rx.recv().unwrap();
        let theirs = netns_inode(Path::new(&path)).unwrap();
        let here = own_netns();
        assert_ne!(theirs, here);
        let (seen, answer) = in_netns(Path::new(&path), || (own_netns(), 40 + 2));
        assert_eq!(seen, theirs, "f ran in the namespace given");
        assert_eq!(answer, 42);
        assert_eq!(own_netns(), here, "the caller stayed where it was");
        done_tx.send(()).unwrap();
        holder.join().unwrap();
    }

    #[test]
    fn a_missing_namespace_is_an_error_not_a_run() {
        let mut ran = false;
        let err = try_in_netns(Path::new("/nonexistent/netns"), || ran = true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!ran);
    }
}
