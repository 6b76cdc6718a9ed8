//! The CNI client: writes the node's network config list and runs the
//! plugin binaries with the CNI protocol (ADD/DEL/CHECK).
//!
//! The network (`tugboat`, [`CNI_VERSION`]) is the standard pair of
//! Kubernetes' "kubenet": `bridge` (with `host-local` IPAM over the node's
//! pod CIDR) then `portmap` for hostPorts; `loopback` brings up `lo` in the
//! sandbox separately, as containerd and CRI-O do. As libcni does, the
//! result of each ADD is cached (`<state_dir>/results/`) and handed back
//! as `prevResult` on DEL, and DEL goes through the plugins in reverse and
//! tolerates a namespace that is already gone, so the IP is always freed.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The CNI spec version of the config and results; the distribution's
/// plugins (1.1.1) speak 0.1.0 up to 1.0.0.
pub const CNI_VERSION: &str = "1.0.0";

/// The network's name (host-local keeps its allocations under it).
pub const NETWORK_NAME: &str = "tugboat";

/// The config list's file name in the state directory.
pub const CONFLIST_FILE: &str = "10-tugboat.conflist";

/// The plugin binaries this network needs.
pub const REQUIRED_PLUGINS: [&str; 4] = ["bridge", "host-local", "loopback", "portmap"];

/// The pod's interface name.
const POD_IFNAME: &str = "eth0";

/// How long one plugin call may take before it is killed.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The node's CNI settings.
#[derive(Clone, Debug)]
pub struct CniConfig {
    /// Where the plugin binaries are looked for, in order
    /// (`/usr/lib/cni`, `/opt/cni/bin`).
    pub bin_dirs: Vec<PathBuf>,
    /// The bridge pods attach to (`tug0`).
    pub bridge: String,
    /// Where the config list and host-local's allocations are kept.
    pub state_dir: PathBuf,
}

/// A hostPort of a pod, for the portmap plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// The node's port.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp` (lower case, as CNI spells it).
    pub protocol: String,
    /// The node address to bind (empty: all).
    pub host_ip: String,
}

/// One sandbox to attach or detach.
#[derive(Clone, Debug)]
pub struct Attachment<'a> {
    /// The sandbox id (`CNI_CONTAINERID`).
    pub id: &'a str,
    /// The pinned network namespace (`CNI_NETNS`).
    pub netns: &'a Path,
    /// The node's pod CIDR (host-local allocates from it).
    pub pod_cidr: IpNet,
    /// hostPorts.
    pub ports: &'a [PortMapping],
    /// `K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_UID` for `CNI_ARGS`.
    pub pod_namespace: &'a str,
    /// The pod's name.
    pub pod_name: &'a str,
    /// The pod's uid.
    pub pod_uid: &'a str,
}

/// Why a CNI call failed.
#[derive(Debug, thiserror::Error)]
#[error("CNI {command} with plugin {plugin} failed: {message}")]
pub struct CniError {
    /// `ADD`, `DEL` or `CHECK`.
    pub command: &'static str,
    /// The plugin type.
    pub plugin: String,
    /// The plugin's error (its `msg` and `details`) or what else failed.
    pub message: String,
}

/// The CNI client of one node.
pub struct Cni {
    config: CniConfig,
    /// `CNI_PATH`: the bin dirs joined with `:`.
    cni_path: OsString,
}

impl Cni {
    /// A client; fails when a required plugin binary is missing.
    pub fn new(config: CniConfig) -> anyhow::Result<Cni> {
        let missing: Vec<&str> = REQUIRED_PLUGINS
            .iter()
            .copied()
            .filter(|p| find_plugin(&config.bin_dirs, p).is_none())
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "CNI plugins {} not found in {} (install containernetworking-plugins)",
                missing.join(", "),
                config
                    .bin_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let cni_path = std::env::join_paths(&config.bin_dirs)?;
        std::fs::create_dir_all(config.state_dir.join("results"))?;
        Ok(Cni { config, cni_path })
    }

    /// Where the config list for the node's pod CIDR is written.
    pub fn conflist_path(&self) -> PathBuf {
        self.config.state_dir.join(CONFLIST_FILE)
    }

    /// host-local's allocations (`<state_dir>/ipam/tugboat`: one file per
    /// allocated IP, named by the IP).
    pub fn ipam_dir(&self) -> PathBuf {
        self.config.state_dir.join("ipam").join(NETWORK_NAME)
    }

