//! Nodes as network namespaces on a host bridge, like VMs on a LAN.
//!
//! A [`Lan`] is a Linux bridge on the host (`tugc<hash>`) holding a free
//! /24 from `10.250.0.0/16`, the host's address on it being `.1`. Each
//! node is a [`NodeNamespace`]: a named network namespace
//! (`ip netns add tug-<hash>-<node>`, so `/run/netns/<name>` can be
//! entered with `setns`) with one end of a veth pair inside as `eth0`
//! (`.2`, `.3`, ...), `lo` up, a default route via the host and IP
//! forwarding on; the other end of the pair is enslaved to the bridge.
//!
//! Programs are put into a node with [`enter_on_exec`], which joins ONLY
//! the network namespace: the kubelet's overlay mounts must stay in the
//! host's mount namespace, where `down` can see and remove them (`ip netns
//! exec` would give the program a private mount namespace).
//!
//! Both types are plain records (serialised into `cluster.json`), so a
//! later process can remove them from the recorded names after a crash;
//! removal is idempotent. They have no `Drop`: whoever creates one calls
//! `remove`.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};

/// The range node LANs are taken from, one /24 each.
pub const LAN_RANGE: &str = "10.250.0.0/16";
/// The prefix length of a LAN chosen from [`LAN_RANGE`].
pub const LAN_PREFIX: u8 = 24;
/// Where iproute2 keeps named network namespaces.
pub const NETNS_DIR: &str = "/run/netns";
/// The lock serialising subnet choice between launchers on this host.
const LOCK_FILE: &str = "/run/tug-cluster-lan.lock";
/// The longest name Linux gives a network interface (IFNAMSIZ - 1).
pub const MAX_LINK_NAME: usize = 15;

/// A host bridge the nodes' namespaces are plugged into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lan {
    /// The short hash naming everything of this LAN.
    pub hash: String,
    /// The bridge's name.
    pub bridge: String,
    /// The LAN's subnet.
    pub subnet: Ipv4Net,
    /// The host's address on it (the nodes' gateway; the apiserver binds here).
    pub host_ip: Ipv4Addr,
    /// The host part the next node gets (2 for `.2`, ...).
    #[serde(default = "first_node_host")]
    pub next_host: u32,
}

fn first_node_host() -> u32 {
    2
}

/// A node's network namespace on a [`Lan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeNamespace {
    /// The node it belongs to.
    pub node: String,
    /// The namespace's name (`ip netns list`).
    pub name: String,
    /// The node's address on the LAN (its `eth0`).
    pub ip: Ipv4Addr,
    /// The host end of its veth pair, enslaved to the bridge.
    pub host_link: String,
}

impl Lan {
    /// Create a bridge named after `hint` (e.g. the state directory) with
    /// a free /24 of [`LAN_RANGE`] (chosen under a host-wide lock, so
    /// parallel launchers never pick the same), the host address `.1`.
    pub fn create(hint: &str) -> Result<Lan> {
        Lan::create_in(hint, None)
    }

    /// [`Lan::create`] on the given `subnet` instead of a free one.
    pub fn create_in(hint: &str, subnet: Option<Ipv4Net>) -> Result<Lan> {
        let hash = short_hash(hint);
        let bridge = bridge_name(&hash);
        let _lock = HostLock::acquire()?;
        if link_exists(&bridge) {
            return Err(Error::Network(format!(
                "bridge {bridge} already exists (a cluster from the same state directory \
                 runs, or one crashed: `tugctl cluster down` removes it)"
            )));
        }
        let subnet = match subnet {
            Some(s) => s.trunc(),
            None => choose_subnet(&used_networks()?).ok_or_else(|| {
                Error::Network(format!("no free /{LAN_PREFIX} left in {LAN_RANGE}"))
            })?,
        };
        let host_ip = host_address(subnet, 1)
            .ok_or_else(|| Error::Invalid(format!("subnet {subnet} has no host addresses")))?;
        let lan = Lan {
            hash,
            bridge,
            subnet,
            host_ip,
            next_host: first_node_host(),
        };
        let built = (|| {
            ip(&["link", "add", &lan.bridge, "type", "bridge"])?;
            let address = format!("{}/{}", lan.host_ip, subnet.prefix_len());
            ip(&["addr", "add", &address, "dev", &lan.bridge])?;
            ip(&["link", "set", &lan.bridge, "up"])
        })();
        if let Err(e) = built {
            let _ = lan.remove();
            return Err(e);
        }
        Ok(lan)
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The host's address on the LAN.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.host_ip
    }

