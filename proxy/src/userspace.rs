//! `--mode userspace`: for machines without nftables. Every ClusterIP is
//! added as a /32 on `lo` (labelled [`LO_LABEL`], removed on exit and by
//! `tug-proxy cleanup`), and every service port gets a TCP listener (or a
//! UDP relay) on `clusterIP:port` and on `0.0.0.0:nodePort`, which relays
//! each connection to the next ready endpoint, round-robin. The endpoint
//! lists are updated in place on every sync; listeners come and go with
//! their service ports.
//!
//! Slower than nftables (every byte passes through this process) and
//! without session affinity, as upstream's old userspace mode was a
//! fallback too. A port without endpoints accepts and closes at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::model::{Endpoint, Protocol, ProxyModel, ServicePort, ServicePortName};
use crate::sync::SyncReport;

/// The label of the ClusterIP addresses the proxy puts on `lo`.
pub const LO_LABEL: &str = "lo:tugproxy";

/// How long a UDP client's relay socket lives without traffic.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// How long connecting to one endpoint may take before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The ready endpoints of one service port and the round-robin cursor.
#[derive(Default)]
struct Backends {
    endpoints: RwLock<Vec<Endpoint>>,
    next: AtomicUsize,
}

impl Backends {
    /// The endpoints in round-robin order starting at the next one.
    fn rotation(&self) -> Vec<SocketAddr> {
        let eps = self.endpoints.read().unwrap_or_else(|p| p.into_inner());
        if eps.is_empty() {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % eps.len();
        (0..eps.len())
            .map(|i| {
                let e = eps[(start + i) % eps.len()];
                SocketAddr::from((e.ip, e.port))
            })
            .collect()
    }
}

/// The listeners of one service port.
struct Relay {
    cluster_ip: Ipv4Addr,
    node_port: Option<u16>,
    backends: Arc<Backends>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Relays service ports in this process.
#[derive(Default)]
pub struct UserspaceProxier {
    relays: BTreeMap<ServicePortName, Relay>,
    /// ClusterIPs this process added to `lo`.
    addresses: BTreeSet<Ipv4Addr>,
}

impl UserspaceProxier {
    /// A proxier with no listeners yet.
    pub fn new() -> UserspaceProxier {
        UserspaceProxier::default()
    }

    /// Make the listeners match `model`. `full` changes nothing here: the
    /// listeners are this process's own state, which nobody else edits.
    pub async fn sync(&mut self, model: &ProxyModel, full: bool) -> anyhow::Result<SyncReport> {
        let mut statements = 0;
        let stale: Vec<ServicePortName> = self
            .relays
            .iter()
            .filter(|(id, r)| {
                model
                    .ports
                    .get(*id)
                    .is_none_or(|p| p.cluster_ip != r.cluster_ip || p.node_port != r.node_port)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.relays.remove(&id);
            statements += 1;
        }
        let wanted: BTreeSet<Ipv4Addr> = model.ports.values().map(|p| p.cluster_ip).collect();
        for ip in wanted.difference(&self.addresses.clone()) {
            add_lo_address(*ip).await?;
            self.addresses.insert(*ip);
            statements += 1;
        }
        let mut first_error = None;
        for (id, port) in &model.ports {
            if let Some(relay) = self.relays.get(id) {
                let mut eps = relay
                    .backends
                    .endpoints
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                if *eps != port.endpoints {
                    eps.clone_from(&port.endpoints);
                    statements += 1;
                }
                continue;
            }
            match start_relay(port).await {
                Ok(relay) => {
                    self.relays.insert(id.clone(), relay);
                    statements += 1;
                }
                Err(e) => {
                    first_error.get_or_insert(e.context(format!("relaying {id}")));
                }
            }
        }
        for ip in self.addresses.clone().difference(&wanted) {
            remove_lo_address(*ip).await;
            self.addresses.remove(ip);
            statements += 1;
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(SyncReport {
            full,
            applied: statements > 0,
            statements,
        })
    }

    /// Stop every listener and take the ClusterIPs off `lo`.
    pub async fn shutdown(&mut self) {
        self.relays.clear();
        for ip in std::mem::take(&mut self.addresses) {
            remove_lo_address(ip).await;
        }
    }
}

async fn start_relay(port: &ServicePort) -> anyhow::Result<Relay> {
    let backends = Arc::new(Backends::default());
    backends
        .endpoints
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .clone_from(&port.endpoints);
    let mut binds = vec![SocketAddr::from((port.cluster_ip, port.id.port))];
    if let Some(np) = port.node_port {
        binds.push(SocketAddr::from((Ipv4Addr::UNSPECIFIED, np)));
    }
    let mut tasks = Vec::new();
    for addr in binds {
        let b = backends.clone();
        let task = match port.id.protocol {
            Protocol::Tcp => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening on {addr}"))?;
                tokio::spawn(serve_tcp(listener, b))
            }
            Protocol::Udp => {
                let socket = UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}/udp"))?;
                tokio::spawn(serve_udp(Arc::new(socket), b))
            }
            Protocol::Sctp => bail!("SCTP is not relayed in userspace mode"),
        };
        tasks.push(task);
    }
    Ok(Relay {
        cluster_ip: port.cluster_ip,
        node_port: port.node_port,
        backends,
        tasks,
    })
}

async fn serve_tcp(listener: TcpListener, backends: Arc<Backends>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let order = backends.rotation();
        tokio::spawn(async move {
            let mut client = client;
            for target in order {
                let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target));
                if let Ok(Ok(mut upstream)) = connect.await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    return;
                }
                tracing::debug!(%target, "endpoint unreachable; trying the next");
            }
            // No endpoint: the client sees the connection closed.
        });
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, backends: Arc<Backends>) {
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let known = sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&client)
            .cloned();
        let upstream = match known {
            Some(u) => u,
            None => {
                let Some(target) = backends.rotation().first().copied() else {
                    continue;
                };
                let Ok(u) = UdpSocket::bind("0.0.0.0:0").await else {
                    continue;
                };
                if u.connect(target).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(client, u.clone());
                tokio::spawn(udp_replies(
                    socket.clone(),
                    u.clone(),
                    client,
                    sessions.clone(),
                ));
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

/// Send an endpoint's replies back to `client` until the session idles out.
async fn udp_replies(
    socket: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
) {
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        let _ = socket.send_to(&buf[..n], client).await;
    }
    sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&client);
}

