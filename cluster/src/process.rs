//! Starting component processes and telling whether a recorded pid is
//! still the process the launcher started.
//!
//! Components run in their own process group, detached from the
//! terminal, so Ctrl-C in the shell that ran `tugctl cluster up` (or its
//! exit) leaves the cluster running; `down` stops it.
//!
//! A pid alone is not an identity: once the process has gone the kernel
//! may give the number to anything else, and a stale `cluster.json` must
//! never make `down` signal a stranger. So a process counts as ours only
//! if `/proc/<pid>` shows the program we started (`argv[0]`) *and* the
//! start time recorded when we started it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::{io, Result};

/// Environment variables no component inherits: `KUBECONFIG` would make
/// the components' `--kubeconfig` (which reads it) point at whatever the
/// user's shell or a test harness had, instead of the `--master` given;
/// a backtrace setting would bury a component's one-line fatal error
/// under frames, and that line is what a failed `up` quotes.
const SCRUBBED_ENV: &[&str] = &["KUBECONFIG", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE"];

/// A process to start.
#[derive(Debug)]
pub struct Launch<'a> {
    /// The program.
    pub binary: &'a Path,
    /// Its arguments.
    pub args: &'a [String],
    /// Extra environment.
    pub env: &'a [(String, String)],
    /// File receiving stdout and stderr.
    pub log: &'a Path,
    /// Start the log afresh (first start) or append (restart).
    pub truncate_log: bool,
    /// Run it in this network namespace (`/run/netns/<name>`) instead of
    /// the host's ([`crate::netns::enter_on_exec`]).
    pub netns: Option<&'a Path>,
}

/// A started process.
#[derive(Debug)]
pub struct Started {
    /// The handle (for waiting and reaping).
    pub child: Child,
    /// Its start time, in clock ticks since boot.
    pub start_ticks: Option<u64>,
    /// The log's length before this process wrote to it: its own lines
    /// begin here.
    pub log_offset: u64,
}

/// Start `launch` in its own process group (and network namespace, when
/// given), stdin from /dev/null, stdout and stderr to its log.
pub fn spawn(launch: &Launch<'_>) -> Result<Started> {
    if let Some(dir) = launch.log.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut options = OpenOptions::new();
    options.create(true);
    if launch.truncate_log {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    let log = options
        .open(launch.log)
        .map_err(io(format!("opening {}", launch.log.display())))?;
    let log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut command = Command::new(launch.binary);
    command
        .args(launch.args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io("duplicating a log handle"))?)
        .stderr(log)
        .process_group(0);
    for key in SCRUBBED_ENV {
        command.env_remove(key);
    }
    for (key, value) in launch.env {
        command.env(key, value);
    }
    if let Some(netns) = launch.netns {
        crate::netns::enter_on_exec(&mut command, netns)?;
    }
    let mut child = command
        .spawn()
        .map_err(io(format!("starting {}", launch.binary.display())))?;
    settle(&mut child);
    let start_ticks = read_stat(child.id()).map(|s| s.start_ticks);
    Ok(Started {
        child,
        start_ticks,
        log_offset,
    })
}

/// Wait (briefly) until a new process's `/proc/<pid>/cmdline` shows its
/// program: for a moment after `exec` it is empty, and a check made then
/// would take our own process for a stranger.
fn settle(child: &mut Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let path = format!("/proc/{}/cmdline", child.id());
    while std::fs::read(&path).is_ok_and(|c| c.is_empty())
        && matches!(child.try_wait(), Ok(None))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Start time in clock ticks since boot.
    pub start_ticks: u64,
    /// CPU time used so far (user + system), in clock ticks.
    pub cpu_ticks: u64,
}

/// Parse `/proc/<pid>/stat`. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and
    // 15, starttime is field 22.
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        start_ticks: number(19)?,
        cpu_ticks: number(11)? + number(12)?,
    })
}

/// The stat of `pid`, if such a process exists.
pub fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether a NUL-separated `cmdline` starts with the program `binary`.
pub fn cmdline_runs(cmdline: &[u8], binary: &Path) -> bool {
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    !argv0.is_empty() && argv0 == binary.as_os_str().as_bytes()
}

/// Whether `pid` is, right now, a live (not zombie) process running
/// `binary` that started at `start_ticks` (when known).
pub fn is_ours(pid: u32, binary: &Path, start_ticks: Option<u64>) -> bool {
    if pid == 0 {
        return false;
    }
    let Some(stat) = read_stat(pid) else {
        return false;
    };
    if matches!(stat.state, 'Z' | 'X' | 'x') {
        return false;
    }
    if start_ticks.is_some_and(|t| t != stat.start_ticks) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| cmdline_runs(&c, binary))
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Send `signal` to `pid`; whether it was delivered. Callers check
/// [`is_ours`] first.
pub fn signal(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory effects; a bad pid only returns an error.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// The last `lines` lines of a log, from `offset` on (a restarted
/// component's own lines), for error messages.
pub fn log_tail(path: &Path, offset: u64, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return String::new();
    }
    let mut tail = std::collections::VecDeque::with_capacity(lines);
    for line in BufReader::new(file).lines().map_while(|l| l.ok()) {
        if tail.len() == lines {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    if tail.is_empty() {
        return "(the log is empty)".into();
    }
    Vec::from(tail).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn stat_is_read_past_a_command_name_with_parentheses() {
        let text = "4242 (tug (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 100";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                state: 'S',
                start_ticks: 987654,
                cpu_ticks: 3
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn cmdline_must_start_with_the_binary() {
        let bin = Path::new("/w/target/debug/tug-kubelet");
        assert!(cmdline_runs(
            b"/w/target/debug/tug-kubelet\0--node-name\0n\0",
            bin
        ));
        assert!(!cmdline_runs(
            b"/usr/bin/vim\0/w/target/debug/tug-kubelet\0",
            bin
        ));
        assert!(!cmdline_runs(b"", bin));
    }

    /// A recorded pid is ours only while the same program, started at the
    /// same moment, runs under it: a dead pid, another program under the
    /// pid, or a different start time are all "not ours".
    #[test]
    fn stale_pids_are_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let sleep = PathBuf::from("/bin/sleep");
        let args = vec!["30".to_string()];
        let mut started = spawn(&Launch {
            binary: &sleep,
            args: &args,
            env: &[],
            log: &log,
            truncate_log: true,
            netns: None,
        })
        .unwrap();
        let pid = started.child.id();
        assert!(is_ours(pid, &sleep, started.start_ticks));
        assert!(is_ours(pid, &sleep, None));
        assert!(!is_ours(pid, Path::new("/bin/true"), started.start_ticks));
        let other_start = started.start_ticks.map(|t| t + 1);
        assert!(!is_ours(pid, &sleep, other_start));
        // Our own process group, not the test's.
        let pgid = unsafe { libc::getpgid(pid as libc::pid_t) };
        assert_eq!(pgid, pid as libc::pid_t);

        assert!(signal(pid, libc::SIGKILL));
        // Killed but not yet reaped: a zombie is not running.
        let reaped = started.child.wait().unwrap();
        assert!(!reaped.success());
        assert!(!is_ours(pid, &sleep, started.start_ticks));
    }

    #[test]
    fn log_tail_keeps_the_last_lines_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "old 1\nold 2\nnew 1\nnew 2\nnew 3\n").unwrap();
        assert_eq!(log_tail(&path, 0, 2), "new 2\nnew 3");
        assert_eq!(log_tail(&path, 12, 10), "new 1\nnew 2\nnew 3");
        assert!(log_tail(&dir.path().join("none"), 0, 5).contains("no log"));
    }
}
