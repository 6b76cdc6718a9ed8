//! The certificates and kubeconfigs `tug-apiserver` generates under
//! `--data-dir` on first start, as k3s does: PKI with zero effort.
//!
//! ```text
//! pki/ca.crt, ca.key                    the cluster CA (client CA; the controller-manager signs CSRs with it)
//! pki/apiserver.crt, .key               serving certificate (reissued when a needed SAN is missing)
//! pki/apiserver-kubelet-client.crt/.key what the apiserver presents to kubelets
//! admin.kubeconfig                      kubernetes-admin in system:masters
//! scheduler.kubeconfig                  system:kube-scheduler
//! controller-manager.kubeconfig         system:kube-controller-manager
//! ```
//!
//! What exists is reused; keys are written 0600; files the user named
//! with `--tls-*` / `--client-ca-file` / `--kubelet-client-*` are read,
//! never written.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use base64::Engine;
use ipnet::Ipv4Net;
use serde_json::json;
use tug_api::pki::{self, Ca, CertAndKey};
use tug_client::config::{
    Cluster, Context as KubeContext, Kubeconfig, NamedCluster, NamedContext, NamedUser, User,
};

use crate::server::ApiServer;

/// How long generated leaf certificates are valid (kubeadm's one year).
pub const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A generated certificate this close to expiry is reissued at start.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The component kubeconfigs: file, user (CN), groups (O).
const KUBECONFIGS: &[(&str, &str, &[&str])] = &[
    ("admin", "kubernetes-admin", &["system:masters"]),
    ("scheduler", "system:kube-scheduler", &[]),
    ("controller-manager", "system:kube-controller-manager", &[]),
];

/// What the PKI is made from (the apiserver's flags).
#[derive(Clone, Debug)]
pub struct PkiSettings {
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// Where clients reach the secure port (`--advertise-address`, resolved).
    pub advertise_address: IpAddr,
    /// `--secure-port`.
    pub secure_port: u16,
    /// `--bind-address` (a SAN unless unspecified).
    pub bind_address: IpAddr,
    /// `--service-cluster-ip-range` (its first address is a SAN).
    pub service_cluster_ip_range: Ipv4Net,
    /// `--tls-san`: extra DNS names or IP addresses.
    pub extra_sans: Vec<String>,
    /// `--tls-cert-file` and `--tls-private-key-file`.
    pub serving_files: Option<(PathBuf, PathBuf)>,
    /// `--client-ca-file`.
    pub client_ca_file: Option<PathBuf>,
    /// `--kubelet-client-certificate` and `--kubelet-client-key`.
    pub kubelet_client_files: Option<(PathBuf, PathBuf)>,
}

/// The PKI the apiserver serves with.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The cluster CA certificate, PEM.
    pub ca_pem: String,
    /// The serving certificate (chain) and key.
    pub serving: CertAndKey,
    /// CA bundle client certificates are verified against.
    pub client_ca_pem: String,
    /// Client certificate followed by key, for calls to kubelets.
    pub kubelet_client_identity_pem: Vec<u8>,
    /// `https://<advertise-address>:<secure-port>`.
    pub server_url: String,
}

/// Load or generate everything under `settings.data_dir`.
pub fn ensure(settings: &PkiSettings) -> anyhow::Result<Pki> {
    let dir = settings.data_dir.join("pki");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    let ca = load_or_create_ca(&dir)?;
    let ca_pem = ca.cert_pem().to_string();
    let serving = match &settings.serving_files {
        Some((cert, key)) => CertAndKey {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        },
        None => ensure_serving(&dir, &ca, settings)?,
    };
    let client_ca_pem = match &settings.client_ca_file {
        Some(path) => read(path)?,
        None => ca_pem.clone(),
    };
    let kubelet_client = match &settings.kubelet_client_files {
        Some((cert, key)) => CertAndKey {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        },
        None => ensure_client(
            &dir.join("apiserver-kubelet-client"),
            &ca,
            "kube-apiserver-kubelet-client",
            &["system:masters"],
        )?,
    };
    let server_url = format!(
        "https://{}",
        SocketAddr::new(settings.advertise_address, settings.secure_port)
    );
    for (role, user, groups) in KUBECONFIGS {
        let path = settings.data_dir.join(format!("{role}.kubeconfig"));
        ensure_kubeconfig(&path, &ca, &server_url, role, user, groups)?;
    }
    Ok(Pki {
        ca_pem,
        serving,
        client_ca_pem,
        kubelet_client_identity_pem: format!(
            "{}{}",
            kubelet_client.cert_pem, kubelet_client.key_pem
        )
        .into_bytes(),
        server_url,
    })
}

