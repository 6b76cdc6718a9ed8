//! `tug-kubelet shim`: the per-container monitor.
//!
//! The runtime starts one shim per container instance, in its own
//! session, so it outlives a kubelet killed with `-9`. The shim makes
//! itself the child subreaper, creates the container with `runc create`
//! (stdin `/dev/null`, stdout/stderr pipes it reads), starts it, and
//! records the init's PID and start time in the bundle's `state.json`.
//! It tells the runtime `started <pid>` or `failed <message>` on its
//! stdout, then copies the container's output into the CRI log file
//! until the init exits; it records the exit code (128 + signal), the
//! end time and `OOMKilled` when the memory cgroup saw an OOM kill, then
//! `runc delete`s the container and exits. Synchronous: no async runtime.

use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::cgroup;
use super::log::{self, SharedLog, Stream};
use super::state::{write_json, InstanceState};

/// The arguments after `tug-kubelet shim`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShimArgs {
    /// Everything the shim is told, as the runtime defines it
    /// (`--runc R --root D --bundle B --id ID --log L --cgroup C`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// What the shim is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShimOptions {
    /// The `runc` binary.
    pub runc: PathBuf,
    /// `runc --root`.
    pub root: PathBuf,
    /// The bundle (holds `config.json`; gets `state.json`).
    pub bundle: PathBuf,
    /// The runc container id.
    pub id: String,
    /// The CRI log file.
    pub log: PathBuf,
    /// The container's cgroup path (for the OOM-kill count).
    pub cgroup: String,
}

impl ShimOptions {
    /// The arguments that say these options (after `shim`).
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--runc".into(),
            self.runc.display().to_string(),
            "--root".into(),
            self.root.display().to_string(),
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--id".into(),
            self.id.clone(),
            "--log".into(),
            self.log.display().to_string(),
            "--cgroup".into(),
            self.cgroup.clone(),
        ]
    }

    /// Parse what [`ShimOptions::to_args`] wrote.
    pub fn parse(args: &[String]) -> Result<ShimOptions, String> {
        let get = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .ok_or_else(|| format!("missing {flag}"))
        };
        Ok(ShimOptions {
            runc: get("--runc")?.into(),
            root: get("--root")?.into(),
            bundle: get("--bundle")?.into(),
            id: get("--id")?,
            log: get("--log")?.into(),
            cgroup: get("--cgroup")?,
        })
    }
}