    /// The LAN's subnet.
    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    /// The namespace name node `node` gets on this LAN.
    pub fn netns_name(&self, node: &str) -> String {
        format!("tug-{}-{node}", self.hash)
    }

    /// Plug a new namespace for `node` into the LAN with the next free
    /// address: `eth0` up with its address, `lo` up, a default route via
    /// the host, IP forwarding on.
    pub fn add_node(&mut self, node: &str) -> Result<NodeNamespace> {
        let ip = host_address(self.subnet, self.next_host)
            .ok_or_else(|| Error::Network(format!("LAN {} has no address left", self.subnet)))?;
        let name = self.netns_name(node);
        let namespace = NodeNamespace {
            node: node.to_string(),
            host_link: veth_name(&name),
            name,
            ip,
        };
        if namespace.path().exists() {
            return Err(Error::Network(format!(
                "network namespace {} already exists",
                namespace.name
            )));
        }
        self.next_host += 1;
        if let Err(e) = namespace.build(self) {
            let _ = namespace.remove();
            return Err(e);
        }
        Ok(namespace)
    }

    /// Delete the bridge. Nothing happens when it is already gone.
    pub fn remove(&self) -> Result<()> {
        if link_exists(&self.bridge) {
            ip(&["link", "delete", &self.bridge])?;
        }
        Ok(())
    }
}

impl NodeNamespace {
    /// `/run/netns/<name>`, for `setns` ([`enter_on_exec`]).
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// The node's address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The host end of its veth pair.
    pub fn host_link(&self) -> &str {
        &self.host_link
    }

    fn build(&self, lan: &Lan) -> Result<()> {
        let ns = self.name.as_str();
        ip(&["netns", "add", ns])?;
        ip(&[
            "link",
            "add",
            &self.host_link,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        ])?;
        ip(&["link", "set", &self.host_link, "master", &lan.bridge, "up"])?;
        let address = format!("{}/{}", self.ip, lan.subnet.prefix_len());
        ip(&["-n", ns, "addr", "add", &address, "dev", "eth0"])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        let gateway = lan.host_ip.to_string();
        ip(&["-n", ns, "route", "add", "default", "via", &gateway])?;
        // The node routes its pods' traffic, as a machine running pods does.
        in_netns(&self.path(), || {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        })?
        .map_err(io(format!("enabling IP forwarding in {ns}")))
    }

    /// Make sure the namespace exists, re-creating an empty one when it
    /// was deleted by hand: what runs inside (`tug-kubelet reset`) must
    /// never act on the host's network instead.
    pub fn ensure_exists(&self) -> Result<()> {
        if self.path().exists() {
            return Ok(());
        }
        ip(&["netns", "add", &self.name])
    }

    /// Take the node off the LAN: its link down on the host side, so
    /// nothing reaches it or leaves it (its processes keep running).
    pub fn cut_off(&self) -> Result<()> {
        ip(&["link", "set", &self.host_link, "down"])
    }

    /// Delete the namespace (which takes `eth0`, and with it the veth
    /// pair, its routes and its nftables tables along once no process is
    /// left in it) and the host end of the pair. Nothing happens for what
    /// is already gone.
    pub fn remove(&self) -> Result<()> {
        if link_exists(&self.host_link) {
            ip(&["link", "delete", &self.host_link])?;
        }
        if self.path().exists() {
            ip(&["netns", "delete", &self.name])?;
        }
        Ok(())
    }
}

