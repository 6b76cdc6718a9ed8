//! The kubelet's credentials at start-up (upstream's
//! `bootstrap.LoadClientCert`): a kubeconfig whose client certificate is
//! still valid is used as is; otherwise, given a bootstrap token (or a
//! bootstrap kubeconfig), the kubelet discovers and pins the cluster CA,
//! asks for its own `system:node:<name>` certificate through a CSR, and
//! writes `<root-dir>/pki/kubelet-client-current.pem` and the kubeconfig
//! (both 0600) that it, and tug-proxy on this node, then run with.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use tug_api::pki;
use tug_client::bootstrap::{self, BootstrapToken, CaPin, NodeCredential, NODE_USER_PREFIX};
use tug_client::{Client, Config, KubeconfigOptions};

use crate::flags::Flags;

/// How long the kubelet waits for its certificate.
const CSR_TIMEOUT: Duration = Duration::from_secs(300);
/// A certificate this close to expiry is not used; the kubelet
/// bootstraps again instead.
const EXPIRY_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The file holding the node's client certificate and key.
pub const CLIENT_CERT_FILE: &str = "pki/kubelet-client-current.pem";

/// What the kubelet runs with.
pub struct Credentials {
    /// The API client.
    pub client: Client,
    /// The CA client certificates of its own API must be signed by
    /// (`--client-ca-file`, else the CA of its kubeconfig).
    pub client_ca_pem: Option<String>,
}

/// Write `bytes` to `path` readable by the owner only, atomically
/// (a temporary file renamed over it), creating the directory.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Whether the kubelet joins with a bootstrap credential.
fn bootstrapping(flags: &Flags) -> bool {
    flags.join.token.is_some() || flags.join.bootstrap_kubeconfig.is_some()
}

/// The kubeconfig the kubelet runs with: `--kubeconfig`, else
/// `<root-dir>/kubeconfig` when bootstrapping.
pub fn kubeconfig_path(flags: &Flags) -> Option<PathBuf> {
    flags
        .connection
        .kubeconfig
        .clone()
        .or_else(|| bootstrapping(flags).then(|| flags.runc.root_dir.join("kubeconfig")))
}

/// The client configuration of `path` if its client certificate is
/// valid for a while yet.
fn usable_kubeconfig(path: &Path, master: Option<&str>) -> Option<Config> {
    if !path.exists() {
        return None;
    }
    let config = Config::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(path.to_path_buf()),
        server: master.map(str::to_string),
        ..Default::default()
    })
    .ok()?;
    let identity = String::from_utf8(config.identity_pem.clone()?).ok()?;
    let not_after = pki::cert_not_after(&identity).ok()?;
    (not_after - EXPIRY_MARGIN > Utc::now()).then_some(config)
}

/// Settle the kubelet's credentials for the nodes `node_names` (see the
/// module docs).
pub async fn credentials(flags: &Flags, node_names: &[String]) -> anyhow::Result<Credentials> {
    let master = flags.connection.master.as_deref();
    let config = match kubeconfig_path(flags) {
        Some(path) if bootstrapping(flags) => match usable_kubeconfig(&path, master) {
            Some(config) => config,
            None => {
                let [node] = node_names else {
                    bail!("a bootstrap token joins one node: --hollow-nodes must be 1 with --token or --bootstrap-kubeconfig");
                };
                join(flags, node, &path).await?;
                usable_kubeconfig(&path, master).with_context(|| {
                    format!(
                        "{} holds no usable client certificate after bootstrap",
                        path.display()
                    )
                })?
            }
        },
        _ => Config::from_kubeconfig(&KubeconfigOptions {
            kubeconfig: flags.connection.kubeconfig.clone(),
            server: master.map(str::to_string),
            ..Default::default()
        })?,
    };
    let client_ca_pem = match &flags.join.client_ca_file {
        Some(file) => Some(
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
        ),
        None => config
            .root_cert_pem
            .clone()
            .and_then(|pem| String::from_utf8(pem).ok()),
    };
    Ok(Credentials {
        client: Client::new(config)?,
        client_ca_pem,
    })
}