/// Run the shim (never returns while the container runs).
pub fn main(args: ShimArgs) -> ExitCode {
    let opts = match ShimOptions::parse(&args.args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tug-kubelet shim: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tug-kubelet shim {}: {e}", opts.id);
            report(&format!("failed {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Tell the runtime how the start went, then let go of the pipe it
/// reads (stdout becomes `/dev/null`) so it sees the end of it.
fn report(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", line.replace('\n', " "));
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: both descriptors are open; dup2 replaces fd 1 atomically.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}

fn runc(o: &ShimOptions) -> Command {
    let mut c = Command::new(&o.runc);
    c.arg("--root").arg(&o.root);
    c
}

fn run(o: &ShimOptions) -> std::io::Result<()> {
    // Orphans of runc create (the container's init) become ours to wait.
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if let Some(dir) = o.log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&o.log)?;
    let log: SharedLog = Arc::new(Mutex::new(log_file));
    let state_path = o.bundle.join(InstanceState::FILE);
    let pid_file = o.bundle.join("init.pid");

    let mut create = runc(o)
        .arg("create")
        .arg("--bundle")
        .arg(&o.bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&o.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = create.stdout.take().expect("piped");
    let mut stderr = create.stderr.take().expect("piped");
    let created = create.wait()?;
    if !created.success() {
        // No init holds the pipes now: what is in them is runc's error.
        let mut msg = String::new();
        let _ = stderr.read_to_string(&mut msg);
        let _ = stdout.read_to_string(&mut msg);
        return start_failed(o, &state_path, runc_error(&msg));
    }
    let copiers = [
        copier(Box::new(stdout), Stream::Stdout, log.clone()),
        copier(Box::new(stderr), Stream::Stderr, log),
    ];
    let pid: i32 = std::fs::read_to_string(&pid_file)?
        .trim()
        .parse()
        .map_err(std::io::Error::other)?;
    let started = runc(o)
        .arg("start")
        .arg(&o.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !started.status.success() {
        let _ = runc(o).args(["delete", "--force", &o.id]).status();
        let _ = wait_for(pid);
        return start_failed(
            o,
            &state_path,
            runc_error(&String::from_utf8_lossy(&started.stderr)),
        );
    }
    let mut state = InstanceState {
        pid,
        started_at: Some(Utc::now()),
        ..InstanceState::default()
    };
    write_json(&state_path, &state)?;
    report(&format!("started {pid}"));

    let status = wait_for(pid);
    state.finished_at = Some(Utc::now());
    for c in copiers {
        let _ = c.join();
    }
    let oom = cgroup::oom_kills(&o.cgroup) > 0;
    let _ = runc(o)
        .args(["delete", "--force", &o.id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    state.exit_code = Some(status);
    state.reason = oom.then(|| "OOMKilled".to_string());
    write_json(&state_path, &state)
}

/// runc's error text: the `msg` of its JSON log lines, else the text.
fn runc_error(text: &str) -> String {
    let msgs: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_string))
        .collect();
    if msgs.is_empty() {
        text.trim().to_string()
    } else {
        msgs.join("; ")
    }
}

/// Record a container that never ran: exit code 128, `StartError`.
fn start_failed(
    o: &ShimOptions,
    state_path: &std::path::Path,
    message: String,
) -> std::io::Result<()> {
    let now = Utc::now();
    let state = InstanceState {
        pid: 0,
        started_at: Some(now),
        finished_at: Some(now),
        exit_code: Some(128),
        reason: Some("StartError".into()),
        message: Some(message.clone()),
    };
    let _ = runc(o)
        .args(["delete", "--force", &o.id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    write_json(state_path, &state)?;
    report(&format!("failed {message}"));
    Ok(())
}

fn copier(
    input: Box<dyn Read + Send>,
    stream: Stream,
    log: SharedLog,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let reader = BufReader::with_capacity(64 * 1024, input);
        if let Err(e) = log::copy_lines(reader, stream, Utc::now, |r| log::append(&log, r)) {
            eprintln!("tug-kubelet shim: copying {stream:?}: {e}");
        }
    })
}

/// Wait for `pid` (reaping any other orphan handed to us meanwhile); its
/// exit code, 128 + signal for a signal.
fn wait_for(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a valid int.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // Not our child any more (ECHILD): nothing to learn.
            return 255;
        }
        if got == pid {
            return exit_code(status);
        }
    }
}

/// The exit code Kubernetes reports for a wait status.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_through_arguments() {
        let o = ShimOptions {
            runc: "/usr/bin/runc".into(),
            root: "/var/lib/tug/runc".into(),
            bundle: "/var/lib/tug/pods/u/containers/c/0".into(),
            id: "u-c-0".into(),
            log: "/var/lib/tug/logs/ns_p_u/c/0.log".into(),
            cgroup: "/tugboat/n/podu/u-c-0".into(),
        };
        assert_eq!(ShimOptions::parse(&o.to_args()).unwrap(), o);
        assert!(ShimOptions::parse(&["--runc".into()]).is_err());
    }

    #[test]
    fn signals_become_128_plus_the_signal() {
        // Wait statuses as the kernel encodes them.
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(libc::SIGTERM), 143);
    }

    #[test]
    fn runc_json_errors_are_reduced_to_their_message() {
        let text = r#"{"level":"error","msg":"exec: \"nope\": executable file not found in $PATH","time":"x"}"#;
        assert_eq!(
            runc_error(text),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(runc_error("  plain error\n"), "plain error");
    }
}