    /// ADD the sandbox to the pod network; the IPs it was given.
    ///
    /// When a plugin fails, everything is DELeted again before the error
    /// is returned, so a failed ADD holds no IP.
    pub async fn add(&self, a: &Attachment<'_>) -> Result<Vec<IpAddr>, CniError> {
        let list = render_conflist(&self.config.bridge, a.pod_cidr, &self.config.state_dir);
        self.write_conflist(&list)
            .map_err(|e| err("ADD", "bridge", format!("writing the config list: {e}")))?;
        crate::network::routes::enable_ip_forwarding(
            a.pod_cidr.addr().is_ipv4(),
            a.pod_cidr.addr().is_ipv6(),
        )
        .map_err(|e| err("ADD", "bridge", format!("enabling IP forwarding: {e}")))?;
        let added = self.add_all(&list, a).await.and_then(|result| {
            let ips = parse_result_ips(&result).map_err(|m| err("ADD", "bridge", m))?;
            Ok((result, ips))
        });
        match added {
            Ok((result, ips)) => {
                if let Err(e) = self.save_cache(a, &result) {
                    tracing::warn!(sandbox = a.id, error = %e, "caching the CNI result");
                }
                Ok(ips)
            }
            Err(e) => {
                if let Err(del) = self.del(a).await {
                    tracing::warn!(sandbox = a.id, error = %del, "cleaning up a failed CNI ADD");
                }
                Err(e)
            }
        }
    }

    /// DEL the sandbox from the pod network (idempotent; its IP is freed
    /// even when the namespace is already gone).
    ///
    /// Every plugin is called even when one fails; the first error is
    /// returned.
    pub async fn del(&self, a: &Attachment<'_>) -> Result<(), CniError> {
        let list = render_conflist(&self.config.bridge, a.pod_cidr, &self.config.state_dir);
        // The spec lets a runtime pass no netns on DEL when it is gone:
        // bridge then only releases the IP, loopback does nothing.
        let netns = if crate::network::netns::is_pinned(a.netns) {
            a.netns.as_os_str().to_owned()
        } else {
            OsString::new()
        };
        let cached = self.load_cache(a.id);
        let prev = cached.as_ref().and_then(|c| c.get("result")).cloned();
        let cached_ports;
        let ports = if a.ports.is_empty() {
            cached_ports = cached
                .as_ref()
                .and_then(|c| c.get("portMappings"))
                .map(ports_from_json)
                .unwrap_or_default();
            &cached_ports[..]
        } else {
            a.ports
        };
        let mut first_err = None;
        for plugin in plugins(&list).iter().rev() {
            let stdin = plugin_stdin(&list, plugin, prev.as_ref(), ports);
            if let Err(e) = self.exec("DEL", &stdin, a, POD_IFNAME, &netns).await {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = self.exec("DEL", &loopback_conf(), a, "lo", &netns).await {
            first_err.get_or_insert(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => {
                let _ = std::fs::remove_file(self.cache_path(a.id));
                Ok(())
            }
        }
    }

    /// loopback, then each plugin of the list with `prevResult` chained;
    /// the last plugin's result.
    async fn add_all(&self, list: &Value, a: &Attachment<'_>) -> Result<Value, CniError> {
        let netns = a.netns.as_os_str();
        self.exec("ADD", &loopback_conf(), a, "lo", netns).await?;
        let mut prev: Option<Value> = None;
        for plugin in plugins(list) {
            let stdin = plugin_stdin(list, plugin, prev.as_ref(), a.ports);
            let result = self.exec("ADD", &stdin, a, POD_IFNAME, netns).await?;
            prev = Some(result);
        }
        prev.ok_or_else(|| err("ADD", "", "the config list has no plugins".into()))
    }

    /// Run one plugin with the CNI protocol; its parsed stdout (`null`
    /// when empty, as DEL's is).
    async fn exec(
        &self,
        command: &'static str,
        stdin: &Value,
        a: &Attachment<'_>,
        ifname: &str,
        netns: &std::ffi::OsStr,
    ) -> Result<Value, CniError> {
        let kind = stdin
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let fail = |message: String| err(command, &kind, message);
        let bin = find_plugin(&self.config.bin_dirs, &kind)
            .ok_or_else(|| fail("plugin binary not found".into()))?;
        // portmap (1.1.1) creates its shared top-level iptables chains with
        // check-then-create: two at once on a fresh host and one fails
        // ("chain already exists"). One portmap call with ports at a time
        // per host (without ports it touches no iptables).
        let has_ports = stdin["runtimeConfig"]["portMappings"]
            .as_array()
            .is_some_and(|p| !p.is_empty());
        let _serialised = if kind == "portmap" && has_ports {
            Some(
                host_lock(PORTMAP_LOCK)
                    .await
                    .map_err(|e| fail(format!("locking {PORTMAP_LOCK}: {e}")))?,
            )
        } else {
            None
        };
        let cni_args = format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
            a.pod_namespace, a.pod_name, a.id, a.pod_uid
        );
        let mut child = Command::new(&bin)
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", a.id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", &self.cni_path)
            .env("CNI_ARGS", cni_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("starting {}: {e}", bin.display())))?;
        let input = serde_json::to_vec(stdin).map_err(|e| fail(e.to_string()))?;
        let mut pipe = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
        let run = async move {
            pipe.write_all(&input).await?;
            drop(pipe);
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(PLUGIN_TIMEOUT, run)
            .await
            .map_err(|_| fail(format!("timed out after {PLUGIN_TIMEOUT:?}")))?
            .map_err(|e| fail(format!("running {}: {e}", bin.display())))?;
        if !out.status.success() {
            let message = plugin_error(&out.stdout).unwrap_or_else(|| {
                format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            });
            return Err(fail(message));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("unreadable result: {e}")))
    }