fn load_or_create_ca(dir: &Path) -> anyhow::Result<Ca> {
    let (cert, key) = (dir.join("ca.crt"), dir.join("ca.key"));
    match (cert.exists(), key.exists()) {
        (true, true) => Ca::from_pem(&read(&cert)?, &read(&key)?)
            .with_context(|| format!("loading the cluster CA from {}", cert.display())),
        (false, false) => {
            let name = format!(
                "tugboat-ca@{}",
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs()
            );
            let pair = pki::new_ca(&name)?;
            write_pair(dir, "ca", &pair)?;
            tracing::info!(path = %cert.display(), "generated the cluster CA");
            Ok(Ca::from_pem(&pair.cert_pem, &pair.key_pem)?)
        }
        _ => bail!(
            "{} and {} must both exist or both be absent (refusing to overwrite one of them)",
            cert.display(),
            key.display()
        ),
    }
}

/// The names and addresses the serving certificate must be valid for.
pub fn serving_names(settings: &PkiSettings) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(host) = host_name() {
        dns.push(host);
    }
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if let Some(first) = settings.service_cluster_ip_range.hosts().next() {
        ips.push(IpAddr::V4(first));
    }
    ips.push(settings.advertise_address);
    if !settings.bind_address.is_unspecified() {
        ips.push(settings.bind_address);
    }
    for san in &settings.extra_sans {
        match san.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(san.clone()),
        }
    }
    let mut seen = Vec::new();
    ips.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    let mut unique = Vec::new();
    for d in dns {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    (unique, ips)
}

fn host_name() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

fn ensure_serving(dir: &Path, ca: &Ca, settings: &PkiSettings) -> anyhow::Result<CertAndKey> {
    let (dns, ips) = serving_names(settings);
    let base = dir.join("apiserver");
    if let Some(existing) = read_pair(&base)? {
        let renew_at = SystemTime::now() + RENEW_BEFORE;
        let missing = dns
            .iter()
            .cloned()
            .chain(ips.iter().map(IpAddr::to_string))
            .find(|name| {
                pki::verify_server_cert(ca.cert_pem(), &existing.cert_pem, name, renew_at).is_err()
            });
        match missing {
            None => return Ok(existing),
            Some(name) => tracing::info!(
                missing = %name,
                "reissuing the serving certificate: not valid (or soon expiring) for a needed name"
            ),
        }
    }
    let pair = ca.issue_serving("kube-apiserver", &dns, &ips, LEAF_VALIDITY)?;
    write_pair(dir, "apiserver", &pair)?;
    Ok(pair)
}

/// A client certificate at `<base>.crt/.key`, issued now unless a valid
/// one for the same subject from this CA is there.
fn ensure_client(base: &Path, ca: &Ca, user: &str, groups: &[&str]) -> anyhow::Result<CertAndKey> {
    if let Some(existing) = read_pair(base)? {
        if client_cert_current(ca, &existing.cert_pem, user, groups) {
            return Ok(existing);
        }
    }
    let pair = ca.issue_client(user, groups, LEAF_VALIDITY)?;
    let dir = base.parent().expect("a file under pki/");
    let name = base.file_name().expect("a file name").to_string_lossy();
    write_pair(dir, &name, &pair)?;
    Ok(pair)
}