/// Join as `node`: discover the server and CA, get a certificate, write
/// it and the kubeconfig at `kubeconfig`.
async fn join(flags: &Flags, node: &str, kubeconfig: &Path) -> anyhow::Result<()> {
    let (bootstrap_config, ca_pem) = match (&flags.join.token, &flags.join.bootstrap_kubeconfig) {
        (Some(token), _) => {
            let token = BootstrapToken::parse(token)?;
            let master = flags
                .connection
                .master
                .as_deref()
                .context("--token needs --master https://<apiserver>:6443")?;
            let pin = if flags.join.discovery_token_unsafe_skip_ca_verification {
                tracing::warn!("--discovery-token-unsafe-skip-ca-verification: trusting whatever CA {master} presents");
                CaPin::UnsafeSkip
            } else if flags.join.discovery_token_ca_cert_hash.is_empty() {
                bail!("--token needs --discovery-token-ca-cert-hash sha256:<hash> (or --discovery-token-unsafe-skip-ca-verification)");
            } else {
                CaPin::Hashes(flags.join.discovery_token_ca_cert_hash.clone())
            };
            let ca_pem = bootstrap::discover(master, &pin)
                .await
                .context("discovering the cluster")?;
            let mut config = Config::new(master)?;
            config.root_cert_pem = Some(ca_pem.clone().into_bytes());
            config.token = Some(token.to_string());
            (config, ca_pem)
        }
        (None, Some(path)) => {
            let config = Config::from_kubeconfig(&KubeconfigOptions {
                kubeconfig: Some(path.clone()),
                server: flags.connection.master.clone(),
                ..Default::default()
            })?;
            let ca_pem = config
                .root_cert_pem
                .clone()
                .and_then(|p| String::from_utf8(p).ok())
                .with_context(|| format!("{} names no certificate authority", path.display()))?;
            (config, ca_pem)
        }
        (None, None) => bail!("nothing to bootstrap with"),
    };
    let server = bootstrap_config
        .cluster_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    tracing::info!(node, %server, "joining the cluster with a bootstrap credential");
    let client = Client::new(bootstrap_config)?;
    let cred = bootstrap::request_client_certificate(&client, node, CSR_TIMEOUT)
        .await
        .context("getting the node's client certificate")?;
    save(
        &flags.runc.root_dir,
        kubeconfig,
        &server,
        &ca_pem,
        node,
        &cred,
    )?;
    tracing::info!(node, kubeconfig = %kubeconfig.display(), "joined: the node client certificate is issued");
    Ok(())
}

/// Write the certificate file and the kubeconfig.
fn save(
    root_dir: &Path,
    kubeconfig: &Path,
    server: &str,
    ca_pem: &str,
    node: &str,
    cred: &NodeCredential,
) -> anyhow::Result<()> {
    let mut pem = cred.cert_pem.clone();
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem.push_str(&cred.key_pem);
    write_private(&root_dir.join(CLIENT_CERT_FILE), pem.as_bytes())?;
    let user = format!("{NODE_USER_PREFIX}{node}");
    let kc = bootstrap::node_kubeconfig(server, ca_pem, &user, cred);
    let text = serde_yaml::to_string(&kc).context("encoding the kubeconfig")?;
    write_private(kubeconfig, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_issued_credential_is_saved_private_and_then_used() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::new_ca("test-ca").unwrap();
        let signer = pki::Ca::from_pem(&ca.cert_pem, &ca.key_pem).unwrap();
        let (csr, key_pem) = pki::new_client_csr("system:node:n1", &["system:nodes"]).unwrap();
        let cert_pem = signer
            .sign_client_csr(&csr, Duration::from_secs(3600))
            .unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let cred = NodeCredential { cert_pem, key_pem };
        save(
            dir.path(),
            &kubeconfig,
            "https://10.0.0.1:6443",
            &ca.cert_pem,
            "n1",
            &cred,
        )
        .unwrap();
        for f in [kubeconfig.clone(), dir.path().join(CLIENT_CERT_FILE)] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        let config = usable_kubeconfig(&kubeconfig, None).expect("a fresh certificate is used");
        assert_eq!(config.cluster_url.as_str(), "https://10.0.0.1:6443/");
        assert_eq!(
            config.root_cert_pem.as_deref(),
            Some(ca.cert_pem.as_bytes())
        );

        let (csr, key_pem) = pki::new_client_csr("system:node:n1", &["system:nodes"]).unwrap();
        let short = signer
            .sign_client_csr(&csr, Duration::from_secs(30))
            .unwrap();
        let cred = NodeCredential {
            cert_pem: short,
            key_pem,
        };
        save(
            dir.path(),
            &kubeconfig,
            "https://10.0.0.1:6443",
            &ca.cert_pem,
            "n1",
            &cred,
        )
        .unwrap();
        assert!(
            usable_kubeconfig(&kubeconfig, None).is_none(),
            "about to expire: bootstrap again"
        );
    }
}
