//! What a cluster can leave behind on the machine, captured before it
//! starts and after it is torn down, to show that `down` left the machine
//! as it was: network namespaces, links, routes, nftables tables, mounts,
//! processes and cgroup directories.
//!
//! Other programs (other tests running side by side) change the machine
//! too, so [`HostState::new_since`] lists everything that appeared, and
//! [`Leftovers::mentioning`] keeps what names one of the cluster's own
//! markers (its state directory, namespaces, addresses, pod UIDs, ...).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use tug_cluster::Cluster;

/// One capture of the machine's state.
#[derive(Clone, Debug, Default)]
pub struct HostState {
    /// `ip netns list` names.
    pub netns: BTreeSet<String>,
    /// `ip -o link show` lines, without the changing counters.
    pub links: BTreeSet<String>,
    /// `ip route show table all` lines.
    pub routes: BTreeSet<String>,
    /// `nft list tables` lines (`table ip tugboat`).
    pub nft_tables: BTreeSet<String>,
    /// `/proc/mounts` lines.
    pub mounts: BTreeSet<String>,
    /// Every process: PID → command line and cgroups (one string).
    pub processes: BTreeMap<u32, String>,
    /// Every cgroup directory under `/sys/fs/cgroup`.
    pub cgroups: BTreeSet<String>,
}

/// What appeared between two captures, one line per item and category.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers(pub Vec<(&'static str, String)>);

impl HostState {
    /// Capture the machine now.
    pub fn capture() -> HostState {
        HostState {
            netns: command_lines("ip", &["netns", "list"])
                .into_iter()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect(),
            links: command_lines("ip", &["-o", "link", "show"])
                .into_iter()
                .map(|l| link_identity(&l))
                .collect(),
            routes: command_lines("ip", &["route", "show", "table", "all"])
                .into_iter()
                .collect(),
            nft_tables: command_lines("nft", &["list", "tables"])
                .into_iter()
                .collect(),
            mounts: std::fs::read_to_string("/proc/mounts")
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            processes: processes(),
            cgroups: cgroup_dirs(Path::new("/sys/fs/cgroup")),
        }
    }

    /// Everything in `self` that `before` did not have (processes by PID
    /// and command line, so a reused PID still counts as new).
    pub fn new_since(&self, before: &HostState) -> Leftovers {
        let mut out = Vec::new();
        let sets: [(&'static str, &BTreeSet<String>, &BTreeSet<String>); 6] = [
            ("netns", &self.netns, &before.netns),
            ("link", &self.links, &before.links),
            ("route", &self.routes, &before.routes),
            ("nft table", &self.nft_tables, &before.nft_tables),
            ("mount", &self.mounts, &before.mounts),
            ("cgroup", &self.cgroups, &before.cgroups),
        ];
        for (kind, now, then) in sets {
            out.extend(now.difference(then).map(|s| (kind, s.clone())));
        }
        for (pid, desc) in &self.processes {
            if before.processes.get(pid) != Some(desc) {
                out.push(("process", format!("{pid} {desc}")));
            }
        }
        Leftovers(out)
    }
}

impl Leftovers {
    /// The items that contain any of `markers` (empty markers ignored).
    pub fn mentioning<S: AsRef<str>>(&self, markers: &[S]) -> Leftovers {
        Leftovers(
            self.0
                .iter()
                .filter(|(_, item)| {
                    markers
                        .iter()
                        .map(AsRef::as_ref)
                        .any(|m| !m.is_empty() && item.contains(m))
                })
                .cloned()
                .collect(),
        )
    }

    /// Whether nothing appeared.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Leftovers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (kind, item) in &self.0 {
            writeln!(f, "  {kind}: {item}")?;
        }
        Ok(())
    }
}

