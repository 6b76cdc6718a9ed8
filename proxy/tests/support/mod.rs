//! A tiny node for the proxy's root tests, built from real namespaces:
//!
//! ```text
//!  host ── bridge ── veth ── "node" netns (eth0, default route via host)
//!  (test client,              │ bridge cbr0 = 10.244.1.1/24
//!   apiserver)                ├── veth ── "pod" netns 0 (10.244.1.10, TCP/UDP responder)
//!                             └── veth ── "pod" netns 1 ...
//! ```
//!
//! The host side and the node namespace are the cluster launcher's own
//! ([`tug_cluster::netns::Lan`], a free /24 chosen under its host-wide
//! lock); the pods live only inside the node's namespace, so every test
//! can use the same pod range. The real `tug-proxy` binary runs in the
//! node netns with the launcher's flags against a real apiserver, reached
//! over the LAN like a node reaches its control plane. [`Topology`]'s
//! Drop removes the namespaces (with every link in them) and the bridge.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tug_api::core::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service};
use tug_api::ObjectMeta;
use tug_client::{Api, Client, Config, PostParams};
use tug_cluster::netns::{Lan, NodeNamespace};
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::bins::workspace_binary;
pub use tug_tests::netns::in_netns;

/// Whether this machine can run the root tests; says SKIP loudly if not.
pub fn prerequisites(test: &str, tools: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP {test}: needs root (network namespaces, nftables)");
        return false;
    }
    if let Some(tool) = tools.iter().find(|t| !tug_tests::prereq::on_path(t)) {
        eprintln!("SKIP {test}: `{tool}` is not installed");
        return false;
    }
    true
}

/// Run `ip` with `args` (words split on whitespace); panic with its
/// stderr on failure.
fn ip(args: &str) {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("running ip: {e}"));
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The namespaces and links of one test node.
pub struct Topology {
    lan: Lan,
    node_ns: NodeNamespace,
    /// The node netns name (`ip netns` name).
    pub node: String,
    pods: Vec<String>,
    /// The host's address on the node's LAN (where the apiserver is reached).
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
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let hint = format!("tug-proxy-test-{}-{seq}", std::process::id());
        let mut lan = Lan::create(&hint).expect("a LAN for the test node");
        let node_ns = match lan.add_node("node") {
            Ok(ns) => ns,
            Err(e) => {
                let _ = lan.remove();
                panic!("the test node's namespace: {e}");
            }
        };
        let node = node_ns.name.clone();
        let mut t = Topology {
            host_ip: lan.host_ip(),
            node_ip: node_ns.ip(),
            pods: (0..pods).map(|i| format!("{node}-pod{i}")).collect(),
            pod_ips: (0..pods)
                .map(|i| Ipv4Addr::new(10, 244, 1, 10 + i as u8))
                .collect(),
            node,
            lan,
            node_ns,
            responders: Vec::new(),
        };
        t.add_pods();
        t
    }

    /// The pod bridge in the node and a namespace per pod on it.
    fn add_pods(&mut self) {
        let node = &self.node;
        let gw = "10.244.1.1";
        ip(&format!("-n {node} link add cbr0 type bridge"));
        ip(&format!("-n {node} addr add {gw}/24 dev cbr0"));
        ip(&format!("-n {node} link set cbr0 up"));
        for (i, pod) in self.pods.iter().enumerate() {
            ip(&format!("netns add {pod}"));
            ip(&format!("-n {pod} link set lo up"));
            let node_side = format!("vp{i}");
            ip(&format!(
                "-n {node} link add {node_side} type veth peer name eth0 netns {pod}"
            ));
            ip(&format!("-n {node} link set {node_side} master cbr0 up"));
            // As the CNI bridge plugin's hairpinMode: a pod may reach itself
            // through a service, so its frame goes back out the port it came in.
            ip(&format!(
                "-n {node} link set {node_side} type bridge_slave hairpin on"
            ));
            ip(&format!(
                "-n {pod} addr add {}/24 dev eth0",
                self.pod_ips[i]
            ));
            ip(&format!("-n {pod} link set eth0 up"));
            ip(&format!("-n {pod} route add default via {gw}"));
            self.responders
                .push(Responder::start(&netns_path(pod), &format!("pod-{i}")));
        }
    }

    /// The node netns as a path for setns.
    pub fn node_path(&self) -> PathBuf {
        self.node_ns.path()
    }

    /// Pod `i`'s netns as a path for setns.
    pub fn pod_path(&self, i: usize) -> PathBuf {
        netns_path(&self.pods[i])
    }

    /// A unique nft table name for this test.
    pub fn table(&self) -> String {
        format!("t{}", self.lan.hash)
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
        for pod in &self.pods {
            let _ = Command::new("ip").args(["netns", "del", pod]).status();
        }
        let _ = self.node_ns.remove();
        let _ = self.lan.remove();
    }
}