/// Whether `cert_pem` names `user` in `groups`, verifies as a client
/// certificate under `ca` and is not about to expire.
fn client_cert_current(ca: &Ca, cert_pem: &str, user: &str, groups: &[&str]) -> bool {
    let subject_ok = pki::cert_subject(&first_der(cert_pem)).is_ok_and(|s| {
        s.common_name == user
            && s.organizations
                .iter()
                .map(String::as_str)
                .eq(groups.iter().copied())
    });
    let fresh = pki::cert_not_after(cert_pem).is_ok_and(|t| {
        t > chrono::Utc::now() + chrono::Duration::from_std(RENEW_BEFORE).expect("small")
    });
    subject_ok && fresh && pki::verify_client_cert(ca.cert_pem(), cert_pem).is_ok()
}

fn first_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .unwrap_or_default()
}

fn ensure_kubeconfig(
    path: &Path,
    ca: &Ca,
    server_url: &str,
    role: &str,
    user: &str,
    groups: &[&str],
) -> anyhow::Result<()> {
    if path.exists() {
        if let Ok(existing) = Kubeconfig::read(path) {
            if kubeconfig_current(&existing, ca, server_url, user, groups) {
                return Ok(());
            }
        }
        tracing::info!(path = %path.display(), "rewriting the kubeconfig (server, CA or credential changed)");
    }
    let cred = ca.issue_client(user, groups, LEAF_VALIDITY)?;
    let text = component_kubeconfig(server_url, ca.cert_pem(), role, &cred);
    write_file(path, text.as_bytes(), 0o600)
}

fn kubeconfig_current(
    kc: &Kubeconfig,
    ca: &Ca,
    server_url: &str,
    user: &str,
    groups: &[&str],
) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (Some(cluster), Some(u)) = (kc.clusters.first(), kc.users.first()) else {
        return false;
    };
    let ca_ok = cluster.cluster.certificate_authority_data.as_deref()
        == Some(b64.encode(ca.cert_pem()).as_str());
    let cert = u
        .user
        .client_certificate_data
        .as_deref()
        .and_then(|d| b64.decode(d).ok())
        .and_then(|d| String::from_utf8(d).ok());
    cluster.cluster.server == server_url
        && ca_ok
        && cert.is_some_and(|c| client_cert_current(ca, &c, user, groups))
}

/// A kubeconfig for `role` (cluster `tugboat`, context `tugboat`, user
/// `role`) with the CA and the credential inline.
pub fn component_kubeconfig(
    server_url: &str,
    ca_pem: &str,
    role: &str,
    cred: &CertAndKey,
) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut kc = cluster_only_kubeconfig_doc(server_url, ca_pem);
    kc.users.push(NamedUser {
        name: role.to_string(),
        user: User {
            client_certificate_data: Some(b64.encode(&cred.cert_pem)),
            client_key_data: Some(b64.encode(&cred.key_pem)),
            ..User::default()
        },
        origin: None,
    });
    kc.contexts.push(NamedContext {
        name: "tugboat".into(),
        context: KubeContext {
            cluster: "tugboat".into(),
            user: role.to_string(),
            ..KubeContext::default()
        },
    });
    kc.current_context = Some("tugboat".into());
    serde_yaml::to_string(&kc).expect("a kubeconfig serializes")
}

fn cluster_only_kubeconfig_doc(server_url: &str, ca_pem: &str) -> Kubeconfig {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut kc = Kubeconfig::default();
    kc.other.insert("apiVersion".into(), "v1".into());
    kc.other.insert("kind".into(), "Config".into());
    kc.clusters.push(NamedCluster {
        name: "tugboat".into(),
        cluster: Cluster {
            server: server_url.to_string(),
            certificate_authority_data: Some(b64.encode(ca_pem)),
            ..Cluster::default()
        },
        origin: None,
    });
    kc
}