/// What names `cluster`'s things on the machine, for
/// [`Leftovers::mentioning`]: its state directory and, with netns nodes,
/// its bridge, cgroup root (`/tugboat-<name>-<hash>`) and each node's
/// namespace, veth and address (with what follows an address in `ip`
/// output, so 10.250.3.2 does not also claim 10.250.3.20).
pub fn cluster_markers(cluster: &Cluster) -> BTreeSet<String> {
    let mut markers = BTreeSet::from([cluster.state_dir().display().to_string()]);
    if let Some(network) = &cluster.state().network {
        markers.insert(network.lan.bridge().to_string());
        markers.insert(network.cgroup_root.clone());
        for ns in &network.nodes {
            markers.insert(ns.name.clone());
            markers.insert(ns.host_link.clone());
            markers.insert(format!("{} ", ns.ip));
            markers.insert(format!("{}/", ns.ip));
        }
    }
    markers
}

/// The stdout lines of `program args` (none if it cannot run).
fn command_lines(program: &str, args: &[&str]) -> Vec<String> {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// An `ip -o link` line without its index and state, which change while
/// a link lives (`tugbr0 master ... ` stays): name, peer, master.
pub fn link_identity(line: &str) -> String {
    let mut parts = line.split_whitespace();
    let _index = parts.next();
    let name = parts.next().unwrap_or_default().trim_end_matches(':');
    let words: Vec<&str> = line.split_whitespace().collect();
    let master = words
        .windows(2)
        .find(|w| w[0] == "master")
        .map(|w| format!(" master {}", w[1]))
        .unwrap_or_default();
    format!("{name}{master}")
}

/// Every live user process's (no zombie, no kernel thread) command line (NULs as spaces) and
/// its cgroup lines.
fn processes() -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // A zombie holds nothing but its PID (and on this machine PID 1
        // may never reap it): not something a cluster left running.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline: String = String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .trim()
            .to_string();
        if cmdline.is_empty() {
            // A kernel thread (or a process exiting right now).
            continue;
        }
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let cgroups: Vec<&str> = cgroups.lines().collect();
        out.insert(pid, format!("{cmdline} [cgroups {}]", cgroups.join(" ")));
    }
    out
}

/// Every directory under `root` (the cgroup hierarchies), recursively.
fn cgroup_dirs(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            // Not following symlinks (cpu,cpuacct → cpu) keeps each once.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.insert(e.path().display().to_string());
                stack.push(e.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_known_by_name_and_master_not_by_state() {
        let up = "7: veth1a2b@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master tugbr0 state UP mode DEFAULT group default qlen 1000\\    link/ether 4a:...";
        let down = "9: veth1a2b@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop master tugbr0 state DOWN mode DEFAULT";
        assert_eq!(link_identity(up), "veth1a2b@if2 master tugbr0");
        assert_eq!(link_identity(up), link_identity(down));
        assert_eq!(
            link_identity("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN"),
            "lo"
        );
    }

    #[test]
    fn new_items_are_listed_and_filtered_by_marker() {
        let before = HostState {
            netns: ["other".to_string()].into(),
            processes: [(1, "init".to_string())].into(),
            ..Default::default()
        };
        let mut after = before.clone();
        after.netns.insert("tug-e2e7-node-0".into());
        after.netns.insert("someone-elses".into());
        after
            .mounts
            .insert("nsfs /run/netns/tug-e2e7-node-0 nsfs rw 0 0".into());
        after.processes.insert(
            42,
            "/tmp/e2e7/bin/tug-kubelet --root-dir /tmp/e2e7/nodes/node-0".into(),
        );
        let new = after.new_since(&before);
        assert_eq!(new.0.len(), 4, "{new}");
        let ours = new.mentioning(&["tug-e2e7", "/tmp/e2e7", ""]);
        assert_eq!(
            ours.0.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["netns", "mount", "process"]
        );
        assert!(after.new_since(&after).is_empty());
    }

    #[test]
    fn captures_this_machine() {
        let now = HostState::capture();
        let me = std::process::id();
        assert!(now.processes.contains_key(&me), "this test's own process");
        assert!(
            now.mounts.iter().any(|m| m.contains(" / ")),
            "the root mount"
        );
    }
}
