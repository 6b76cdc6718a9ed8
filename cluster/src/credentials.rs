//! The cluster's credentials, as the launcher hands them out: the
//! apiserver generates the CA and the control plane's kubeconfigs in its
//! data directory on first start; runc nodes join with a bootstrap token
//! and get their own certificates; the user gets the admin's.

use std::path::Path;
use std::time::{Duration, Instant};

use tug_client::bootstrap::{create_token, TokenOptions};
use tug_client::config::{Cluster as KubeCluster, Kubeconfig, User};
use tug_client::{Client, Config, KubeconfigOptions};

use crate::error::{io, Error, Result};
use crate::paths;

/// How long a join token the launcher makes stays valid (kubeadm's
/// default). A node that joined keeps its certificate after that.
pub const JOIN_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// What a runc node joins with.
#[derive(Clone, Debug)]
pub struct JoinCredentials {
    /// `<id>.<secret>`.
    pub token: String,
    /// `sha256:<hex>` of the cluster CA's public key.
    pub ca_cert_hash: String,
}

/// The admin's kubeconfig the apiserver generated in `state_dir`.
pub fn admin_kubeconfig(state_dir: &Path) -> std::path::PathBuf {
    paths::generated_kubeconfig(state_dir, "admin")
}

/// A client with the admin's credential, once the apiserver has written
/// it; `None` before.
pub fn admin_client(state_dir: &Path) -> Result<Option<Client>> {
    let path = admin_kubeconfig(state_dir);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(Client::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(path),
        ..Default::default()
    })?))
}

/// The best client a recorded cluster offers: the kubeconfig written for
/// it, else the admin's, else one without credentials (which reaches
/// nothing but shows the URL in errors).
pub fn client_of(state_dir: &Path, kubeconfig: &Path, url: &str) -> Result<Client> {
    if kubeconfig.exists() {
        return Ok(Client::from_kubeconfig(&KubeconfigOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            ..Default::default()
        })?);
    }
    match admin_client(state_dir)? {
        Some(client) => Ok(client),
        None => Ok(Client::new(Config::new(url)?)?),
    }
}

/// From the admin kubeconfig the apiserver generated, the cluster entry
/// (its CA) and the admin user (client certificate), for the user's
/// kubeconfig.
pub fn admin_entries(state_dir: &Path) -> Result<(KubeCluster, User)> {
    let path = admin_kubeconfig(state_dir);
    let config = Kubeconfig::read(&path)?;
    let invalid = |what: &str| Error::Invalid(format!("{} has no {what}", path.display()));
    let context = config
        .current_context
        .as_deref()
        .and_then(|name| config.context(name))
        .or_else(|| config.contexts.first())
        .ok_or_else(|| invalid("context"))?;
    let cluster = config
        .cluster(&context.context.cluster)
        .ok_or_else(|| invalid("cluster for its context"))?;
    let user = config
        .user(&context.context.user)
        .ok_or_else(|| invalid("user for its context"))?;
    Ok((cluster.cluster.clone(), user.user.clone()))
}

/// A bootstrap token for nodes to join with, and the CA's hash they pin.
pub async fn join_credentials(client: &Client, state_dir: &Path) -> Result<JoinCredentials> {
    let ca_path = paths::pki_dir(state_dir).join("ca.crt");
    let ca = std::fs::read_to_string(&ca_path)
        .map_err(io(format!("reading the cluster CA {}", ca_path.display())))?;
    let ca_cert_hash = tug_api::pki::ca_cert_hash(&ca)
        .map_err(|e| Error::Invalid(format!("the cluster CA {}: {e}", ca_path.display())))?;
    let options = TokenOptions {
        ttl: Some(JOIN_TOKEN_TTL),
        description: "joins the nodes of a tugctl cluster".into(),
        ..Default::default()
    };
    let token = create_token(client, &options)
        .await
        .map_err(|e| Error::Invalid(format!("creating a join token: {e}")))?;
    Ok(JoinCredentials {
        token: token.to_string(),
        ca_cert_hash,
    })
}

/// Wait until `path` exists (a joining kubelet writes its kubeconfig once
/// its certificate is signed), or `deadline`.
pub async fn wait_for_file(path: &Path, deadline: Instant) -> bool {
    loop {
        if path.exists() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