async fn ip_command(args: &[&str]) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("ip")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

async fn add_lo_address(ip: Ipv4Addr) -> anyhow::Result<()> {
    let cidr = format!("{ip}/32");
    match ip_command(&["addr", "add", &cidr, "dev", "lo", "label", LO_LABEL]).await {
        Err(e) if e.to_string().contains("File exists") => Ok(()),
        r => r,
    }
}

async fn remove_lo_address(ip: Ipv4Addr) {
    let cidr = format!("{ip}/32");
    if let Err(e) = ip_command(&["addr", "del", &cidr, "dev", "lo"]).await {
        tracing::warn!(error = %e, "removing a ClusterIP from lo");
    }
}

/// Remove every ClusterIP a userspace proxy left on `lo` (for `cleanup`).
pub async fn remove_lo_addresses() -> anyhow::Result<usize> {
    let out = tokio::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "lo", "label", LO_LABEL])
        .output()
        .await
        .context("running ip addr show")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut n = 0;
    for ip in lo_addresses(&text) {
        remove_lo_address(ip).await;
        n += 1;
    }
    Ok(n)
}

/// The addresses in `ip -o addr show` output.
fn lo_addresses(text: &str) -> Vec<Ipv4Addr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_starts_at_the_next_endpoint_each_time() {
        let b = Backends::default();
        *b.endpoints.write().unwrap() = vec![
            Endpoint {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                port: 80,
            },
            Endpoint {
                ip: Ipv4Addr::new(10, 0, 0, 2),
                port: 80,
            },
        ];
        let firsts: Vec<SocketAddr> = (0..4).map(|_| b.rotation()[0]).collect();
        assert_eq!(firsts[0], firsts[2]);
        assert_ne!(firsts[0], firsts[1]);
        assert_eq!(b.rotation().len(), 2, "the others follow as fallbacks");
        *b.endpoints.write().unwrap() = vec![];
        assert!(b.rotation().is_empty());
    }

    #[test]
    fn lo_addresses_are_read_from_ip_output() {
        let text = "1: lo    inet 10.96.0.10/32 scope global lo:tugproxy\\       valid_lft forever preferred_lft forever\n";
        assert_eq!(lo_addresses(text), vec![Ipv4Addr::new(10, 96, 0, 10)]);
    }
}
