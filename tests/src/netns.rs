//! Running code inside another network namespace: a node's namespace of
//! a netns cluster, or a pod's (its kubelet's pin or `/proc/<pid>/ns/net`
//! of its pause process), so a test reaches addresses as that node or pod
//! would.
//!
//! Only the network namespace changes, and only on a thread of its own:
//! the test's other threads (tokio workers included) stay where they are.

use std::io;
use std::path::Path;

/// Run `f` on a fresh thread that has joined the network namespace at
/// `path` (`setns(CLONE_NEWNET)`, through [`tug_cluster::netns::in_netns`],
/// which the cluster launcher uses too) and return its result. Sockets
/// `f` opens live in that namespace; the calling thread is untouched.
///
/// Panics, naming `path`, when the namespace cannot be entered (needs
/// root) or `f` panics.
pub fn in_netns<T, F>(path: &Path, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    tug_cluster::netns::in_netns(path, f)
        .unwrap_or_else(|e| panic!("running in the network namespace {}: {e}", path.display()))
}

/// Where a runc kubelet with state directory `kubelet_root` (its
/// `--root-dir`) pins the network namespace of pod `pod_uid`: usable with
/// [`in_netns`] while the pod's sandbox exists.
pub fn pod_netns(kubelet_root: &Path, pod_uid: &str) -> std::path::PathBuf {
    kubelet_root.join("pods").join(pod_uid).join("netns")
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
        if !crate::prereq::is_root() {
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
    #[should_panic(expected = "/nonexistent/netns")]
    fn a_missing_namespace_panics_naming_it() {
        in_netns(Path::new("/nonexistent/netns"), || ());
    }
}