fn netns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// A node ([`Topology`]), an apiserver on the host that the node reaches
/// over its LAN, and a client of it.
pub struct TestBed {
    // Fields drop in order: the node's namespaces before the apiserver.
    /// The node and its pods.
    pub topo: Topology,
    /// The apiserver.
    pub api: ApiServerProcess,
    /// A client of the apiserver (from the host).
    pub client: Client,
}

impl TestBed {
    /// A node with `pods` pods (see [`Topology::create`]) and an apiserver.
    pub fn start(pods: usize) -> TestBed {
        let topo = Topology::create(pods);
        // HTTPS on every address, its certificate and generated
        // kubeconfigs naming the one the node reaches it at.
        let host_ip = topo.host_ip.to_string();
        let api = ApiServerProcess::start_with_args(
            &workspace_binary("tug-apiserver"),
            Store::Embedded,
            &["--bind-address", "0.0.0.0", "--advertise-address", &host_ip],
        )
        .expect("apiserver");
        let client = Client::new(Config::new(&api.url).expect("config")).expect("client");
        TestBed { topo, api, client }
    }

    /// Create the Service `name` with `spec` and its Endpoints: every
    /// pod ready on 8080/`protocol`. Returns the Service as allocated.
    pub async fn service_on_all_pods(
        &self,
        name: &str,
        spec: serde_json::Value,
        protocol: &str,
    ) -> Service {
        let svc = create_service(&self.client, name, spec).await;
        set_endpoints(&self.client, name, &self.topo.pod_ips, 8080, protocol).await;
        svc
    }

    /// A kubeconfig reaching the apiserver from the node (the admin's,
    /// which names the address the node reaches: these tests are about
    /// nftables, not about the proxy's permissions).
    pub fn kubeconfig_from_node(&self) -> PathBuf {
        self.api.admin_kubeconfig()
    }
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
            in_netns(&path, || {
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
            })
        });
        let (path, answer, s) = (netns.to_path_buf(), name.to_string(), stop.clone());
        let udp = std::thread::spawn(move || {
            in_netns(&path, || {
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
            })
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

/// Count the answers of `n` connections to `addr` made from the netns
/// at `from` (an error counts as `error: ...`).
pub fn answers_from(from: &Path, addr: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    in_netns(from, move || {
        let mut counts = BTreeMap::new();
        for _ in 0..n {
            let answer = ask(addr).unwrap_or_else(|e| format!("error: {e}"));
            *counts.entry(answer).or_insert(0) += 1;
        }
        counts
    })
}

/// A running `tug-proxy` in the node netns; SIGTERMed on drop.
pub struct ProxyProcess {
    child: Option<Child>,
    /// The healthz address (on the node IP).
    pub healthz: SocketAddr,
}

impl ProxyProcess {
    /// Start the proxy in `bed`'s node netns with the cluster launcher's
    /// flags for it, a table of the test's own, a 100 ms rate limit and
    /// `extra` flags.
    pub fn start(bed: &TestBed, extra: &[&str]) -> ProxyProcess {
        let topo = &bed.topo;
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        extra.extend(["--table-name".into(), topo.table()]);
        extra.extend(["--min-sync-period".into(), "100ms".into()]);
        let args = tug_cluster::args::proxy(
            &bed.kubeconfig_from_node(),
            "node-a",
            topo.node_ip,
            tug_cluster::args::DEFAULT_CLUSTER_CIDR,
            &extra,
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &topo.node, env!("CARGO_BIN_EXE_tug-proxy")])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("TUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("starting tug-proxy");
        ProxyProcess {
            child: Some(child),
            healthz: SocketAddr::from((topo.node_ip, tug_cluster::args::PROXY_HEALTHZ_PORT)),
        }
    }

    /// Wait (up to 20 s) for `/healthz` to answer 200, i.e. for the
    /// first successful sync; returns its body.
    pub async fn wait_healthy(&self) -> String {
        let healthz = self.healthz;
        tug_tests::net::wait_for("/healthz 200", Duration::from_secs(20), || async move {
            match tug_tests::http::get(healthz, "/healthz", Default::default()) {
                Ok(r) if r.status == 200 => Ok(r.body),
                other => Err(format!("{other:?}")),
            }
        })
        .await
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

/// Create or replace the Endpoints `name` with `ips` ready on the
/// unnamed `port` (protocol `protocol`); no `ips`: no subsets.
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
