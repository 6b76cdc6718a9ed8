//! A tiny node for the proxy's root tests, built from real namespaces:
//!
//! ```text
//!  host netns ── veth ── "node" netns (eth0 = node IP, default route via host)
//!   (test client,          │ bridge cbr0 = 10.244.K.1/24
//!    apiserver)            ├── veth ── "pod" netns 0 (10.244.K.10, TCP/UDP responder)
//!                          └── veth ── "pod" netns 1 ...
//! ```
//!
//! The real `tug-proxy` binary runs in the node netns against a real
//! apiserver, reached over the veth like a node reaches its control plane.
//! Every name is unique to the test; [`Topology`]'s Drop removes the
//! namespaces (with every link in them) and the host-side veth.

#![allow(dead_code)] // each test binary uses a different part

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tug_api::core::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service};
use tug_api::ObjectMeta;
use tug_client::{Api, Client, Config, PostParams};

/// Whether this machine can run the root tests; says SKIP loudly if not.
pub fn prerequisites(test: &str, tools: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP {test}: needs root (network namespaces, nftables)");
        return false;
    }
    for tool in tools {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            eprintln!("SKIP {test}: `{tool}` is not installed");
            return false;
        }
    }
    true
}

/// Run a command; panic with its stderr on failure.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `f` on a thread that has entered the network namespace at `path`.
pub fn in_netns<T: Send + 'static>(path: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        enter(&path);
        f()
    })
    .join()
    .expect("netns thread panicked")
}

fn enter(path: &Path) {
    let file = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    // SAFETY: a valid fd; CLONE_NEWNET moves only this thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {}", path.display());
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The namespaces and links of one test node.
pub struct Topology {
    tag: String,
    host_link: String,
    /// The node netns name (`ip netns` name).
    pub node: String,
    pods: Vec<String>,
    /// The host's address on the node link (where the apiserver is reached).
    pub host_ip: Ipv4Addr,
    /// The node's address.
    pub node_ip: Ipv4Addr,
    /// The pods' addresses.
    pub pod_ips: Vec<Ipv4Addr>,
    responders: Vec<Responder>,
}

impl Topology {
    /// A node with `pods` pod namespaces, each answering its name
    /// (`pod-0`, ...) on TCP and UDP port 8080.
    pub fn create(pods: usize) -> Topology {
        // Tests of one binary run in parallel: choosing a free subnet and
        // taking it must not interleave.
        static CREATING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|p| p.into_inner());
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let id = std::process::id() % 10000;
        let tag = format!("px{id}{seq}");
        let k = free_octet();
        let mut t = Topology {
            host_link: format!("{tag}h"),
            node: format!("{tag}-node"),
            pods: (0..pods).map(|i| format!("{tag}-pod{i}")).collect(),
            host_ip: Ipv4Addr::new(10, 251, k, 1),
            node_ip: Ipv4Addr::new(10, 251, k, 2),
            pod_ips: (0..pods)
                .map(|i| Ipv4Addr::new(10, 244, k, 10 + i as u8))
                .collect(),
            tag,
            responders: Vec::new(),
        };
        t.build(k);
        t
    }

    fn build(&mut self, k: u8) {
        let node = self.node.clone();
        run("ip", &["netns", "add", &node]);
        run("ip", &["-n", &node, "link", "set", "lo", "up"]);
        let host_cidr = format!("{}/24", self.host_ip);
        let node_cidr = format!("{}/24", self.node_ip);
        run(
            "ip",
            &[
                "link",
                "add",
                &self.host_link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &node,
            ],
        );
        run("ip", &["addr", "add", &host_cidr, "dev", &self.host_link]);
        run("ip", &["link", "set", &self.host_link, "up"]);
        run(
            "ip",
            &["-n", &node, "addr", "add", &node_cidr, "dev", "eth0"],
        );
        run("ip", &["-n", &node, "link", "set", "eth0", "up"]);
        let host_ip = self.host_ip.to_string();
        run(
            "ip",
            &["-n", &node, "route", "add", "default", "via", &host_ip],
        );
        let gw = format!("10.244.{k}.1");
        run(
            "ip",
            &["-n", &node, "link", "add", "cbr0", "type", "bridge"],
        );
        run(
            "ip",
            &[
                "-n",
                &node,
                "addr",
                "add",
                &format!("{gw}/24"),
                "dev",
                "cbr0",
            ],
        );
        run("ip", &["-n", &node, "link", "set", "cbr0", "up"]);
        for (i, pod) in self.pods.clone().iter().enumerate() {
            run("ip", &["netns", "add", pod]);
            run("ip", &["-n", pod, "link", "set", "lo", "up"]);
            let node_side = format!("vp{i}");
            run(
                "ip",
                &[
                    "-n", &node, "link", "add", &node_side, "type", "veth", "peer", "name", "eth0",
                    "netns", pod,
                ],
            );
            run(
                "ip",
                &[
                    "-n", &node, "link", "set", &node_side, "master", "cbr0", "up",
                ],
            );
            // As the CNI bridge plugin's hairpinMode: a pod may reach itself
            // through a service, so its frame goes back out the port it came in.
            run(
                "ip",
                &[
                    "-n",
                    &node,
                    "link",
                    "set",
                    &node_side,
                    "type",
                    "bridge_slave",
                    "hairpin",
                    "on",
                ],
            );
            let ip = format!("{}/24", self.pod_ips[i]);
            run("ip", &["-n", pod, "addr", "add", &ip, "dev", "eth0"]);
            run("ip", &["-n", pod, "link", "set", "eth0", "up"]);
            run("ip", &["-n", pod, "route", "add", "default", "via", &gw]);
            self.responders
                .push(Responder::start(&netns_path(pod), &format!("pod-{i}")));
        }
    }

    /// The node netns as a path for setns.
    pub fn node_path(&self) -> PathBuf {
        netns_path(&self.node)
    }

    /// Pod `i`'s netns as a path for setns.
    pub fn pod_path(&self, i: usize) -> PathBuf {
        netns_path(&self.pods[i])
    }

    /// A unique nft table name for this test.
    pub fn table(&self) -> String {
        format!("t{}", self.tag)
    }

    /// Run `cmd args` inside the node netns.
    pub fn run_in_node(&self, cmd: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.node, cmd])
            .args(args)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for r in &mut self.responders {
            r.stop();
        }
        // Removing a namespace removes the links in it, and with a veth
        // its peer in the other namespace.
        for ns in self.pods.iter().chain(std::iter::once(&self.node)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .stderr(Stdio::null())
            .status();
    }
}

