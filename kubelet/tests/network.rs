//! Pod networking for real, as root: pinned network namespaces, the
//! distribution's CNI plugins (bridge + host-local + loopback + portmap)
//! called by [`Cni`], and the host-gw route applier.
//!
//! Every test uses its own names (bridge `tugt<hex>`, a temp dir, a test
//! CIDR) and a guard that DELs what it added and removes the netns pins,
//! the bridge, links and the temp dir, even when an assertion fails.

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use ipnet::IpNet;
use tug_kubelet::network::cni::{Attachment, Cni, CniConfig, PortMapping};
use tug_kubelet::network::netns;
use tug_kubelet::network::routes::{PodRoute, RouteApplier};
use tug_tests::net::{eventually, wait_until};
use tug_tests::netns::netns_inode;

macro_rules! require_root {
    () => {
        if !tug_tests::prereq::is_root() {
            eprintln!(
                "SKIP: {} needs root (netns, bridges, iptables)",
                module_path!()
            );
            return;
        }
    };
}

fn rand_u16() -> u16 {
    rand::random()
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn run_ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ping -c1 -W1 ip` from the host, or from inside the pinned `netns`.
fn ping(from: Option<&Path>, ip: IpAddr) -> bool {
    let ip = ip.to_string();
    let out = match from {
        Some(ns) => run(
            "nsenter",
            &[
                &format!("--net={}", ns.display()),
                "/bin/busybox",
                "ping",
                "-c1",
                "-W1",
                &ip,
            ],
        ),
        None => run("/bin/busybox", &["ping", "-c1", "-W1", &ip]),
    };
    out.status.success()
}

/// One sandbox the guard DELs on drop.
#[derive(Clone)]
struct Added {
    id: String,
    netns: PathBuf,
    ports: Vec<PortMapping>,
}

/// A test's private world: temp dir (netns pins + CNI state), bridge
/// name, CIDR; cleans all of it up on drop.
struct Scratch {
    dir: PathBuf,
    bridge: String,
    cidr: IpNet,
    added: Mutex<Vec<Added>>,
}

impl Scratch {
    fn new(cidr: IpNet) -> Scratch {
        let tag = format!("{:04x}", rand_u16());
        let dir = std::env::temp_dir().join(format!("tug-net-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        PortmapScaffold::enter();
        Scratch {
            dir,
            bridge: format!("tugt{tag}"),
            cidr,
            added: Mutex::new(Vec::new()),
        }
    }

    fn netns_dir(&self) -> PathBuf {
        self.dir.join("netns")
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("cni")
    }

    fn cni(&self) -> Cni {
        Cni::new(self.cni_config()).expect("the CNI plugins are installed in /usr/lib/cni")
    }

    fn cni_config(&self) -> CniConfig {
        CniConfig {
            bin_dirs: vec!["/usr/lib/cni".into(), "/opt/cni/bin".into()],
            bridge: self.bridge.clone(),
            state_dir: self.state_dir(),
        }
    }

    /// A pinned netns for sandbox `id`, remembered for cleanup.
    fn sandbox(&self, id: &str, ports: Vec<PortMapping>) -> Added {
        let path = self.netns_dir().join(id);
        netns::create(&path).expect("create netns");
        let added = Added {
            id: id.to_string(),
            netns: path,
            ports,
        };
        self.added.lock().unwrap().push(added.clone());
        added
    }

    fn attachment<'a>(&'a self, s: &'a Added) -> Attachment<'a> {
        Attachment {
            id: &s.id,
            netns: &s.netns,
            pod_cidr: self.cidr,
            ports: &s.ports,
            pod_namespace: "default",
            pod_name: &s.id,
            pod_uid: &s.id,
        }
    }

    /// The IPs host-local holds (one file per IP in its data dir).
    fn allocated(&self) -> Vec<String> {
        let dir = self.state_dir().join("ipam").join("tugboat");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.parse::<IpAddr>().is_ok())
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let added = std::mem::take(&mut *self.added.lock().unwrap_or_else(|e| e.into_inner()));
        let config = self.cni_config();
        let cidr = self.cidr;
        // DEL again (idempotent) so a failed test leaves no portmap chains
        // behind; on its own thread, as we may be inside a runtime.
        let dels = added.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let Ok(cni) = Cni::new(config) else { return };
            for s in &dels {
                let a = Attachment {
                    id: &s.id,
                    netns: &s.netns,
                    pod_cidr: cidr,
                    ports: &s.ports,
                    pod_namespace: "default",
                    pod_name: &s.id,
                    pod_uid: &s.id,
                };
                if let Err(e) = rt.block_on(cni.del(&a)) {
                    eprintln!("cleanup: {e}");
                }
            }
        })
        .join();
        for s in &added {
            let _ = netns::remove(&s.netns);
        }
        let _ = netns::release_dir(&self.netns_dir());
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
        PortmapScaffold::leave();
    }
}

/// portmap's shared iptables scaffolding (the `CNI-HOSTPORT-*` chains in
/// the nat table and the jumps to them), which its DEL leaves for the
/// next pod. The last [`Scratch`] of this process to go removes it, but
/// only when it was not there before the first one came and no pod's
/// hostPort chain hangs on it any more.
struct PortmapScaffold;

/// Live scratches, and whether the scaffolding existed before the first.
static SCAFFOLD: Mutex<(usize, bool)> = Mutex::new((0, false));

const SCAFFOLD_JUMPS: [&[&str]; 3] = [
    &[
        "PREROUTING",
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        "CNI-HOSTPORT-DNAT",
    ],
    &[
        "OUTPUT",
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        "CNI-HOSTPORT-DNAT",
    ],
    &[
        "POSTROUTING",
        "-m",
        "comment",
        "--comment",
        "CNI portfwd requiring masquerade",
        "-j",
        "CNI-HOSTPORT-MASQ",
    ],
];

const SCAFFOLD_CHAINS: [&str; 3] = [
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
];

impl PortmapScaffold {
    fn dnat_rules() -> Option<usize> {
        let out = run("iptables", &["-t", "nat", "-S", "CNI-HOSTPORT-DNAT"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).lines().count() - 1)
    }

    fn enter() {
        let mut s = SCAFFOLD.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 == 0 {
            s.1 = Self::dnat_rules().is_some();
        }
        s.0 += 1;
    }

    fn leave() {
        let mut s = SCAFFOLD.lock().unwrap_or_else(|e| e.into_inner());
        s.0 -= 1;
        if s.0 > 0 || s.1 || Self::dnat_rules() != Some(0) {
            return;
        }
        for jump in SCAFFOLD_JUMPS {
            let mut args = vec!["-t", "nat", "-D"];
            args.extend_from_slice(jump);
            while run("iptables", &args).status.success() {}
        }
        for chain in SCAFFOLD_CHAINS {
            run("iptables", &["-t", "nat", "-F", chain]);
            run("iptables", &["-t", "nat", "-X", chain]);
        }
    }
}

fn test_cidr(second: u8) -> IpNet {
    format!("10.{second}.{}.0/24", rand_u16() % 256)
        .parse()
        .unwrap()
}

#[test]
fn netns_pin_survives_its_thread_and_is_removed() {
    require_root!();
    let scratch = Scratch::new(test_cidr(249));
    let pin = scratch.sandbox("pin", vec![]).netns;

    assert!(netns::is_pinned(&pin), "an nsfs mount at {}", pin.display());
    assert_ne!(
        netns_inode(&pin).unwrap(),
        netns_inode(Path::new("/proc/self/ns/net")).unwrap(),
        "a new namespace, not ours"
    );
    // The pin directory is a shared mount point, as /run/netns is.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = scratch.netns_dir();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap()))
        .expect("the pin dir is a mount point");
    assert!(line.contains("shared:"), "{line}");

    // State made in the namespace by one process is there for the next:
    // the namespace lives on the pin, not on any process.
    let ns = format!("--net={}", pin.display());
    run_ok(
        "nsenter",
        &[&ns, "ip", "addr", "add", "127.0.0.2/8", "dev", "lo"],
    );
    let addrs = run_ok("nsenter", &[&ns, "ip", "-br", "addr"]);
    assert!(addrs.contains("127.0.0.2/8"), "{addrs}");
    let links = run_ok("nsenter", &[&ns, "ip", "-br", "link"]);
    assert_eq!(
        links.lines().count(),
        1,
        "only lo, nothing of the host's: {links}"
    );

    // A second create on the same pin refuses.
    let again = netns::create(&pin).unwrap_err();
    assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);

    netns::remove(&pin).unwrap();
    assert!(!pin.exists());
    assert!(!netns::is_pinned(&pin));
    netns::remove(&pin).expect("removing an absent pin is fine");
}

/// A TCP listener on `port` inside the pinned netns: a dedicated thread
/// joins the namespace, binds, and ends; the socket stays in the netns.
fn listen_in(ns: &Path, port: u16) -> std::net::TcpListener {
    let ns = ns.to_path_buf();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&ns).unwrap();
        // SAFETY: a valid netns fd; only this short-lived thread moves.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        std::net::TcpListener::bind(("0.0.0.0", port)).unwrap()
    })
    .join()
    .unwrap()
}

/// Connect to `to` from the host and exchange a line with whoever
/// `listener` (inside a pod) accepts; fails within seconds, never hangs.
fn host_port_round_trip(listener: &std::net::TcpListener, to: std::net::SocketAddr) {
    use std::io::{Read, Write};
    listener.set_nonblocking(true).unwrap();
    std::thread::scope(|s| {
        let server = s.spawn(|| {
            let mut conn = None;
            let accepted = wait_until(Duration::from_secs(10), || match listener.accept() {
                Ok((c, _)) => {
                    conn = Some(c);
                    true
                }
                Err(_) => false,
            });
            assert!(accepted, "nothing reached the pod via {to}");
            let mut conn = conn.unwrap();
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(b"pong").unwrap();
            buf
        });
        let client = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5));
        let reply = client.and_then(|mut conn| {
            conn.set_read_timeout(Some(Duration::from_secs(5)))?;
            conn.write_all(b"ping")?;
            let mut reply = [0u8; 4];
            conn.read_exact(&mut reply)?;
            Ok(reply)
        });
        let got = server.join();
        assert_eq!(
            &reply.unwrap_or_else(|e| panic!("hostPort via {to}: {e}")),
            b"pong"
        );
        assert_eq!(&got.expect("the pod's server"), b"ping");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_reach_each_other_the_host_and_a_host_port() {
    require_root!();
    let scratch = Scratch::new(test_cidr(251));
    let cni = scratch.cni();
    let host_port = tug_tests::net::free_port();
    let web = PortMapping {
        host_port,
        container_port: 8080,
        protocol: "tcp".into(),
        host_ip: String::new(),
    };
    let a = scratch.sandbox("pod-a", vec![web]);
    let b = scratch.sandbox("pod-b", vec![]);
    let ip_a = cni.add(&scratch.attachment(&a)).await.expect("ADD a");
    let ip_b = cni.add(&scratch.attachment(&b)).await.expect("ADD b");
    assert_eq!(ip_a.len(), 1, "{ip_a:?}");
    assert_eq!(ip_b.len(), 1, "{ip_b:?}");
    let (ip_a, ip_b) = (ip_a[0], ip_b[0]);
    assert!(scratch.cidr.contains(&ip_a), "{ip_a} in {}", scratch.cidr);
    assert!(scratch.cidr.contains(&ip_b), "{ip_b} in {}", scratch.cidr);
    assert_ne!(ip_a, ip_b);
    assert_eq!(scratch.allocated().len(), 2);

    // The config list is on disk for the node's CIDR.
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cni.conflist_path()).unwrap()).unwrap();
    assert_eq!(
        list["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        scratch.cidr.to_string()
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );

    // Pod to pod across the bridge, both ways; lo is up inside.
    assert!(wait_until(Duration::from_secs(10), || ping(
        Some(&a.netns),
        ip_b
    )));
    assert!(ping(Some(&b.netns), ip_a));
    assert!(ping(Some(&a.netns), "127.0.0.1".parse().unwrap()), "lo up");
    // The host reaches the pods through the bridge (the gateway).
    let route = run_ok("ip", &["-j", "route", "get", &ip_a.to_string()]);
    assert!(
        route.contains(&format!("\"dev\":\"{}\"", scratch.bridge)),
        "{route}"
    );
    assert!(ping(None, ip_a));
    assert!(ping(None, ip_b));

    // hostPort: the node's address on host_port lands on pod a's 8080.
    let listener = listen_in(&a.netns, 8080);
    let gateway = scratch.cidr.hosts().next().unwrap();
    let rules = run_ok("iptables", &["-t", "nat", "-S"]);
    assert!(rules.contains(&format!("--dport {host_port}")), "{rules}");
    host_port_round_trip(&listener, (gateway, host_port).into());
    // localhost too: portmap's snat sets route_localnet for it.
    host_port_round_trip(&listener, ([127, 0, 0, 1], host_port).into());

    // DEL frees the IPs and portmap's rules.
    cni.del(&scratch.attachment(&a)).await.expect("DEL a");
    cni.del(&scratch.attachment(&b)).await.expect("DEL b");
    assert_eq!(scratch.allocated(), Vec::<String>::new());
    let rules = run_ok("iptables", &["-t", "nat", "-S"]);
    assert!(!rules.contains(&format!("--dport {host_port}")), "{rules}");
    // And DEL again is fine.
    cni.del(&scratch.attachment(&a))
        .await
        .expect("DEL is idempotent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_del_fifty_times_leaks_no_ip() {
    require_root!();
    // A /28 holds 13 pod IPs: 50 rounds would run out if any leaked.
    let cidr: IpNet = format!("10.250.{}.16/28", rand_u16() % 256)
        .parse()
        .unwrap();
    let scratch = Scratch::new(cidr);
    let cni = scratch.cni();
    for i in 0..50 {
        let port = PortMapping {
            host_port: 20000 + (rand_u16() % 20000),
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
        };
        let s = scratch.sandbox(&format!("round-{i}"), vec![port]);
        let ips = cni
            .add(&scratch.attachment(&s))
            .await
            .unwrap_or_else(|e| panic!("ADD round {i}: {e}"));
        assert!(cidr.contains(&ips[0]));
        assert_eq!(scratch.allocated().len(), 1, "round {i}");
        if i % 10 == 9 {
            // The sandbox's netns is already gone: DEL still frees the IP.
            netns::remove(&s.netns).unwrap();
        }
        cni.del(&scratch.attachment(&s))
            .await
            .unwrap_or_else(|e| panic!("DEL round {i}: {e}"));
        netns::remove(&s.netns).unwrap();
        assert_eq!(scratch.allocated(), Vec::<String>::new(), "round {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_add_holds_no_ip() {
    require_root!();
    let scratch = Scratch::new(test_cidr(248));
    let cni = scratch.cni();
    // bridge succeeds, then portmap refuses the protocol.
    let bad = PortMapping {
        host_port: 20000 + (rand_u16() % 20000),
        container_port: 80,
        protocol: "bogus".into(),
        host_ip: String::new(),
    };
    let s = scratch.sandbox("bad", vec![bad]);
    let e = cni.add(&scratch.attachment(&s)).await.unwrap_err();
    assert_eq!(e.command, "ADD");
    assert_eq!(e.plugin, "portmap", "{e}");
    assert_eq!(scratch.allocated(), Vec::<String>::new());
}

/// A veth pair on the host (the kernel here has no `dummy` links),
/// deleted with its routes on drop.
struct TestLink(String);

impl TestLink {
    /// The pair `name`/`peer`, both up, `name` holding `addr` (a CIDR).
    fn veth(name: String, peer: &str, addr: &str) -> TestLink {
        let link = TestLink(name);
        run_ok(
            "ip",
            &["link", "add", &link.0, "type", "veth", "peer", "name", peer],
        );
        run_ok("ip", &["link", "set", peer, "up"]);
        run_ok("ip", &["addr", "add", addr, "dev", &link.0]);
        run_ok("ip", &["link", "set", &link.0, "up"]);
        link
    }
}

impl Drop for TestLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn route_exists(cidr: &str) -> String {
    run_ok("ip", &["route", "show", "exact", cidr])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_applier_manages_only_its_own_routes() {
    require_root!();
    let r = rand_u16();
    let n = r % 256;
    let _link = TestLink::veth(
        format!("tugr{r:04x}"),
        &format!("tugp{r:04x}"),
        &format!("10.252.{n}.1/24"),
    );
    // A protocol number of the test's own, so a kubelet running on this
    // machine (proto 199) and this test never touch each other's routes.
    let proto = 200 + (r % 25) as u8;
    let applier = RouteApplier::with_protocol(proto);

    let foreign = format!("10.254.{n}.0/24");
    run_ok(
        "ip",
        &[
            "route",
            "add",
            &foreign,
            "via",
            &format!("10.252.{n}.3"),
            "proto",
            "static",
        ],
    );
    let mine = PodRoute {
        cidr: format!("10.253.{n}.0/24").parse().unwrap(),
        via: format!("10.252.{n}.2").parse().unwrap(),
    };
    applier.apply(std::slice::from_ref(&mine)).await.unwrap();
    assert_eq!(applier.current().await.unwrap(), vec![mine.clone()]);
    let shown = route_exists(&mine.cidr.to_string());
    assert!(shown.contains(&format!("via 10.252.{n}.2")), "{shown}");
    assert!(shown.contains(&format!("proto {proto}")), "{shown}");
    applier
        .apply(std::slice::from_ref(&mine))
        .await
        .expect("idempotent");

    // The node's address changed: the route follows.
    let moved = PodRoute {
        via: format!("10.252.{n}.4").parse().unwrap(),
        ..mine.clone()
    };
    applier.apply(std::slice::from_ref(&moved)).await.unwrap();
    assert_eq!(applier.current().await.unwrap(), vec![moved.clone()]);

    // The node is gone: our route goes, the foreign one stays.
    applier.apply(&[]).await.unwrap();
    assert_eq!(applier.current().await.unwrap(), vec![]);
    assert_eq!(route_exists(&mine.cidr.to_string()).trim(), "");
    assert!(route_exists(&foreign).contains("via"), "foreign route kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_sync_follows_the_node_list() {
    use tug_api::core::{Node, NodeAddress};
    use tug_client::{Api, Client, Config, DeleteParams, PostParams};
    use tug_tests::apiserver::{ApiServerProcess, Store};
    require_root!();
    let server = ApiServerProcess::start(
        &tug_tests::bins::workspace_binary("tug-apiserver"),
        Store::Embedded,
    )
    .expect("starting tug-apiserver");
    let client = Client::new(Config::new(&server.url).unwrap()).unwrap();

    let r = rand_u16();
    let n = r % 256;
    let _link = TestLink::veth(
        format!("tugs{r:04x}"),
        &format!("tugq{r:04x}"),
        &format!("10.247.{n}.1/24"),
    );
    let proto = 225 + (r % 25) as u8; // disjoint from the applier test's (200..225)
    let applier = RouteApplier::with_protocol(proto);

    let nodes: Api<Node> = Api::all(client.clone());
    let make = |name: &str, cidr: String, ip: String| {
        let mut node = Node::default();
        node.metadata.name = name.into();
        node.spec.pod_cidr = cidr;
        node.status.addresses = vec![NodeAddress {
            type_: "InternalIP".into(),
            address: ip,
        }];
        node
    };
    let me = make("me", format!("10.246.{n}.0/24"), format!("10.247.{n}.1"));
    let other = make("other", format!("10.245.{n}.0/24"), format!("10.247.{n}.2"));
    for node in [&me, &other] {
        let created = nodes.create(&PostParams::default(), node).await.unwrap();
        let mut with_status = created.clone();
        with_status.status = node.status.clone();
        nodes
            .replace_status(&node.metadata.name, &PostParams::default(), &with_status)
            .await
            .unwrap();
    }
    let sync = tokio::spawn(tug_kubelet::network::routes::run_route_sync_with(
        client.clone(),
        "me".into(),
        applier.clone(),
    ));
    struct Abort(tokio::task::JoinHandle<()>);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _sync = Abort(sync);

    let want = PodRoute {
        cidr: other.spec.pod_cidr.parse().unwrap(),
        via: format!("10.247.{n}.2").parse().unwrap(),
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            applier.current().await.unwrap() == vec![want.clone()]
        })
        .await,
        "route to the other node"
    );
    // Only to the other node: none to our own pod CIDR.
    assert_eq!(route_exists(&me.spec.pod_cidr).trim(), "");

    nodes
        .delete("other", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async {
            applier.current().await.unwrap().is_empty()
        })
        .await,
        "route removed with the node"
    );
}