/// The kubeconfig `kube-public/cluster-info` carries: the cluster only
/// (server and CA), as kubeadm writes it; joining nodes read it
/// anonymously and pin the CA by its hash.
pub fn cluster_info_kubeconfig(server_url: &str, ca_pem: &str) -> String {
    serde_yaml::to_string(&cluster_only_kubeconfig_doc(server_url, ca_pem))
        .expect("a kubeconfig serializes")
}

/// Create or refresh the ConfigMap `kube-public/cluster-info`.
pub async fn publish_cluster_info(server: &ApiServer, kubeconfig: &str) -> anyhow::Result<()> {
    use crate::objects::Attempt;
    let handler = server
        .registry
        .get("", "v1", "configmaps")
        .context("configmaps are served")?
        .clone();
    let info = handler.info();
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": kubeconfig},
    });
    for _ in 0..5 {
        match server
            .objects
            .get(info, "kube-public", "cluster-info")
            .await
        {
            Ok(current) => {
                if current
                    .object
                    .pointer("/data/kubeconfig")
                    .and_then(|v| v.as_str())
                    == Some(kubeconfig)
                {
                    return Ok(());
                }
                let mut updated = current.object.clone();
                updated["data"]["kubeconfig"] = kubeconfig.into();
                let updated = handler
                    .prepare_update(updated, &current.object)
                    .map_err(|e| anyhow::anyhow!(e.0.message))?;
                match server
                    .objects
                    .try_update(info, &current, updated, None, false)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.0.message))?
                {
                    Attempt::Done(_) => return Ok(()),
                    Attempt::Retry => continue,
                }
            }
            Err(e) if e.code() == 404 => {
                let object = handler
                    .prepare_create(body.clone(), "kube-public")
                    .map_err(|e| anyhow::anyhow!(e.0.message))?;
                match server.objects.insert(info, object, false).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.code() == 409 => continue,
                    Err(e) => bail!("creating kube-public/cluster-info: {}", e.0.message),
                }
            }
            Err(e) => bail!("reading kube-public/cluster-info: {}", e.0.message),
        }
    }
    bail!("kube-public/cluster-info kept changing while being written")
}

/// `--advertise-address` unless given: `--bind-address` unless it is
/// unspecified, then the host's primary IPv4 address (that of the
/// interface holding the default route, else the first non-loopback
/// one), else 127.0.0.1.
pub fn default_advertise_address(bind: IpAddr) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    primary_ipv4()
        .map(IpAddr::V4)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn primary_ipv4() -> Option<Ipv4Addr> {
    let default_iface = fs::read_to_string("/proc/net/route").ok().and_then(|t| {
        t.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
        })
    });
    let addrs = interface_ipv4s();
    let usable = |ip: &Ipv4Addr| !ip.is_loopback() && !ip.is_link_local();
    default_iface
        .and_then(|d| {
            addrs
                .iter()
                .find(|(i, ip)| *i == d && usable(ip))
                .map(|(_, ip)| *ip)
        })
        .or_else(|| addrs.iter().find(|(_, ip)| usable(ip)).map(|(_, ip)| *ip))
}

/// Every (interface, IPv4 address) of the host's network namespace.
fn interface_ipv4s() -> Vec<(String, Ipv4Addr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then
    // free with freeifaddrs.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                out.push((name, ip));
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// `<base>.crt` and `<base>.key` when both exist.
fn read_pair(base: &Path) -> anyhow::Result<Option<CertAndKey>> {
    let (cert, key) = (base.with_extension("crt"), base.with_extension("key"));
    if !(cert.exists() && key.exists()) {
        return Ok(None);
    }
    Ok(Some(CertAndKey {
        cert_pem: read(&cert)?,
        key_pem: read(&key)?,
    }))
}

fn write_pair(dir: &Path, name: &str, pair: &CertAndKey) -> anyhow::Result<()> {
    write_file(
        &dir.join(format!("{name}.key")),
        pair.key_pem.as_bytes(),
        0o600,
    )?;
    write_file(
        &dir.join(format!("{name}.crt")),
        pair.cert_pem.as_bytes(),
        0o644,
    )
}

/// Write atomically (a temporary file renamed over `path`) with `mode`.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