    /// Write the config list when it changed (atomically: a reader never
    /// sees half a file).
    fn write_conflist(&self, list: &Value) -> std::io::Result<()> {
        let path = self.conflist_path();
        let text = serde_json::to_string_pretty(list)? + "\n";
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        write_atomic(&path, text.as_bytes())
    }

    fn cache_path(&self, id: &str) -> PathBuf {
        self.config
            .state_dir
            .join("results")
            .join(format!("{NETWORK_NAME}-{id}-{POD_IFNAME}"))
    }

    fn save_cache(&self, a: &Attachment<'_>, result: &Value) -> std::io::Result<()> {
        let cache = json!({
            "result": result,
            "portMappings": ports_json(a.ports),
        });
        write_atomic(&self.cache_path(a.id), &serde_json::to_vec(&cache)?)
    }

    fn load_cache(&self, id: &str) -> Option<Value> {
        let bytes = std::fs::read(self.cache_path(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The lock file serialising portmap calls on this host (every kubelet
/// process of the host takes it).
const PORTMAP_LOCK: &str = "/run/lock/tugboat-cni-portmap.lock";

/// An exclusive `flock` on `path`, held until the file is dropped.
async fn host_lock(path: &'static str) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = Path::new(path).parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a file descriptor we own; it blocks until granted.
        let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn err(command: &'static str, plugin: &str, message: String) -> CniError {
    CniError {
        command,
        plugin: plugin.to_string(),
        message,
    }
}

/// The first `bin_dirs` entry holding an executable `name`.
fn find_plugin(bin_dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    bin_dirs.iter().map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The node's network config list: `bridge` (+ `host-local` over
/// `pod_cidr`) then `portmap`.
pub fn render_conflist(bridge: &str, pod_cidr: IpNet, state_dir: &Path) -> Value {
    let default_route = match pod_cidr {
        IpNet::V4(_) => "0.0.0.0/0",
        IpNet::V6(_) => "::/0",
    };
    json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": pod_cidr.trunc().to_string() }]],
                    "routes": [{ "dst": default_route }],
                    "dataDir": state_dir.join("ipam").to_string_lossy(),
                }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true },
                "snat": true
            }
        ]
    })
}

/// The config `loopback` is run with (on `lo`, outside the list).
fn loopback_conf() -> Value {
    json!({ "cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback" })
}

fn plugins(list: &Value) -> &[Value] {
    list.get("plugins")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// What one plugin of `list` reads on stdin: its own config plus the
/// list's `name` and `cniVersion`, the previous plugin's result and, when
/// the plugin declares the `portMappings` capability, the hostPorts as
/// `runtimeConfig.portMappings`.
fn plugin_stdin(
    list: &Value,
    plugin: &Value,
    prev: Option<&Value>,
    ports: &[PortMapping],
) -> Value {
    let mut conf = plugin.clone();
    let Some(obj) = conf.as_object_mut() else {
        return conf;
    };
    obj.insert("name".into(), list["name"].clone());
    obj.insert("cniVersion".into(), list["cniVersion"].clone());
    if let Some(prev) = prev.filter(|p| !p.is_null()) {
        obj.insert("prevResult".into(), prev.clone());
    }
    let wants_ports = plugin
        .pointer("/capabilities/portMappings")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if wants_ports && !ports.is_empty() {
        obj.insert(
            "runtimeConfig".into(),
            json!({ "portMappings": ports_json(ports) }),
        );
    }
    conf
}

/// hostPorts as CNI's `portMappings` capability spells them.
fn ports_json(ports: &[PortMapping]) -> Value {
    ports
        .iter()
        .map(|p| {
            let mut m = json!({
                "hostPort": p.host_port,
                "containerPort": p.container_port,
                "protocol": p.protocol,
            });
            if !p.host_ip.is_empty() {
                m["hostIP"] = json!(p.host_ip);
            }
            m
        })
        .collect()
}

fn ports_from_json(v: &Value) -> Vec<PortMapping> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some(PortMapping {
                host_port: u16::try_from(m.get("hostPort")?.as_u64()?).ok()?,
                container_port: u16::try_from(m.get("containerPort")?.as_u64()?).ok()?,
                protocol: m.get("protocol")?.as_str()?.to_string(),
                host_ip: m
                    .get("hostIP")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect()
}

/// The pod's IPs in a CNI result: the `ips` on an interface inside the
/// sandbox (those without an interface index are taken too).
pub fn parse_result_ips(result: &Value) -> Result<Vec<IpAddr>, String> {
    let interfaces = result
        .get("interfaces")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let in_sandbox = |idx: u64| {
        interfaces
            .get(idx as usize)
            .and_then(|i| i.get("sandbox"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let mut ips = Vec::new();
    for ip in result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(idx) = ip.get("interface").and_then(Value::as_u64) {
            if !in_sandbox(idx) {
                continue;
            }
        }
        let addr = ip
            .get("address")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("an IP without an address in the result: {ip}"))?;
        let net: IpNet = addr
            .parse()
            .map_err(|e| format!("bad address {addr:?} in the result: {e}"))?;
        ips.push(net.addr());
    }
    if ips.is_empty() {
        return Err(format!("the result holds no IP for the pod: {result}"));
    }
    Ok(ips)
}

/// A plugin's error report (`{code, msg, details}` on stdout) as text.
fn plugin_error(stdout: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(stdout).ok()?;
    let msg = v.get("msg")?.as_str()?;
    let code = v.get("code").and_then(Value::as_u64).unwrap_or(0);
    match v.get("details").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => Some(format!("{msg}: {d} (code {code})")),
        _ => Some(format!("{msg} (code {code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> PortMapping {
        PortMapping {
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
        }
    }

    #[test]
    fn conflist_is_bridge_with_host_local_then_portmap() {
        let list = render_conflist(
            "tug0",
            "10.244.1.0/24".parse().unwrap(),
            Path::new("/var/lib/tug/cni"),
        );
        assert_eq!(list["cniVersion"], "1.0.0");
        assert_eq!(list["name"], "tugboat");
        let bridge = &list["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["bridge"], "tug0");
        assert_eq!(bridge["isGateway"], true);
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["hairpinMode"], true);
        assert_eq!(bridge["ipam"]["type"], "host-local");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.244.1.0/24");
        assert_eq!(bridge["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
        assert_eq!(bridge["ipam"]["dataDir"], "/var/lib/tug/cni/ipam");
        let portmap = &list["plugins"][1];
        assert_eq!(portmap["type"], "portmap");
        assert_eq!(portmap["capabilities"]["portMappings"], true);
        assert_eq!(portmap["snat"], true);
        assert_eq!(list["plugins"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn conflist_normalises_the_cidr_and_routes_v6_by_default() {
        let list = render_conflist("tug0", "fd00:1::5/64".parse().unwrap(), Path::new("/s"));
        let ipam = &list["plugins"][0]["ipam"];
        assert_eq!(ipam["ranges"][0][0]["subnet"], "fd00:1::/64");
        assert_eq!(ipam["routes"][0]["dst"], "::/0");
    }

    #[test]
    fn plugin_stdin_chains_prev_result_and_gives_ports_only_to_portmap() {
        let list = render_conflist("tug0", "10.244.1.0/24".parse().unwrap(), Path::new("/s"));
        let ports = [
            http(),
            PortMapping {
                host_port: 5353,
                container_port: 53,
                protocol: "udp".into(),
                host_ip: "192.168.1.10".into(),
            },
        ];
        let bridge = plugin_stdin(&list, &list["plugins"][0], None, &ports);
        assert_eq!(bridge["name"], "tugboat");
        assert_eq!(bridge["cniVersion"], "1.0.0");
        assert!(bridge.get("prevResult").is_none());
        assert!(bridge.get("runtimeConfig").is_none());

        let prev = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.244.1.2/24"}]});
        let portmap = plugin_stdin(&list, &list["plugins"][1], Some(&prev), &ports);
        assert_eq!(portmap["name"], "tugboat");
        assert_eq!(portmap["prevResult"], prev);
        assert_eq!(
            portmap["runtimeConfig"]["portMappings"],
            json!([
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "192.168.1.10"},
            ])
        );
        // No hostPorts: no runtimeConfig at all.
        let none = plugin_stdin(&list, &list["plugins"][1], Some(&prev), &[]);
        assert!(none.get("runtimeConfig").is_none());
    }

    #[test]
    fn ports_survive_the_cache_round_trip() {
        let ports = vec![
            http(),
            PortMapping {
                host_ip: "10.0.0.1".into(),
                ..http()
            },
        ];
        assert_eq!(ports_from_json(&ports_json(&ports)), ports);
    }

    #[test]
    fn result_ips_are_the_sandbox_interfaces() {
        let result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "tug0", "mac": "aa:bb:cc:dd:ee:01"},
                {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:02"},
                {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/tug/netns/x"}
            ],
            "ips": [
                {"interface": 2, "address": "10.244.1.7/24", "gateway": "10.244.1.1"},
                {"interface": 0, "address": "10.244.1.1/24"},
                {"interface": 2, "address": "fd00:1::7/64", "gateway": "fd00:1::1"}
            ],
            "routes": [{"dst": "0.0.0.0/0"}]
        });
        assert_eq!(
            parse_result_ips(&result).unwrap(),
            vec![
                "10.244.1.7".parse::<IpAddr>().unwrap(),
                "fd00:1::7".parse::<IpAddr>().unwrap()
            ]
        );
    }

    #[test]
    fn result_without_interfaces_still_gives_its_ips() {
        let result = json!({"cniVersion": "0.4.0", "ips": [{"address": "10.1.0.5/16"}]});
        assert_eq!(
            parse_result_ips(&result).unwrap(),
            vec!["10.1.0.5".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn result_without_a_pod_ip_is_an_error() {
        assert!(parse_result_ips(&json!({"cniVersion": "1.0.0"})).is_err());
        assert!(parse_result_ips(&json!({"ips": [{"address": "nonsense"}]})).is_err());
    }

    #[test]
    fn plugin_errors_read_as_their_message() {
        let out = br#"{"cniVersion":"1.0.0","code":11,"msg":"failed to allocate for range 0","details":"no IP addresses available in range set: 10.1.0.1-10.1.0.6"}"#;
        assert_eq!(
            plugin_error(out).unwrap(),
            "failed to allocate for range 0: no IP addresses available in range set: 10.1.0.1-10.1.0.6 (code 11)"
        );
        assert_eq!(
            plugin_error(br#"{"code":4,"msg":"bad config"}"#).unwrap(),
            "bad config (code 4)"
        );
        assert!(plugin_error(b"panic: something").is_none());
    }

    #[test]
    fn new_refuses_missing_plugins() {
        let dir = std::env::temp_dir().join(format!("tug-cni-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = Cni::new(CniConfig {
            bin_dirs: vec![dir.clone()],
            bridge: "tug0".into(),
            state_dir: dir.join("state"),
        })
        .err()
        .expect("no plugins there");
        std::fs::remove_dir_all(&dir).unwrap();
        let msg = e.to_string();
        assert!(msg.contains("bridge") && msg.contains("portmap"), "{msg}");
    }
}