fn netns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// A third octet K so that 10.251.K.0/24 and 10.244.K.0/24 are unused here.
fn free_octet() -> u8 {
    let routes = run("ip", &["-4", "route", "show", "table", "all"]);
    let start = (std::process::id() % 200) as u8 + 20;
    (0..=200u8)
        .map(|i| start.wrapping_add(i).max(20))
        .find(|k| {
            !routes.contains(&format!("10.251.{k}.")) && !routes.contains(&format!("10.244.{k}."))
        })
        .expect("a free /24 in 10.251.0.0/16")
}

/// A TCP and UDP server on port 8080 in a pod netns, answering its name.
struct Responder {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Responder {
    fn start(netns: &Path, name: &str) -> Responder {
        let stop = Arc::new(AtomicBool::new(false));
        let (path, answer, s) = (netns.to_path_buf(), name.to_string(), stop.clone());
        let tcp = std::thread::spawn(move || {
            enter(&path);
            let listener = TcpListener::bind("0.0.0.0:8080").expect("bind 8080");
            listener.set_nonblocking(true).unwrap();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.write_all(format!("{answer}\n").as_bytes());
                    }
                    // Idle: check the stop flag now and then.
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let (path, answer, s) = (netns.to_path_buf(), name.to_string(), stop.clone());
        let udp = std::thread::spawn(move || {
            enter(&path);
            let socket = UdpSocket::bind("0.0.0.0:8080").expect("bind udp 8080");
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut buf = [0u8; 512];
            while !s.load(Ordering::SeqCst) {
                if let Ok((_, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(format!("{answer}\n").as_bytes(), from);
                }
            }
        });
        Responder {
            stop,
            threads: vec![tcp, udp],
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Connect to `addr` over TCP and read the answer (a pod's name).
pub fn ask(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer.trim().to_string())
}

/// A running `tug-proxy` in the node netns; SIGTERMed on drop.
pub struct ProxyProcess {
    child: Option<Child>,
    /// The healthz address (on the node IP).
    pub healthz: SocketAddr,
}

impl ProxyProcess {
    /// Start the proxy in `topo`'s node netns against `server` with `extra` flags.
    pub fn start(topo: &Topology, server: &str, extra: &[&str]) -> ProxyProcess {
        let healthz = SocketAddr::from((topo.node_ip, 10256));
        let table = topo.table();
        let child = Command::new("ip")
            .args(["netns", "exec", &topo.node, env!("CARGO_BIN_EXE_tug-proxy")])
            .args(["--master", server, "--hostname-override", "node-a"])
            .args(["--table-name", &table, "--min-sync-period", "100ms"])
            .args(["--healthz-bind-address", &healthz.to_string()])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("starting tug-proxy");
        ProxyProcess {
            child: Some(child),
            healthz,
        }
    }

    /// SIGTERM and wait; true if it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let exited = tug_tests::net::wait_until(Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            let _ = child.kill();
        }
        child.wait().map(|s| s.success()).unwrap_or(false) && exited
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// An HTTP GET of `path` on `addr`: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// A client of the test apiserver.
pub fn client(url: &str) -> Client {
    Client::new(Config::new(url).expect("config")).expect("client")
}

/// Create a Service from its JSON spec; returns it as allocated.
pub async fn create_service(client: &Client, name: &str, spec: serde_json::Value) -> Service {
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "namespace": "default" },
        "spec": spec,
    }))
    .expect("a valid service");
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .expect("creating the service")
}

/// Create or replace the Endpoints `name` with `ips` ready on `port`
/// (named `port_name`, protocol `protocol`).
pub async fn set_endpoints(
    client: &Client,
    name: &str,
    ips: &[Ipv4Addr],
    port: i32,
    protocol: &str,
) {
    let api = Api::<Endpoints>::namespaced(client.clone(), "default");
    let mut eps = Endpoints {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            ..Default::default()
        },
        subsets: vec![],
        ..Default::default()
    };
    if !ips.is_empty() {
        eps.subsets.push(EndpointSubset {
            addresses: ips
                .iter()
                .map(|ip| EndpointAddress {
                    ip: ip.to_string(),
                    ..Default::default()
                })
                .collect(),
            ports: vec![EndpointPort {
                port,
                protocol: protocol.into(),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    match api.get_opt(name).await.expect("reading endpoints") {
        Some(old) => {
            eps.metadata.resource_version = old.metadata.resource_version;
            api.replace(name, &PostParams::default(), &eps)
                .await
                .expect("replacing endpoints");
        }
        None => {
            api.create(&PostParams::default(), &eps)
                .await
                .expect("creating endpoints");
        }
    }
}