/// Make `cmd` join the network namespace at `netns` (and only that one)
/// between fork and exec. The namespace file is opened now, in the
/// parent, so the child only calls `setns(2)`.
pub fn enter_on_exec(cmd: &mut Command, netns: &Path) -> Result<()> {
    let file = File::open(netns).map_err(io(format!("opening {}", netns.display())))?;
    // SAFETY: the closure only calls setns(2), which is async-signal-safe,
    // on a descriptor it owns (moved into the closure, alive until exec).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    Ok(())
}

/// Run `f` on a new thread that has joined the network namespace at
/// `netns` (files under `/proc/sys/net` opened there are that
/// namespace's).
pub fn in_netns<T: Send>(netns: &Path, f: impl FnOnce() -> T + Send) -> Result<T> {
    let file = File::open(netns).map_err(io(format!("opening {}", netns.display())))?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns(2) on a descriptor we own; it changes only
                // this thread, which ends when `f` returns.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io(format!("entering {}", netns.display()))(
                        std::io::Error::last_os_error(),
                    ));
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Network("a thread in a namespace panicked".into())))
    })
}

/// A short, stable hash of `text` (FNV-1a, 24 bits in hex): names
/// derived from a state directory fit interface names and never depend
/// on the directory's length.
pub fn short_hash(text: &str) -> String {
    format!("{:06x}", fnv1a(text) & 0xff_ffff)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The bridge of the LAN with hash `hash`: `tugc<hash>`.
pub fn bridge_name(hash: &str) -> String {
    format!("tugc{hash}")
}

/// The host end of namespace `netns`'s veth pair: `tv` and a hash of the
/// namespace's name, within [`MAX_LINK_NAME`].
pub fn veth_name(netns: &str) -> String {
    format!("tv{:08x}", fnv1a(netns) & 0xffff_ffff)
}

/// The `n`th address of `subnet` (1 = the first host address), if it is
/// a host address (not the network or broadcast one).
pub fn host_address(subnet: Ipv4Net, n: u32) -> Option<Ipv4Addr> {
    let base = u32::from(subnet.network());
    let ip = Ipv4Addr::from(base.checked_add(n)?);
    (n > 0 && subnet.contains(&ip) && ip != subnet.broadcast()).then_some(ip)
}

/// The first /24 of [`LAN_RANGE`] that overlaps none of `used` (the
/// host's addresses and routes).
pub fn choose_subnet(used: &[Ipv4Net]) -> Option<Ipv4Net> {
    let range: Ipv4Net = LAN_RANGE.parse().expect("a valid range");
    range
        .subnets(LAN_PREFIX)
        .ok()?
        .find(|candidate| !used.iter().any(|u| overlaps(*candidate, *u)))
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The networks of the host's IPv4 addresses and the destinations of its
/// routes (in every table), except default routes.
fn used_networks() -> Result<Vec<Ipv4Net>> {
    let addrs = ip_json(&["-4", "addr", "show"])?;
    let routes = ip_json(&["-4", "route", "show", "table", "all"])?;
    Ok(parse_used(&addrs, &routes))
}

/// [`used_networks`] from `ip -j -4 addr show` and `ip -j -4 route show
/// table all`.
pub fn parse_used(addrs: &serde_json::Value, routes: &serde_json::Value) -> Vec<Ipv4Net> {
    let mut used = Vec::new();
    for link in addrs.as_array().into_iter().flatten() {
        for info in link["addr_info"].as_array().into_iter().flatten() {
            let local = info["local"].as_str().and_then(|s| s.parse().ok());
            let prefix = info["prefixlen"]
                .as_u64()
                .and_then(|p| u8::try_from(p).ok());
            if let (Some(local), Some(prefix)) = (local, prefix) {
                if let Ok(net) = Ipv4Net::new(local, prefix) {
                    used.push(net.trunc());
                }
            }
        }
    }
    for route in routes.as_array().into_iter().flatten() {
        let Some(dst) = route["dst"].as_str() else {
            continue;
        };
        let net = dst
            .parse::<Ipv4Net>()
            .ok()
            .or_else(|| dst.parse::<Ipv4Addr>().ok().map(Ipv4Net::from));
        // A default route covers everything: it says nothing is taken.
        if let Some(net) = net.filter(|n| n.prefix_len() > 0) {
            used.push(net);
        }
    }
    used
}

/// Whether network interface `name` exists in this (the host's) namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Run `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    run_ip(args).map(drop)
}

fn ip_json(args: &[&str]) -> Result<serde_json::Value> {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let out = run_ip(&all)?;
    serde_json::from_str(&out).map_err(|e| Error::Network(format!("`ip {}`: {e}", all.join(" "))))
}

fn run_ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(io("running ip (install iproute2)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Network(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// An exclusive `flock` on [`LOCK_FILE`], released when dropped.
struct HostLock(File);

impl HostLock {
    fn acquire() -> Result<HostLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_FILE)
            .map_err(io(format!("opening {LOCK_FILE}")))?;
        // SAFETY: flock(2) on a descriptor we own; blocks until granted.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io(format!("locking {LOCK_FILE}"))(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(HostLock(file))
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        // SAFETY: as in `acquire`; closing the file would release it too.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn names_fit_linux_interface_names_and_are_stable() {
        let hash = short_hash("/root/.local/state/tugboat/clusters/a-very-long-cluster-name");
        assert_eq!(hash.len(), 6);
        assert_eq!(
            hash,
            short_hash("/root/.local/state/tugboat/clusters/a-very-long-cluster-name")
        );
        assert_ne!(hash, short_hash("/tmp/other"));
        let bridge = bridge_name(&hash);
        assert!(bridge.len() <= MAX_LINK_NAME, "{bridge}");
        let veth = veth_name(&format!("tug-{hash}-node-with-a-really-long-name-0"));
        assert!(veth.len() <= MAX_LINK_NAME, "{veth}");
        assert_ne!(veth, veth_name(&format!("tug-{hash}-node-1")));
    }

    #[test]
    fn the_first_free_slash_24_is_chosen() {
        assert_eq!(choose_subnet(&[]), Some(net("10.250.0.0/24")));
        let used = [
            net("10.250.0.0/24"),
            net("10.250.1.7/32"),
            net("192.168.1.0/24"),
        ];
        assert_eq!(choose_subnet(&used), Some(net("10.250.2.0/24")));
        // A wider route over the whole range leaves nothing.
        assert_eq!(choose_subnet(&[net("10.0.0.0/8")]), None);
    }

    #[test]
    fn nodes_count_up_from_dot_two_and_never_take_broadcast() {
        let subnet = net("10.250.3.0/24");
        assert_eq!(host_address(subnet, 1), Some(Ipv4Addr::new(10, 250, 3, 1)));
        assert_eq!(host_address(subnet, 2), Some(Ipv4Addr::new(10, 250, 3, 2)));
        assert_eq!(
            host_address(subnet, 254),
            Some(Ipv4Addr::new(10, 250, 3, 254))
        );
        assert_eq!(host_address(subnet, 255), None);
        assert_eq!(host_address(subnet, 0), None);
    }

    #[test]
    fn addresses_and_routes_in_use_are_read_from_ip_json() {
        let addrs = json!([
            {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
            {"ifname": "tugc1", "addr_info": [{"family": "inet", "local": "10.250.0.1", "prefixlen": 24}]}
        ]);
        let routes = json!([
            {"dst": "default", "gateway": "10.0.2.2"},
            {"dst": "10.250.5.0/24", "dev": "x"},
            {"type": "local", "dst": "10.250.9.3", "table": "local"}
        ]);
        assert_eq!(
            parse_used(&addrs, &routes),
            [
                net("127.0.0.0/8"),
                net("10.250.0.0/24"),
                net("10.250.5.0/24"),
                net("10.250.9.3/32")
            ]
        );
    }
}
