//! Joining a node with a bootstrap token, as kubeadm and the kubelet do:
//!
//! - [`BootstrapToken`] and the Secret `kube-system/bootstrap-token-<id>`
//!   that makes it valid ([`create_token`], [`list_tokens`],
//!   [`delete_token`]; `tugctl token` and the cluster launcher use them);
//! - [`discover`]: fetch `kube-public/cluster-info` without trusting the
//!   server yet, pin its CA by `--discovery-token-ca-cert-hash`, and from
//!   then on verify the server with that CA;
//! - [`request_client_certificate`]: the CSR round trip that turns the
//!   bootstrap credential into the node's own client certificate
//!   (`system:node:<name>`, group `system:nodes`);
//! - [`node_kubeconfig`]: the kubeconfig the kubelet then runs with.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use tug_api::certificates::{
    CertificateSigningRequest, DENIED, FAILED, KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
};
use tug_api::core::{ConfigMap, Secret};
use tug_api::pki;

use crate::config::{Cluster, Context, Kubeconfig, NamedCluster, NamedContext, NamedUser, User};
use crate::{Api, Client, Config, DeleteParams, ListParams, PostParams, WatchEvent};

/// The namespace bootstrap token Secrets live in.
pub const TOKEN_NAMESPACE: &str = "kube-system";
/// The type of bootstrap token Secrets.
pub const TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The name prefix of bootstrap token Secrets.
pub const TOKEN_SECRET_PREFIX: &str = "bootstrap-token-";
/// The group every bootstrap token user is in.
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
/// The prefix every extra group of a token must have.
pub const BOOTSTRAPPERS_GROUP_PREFIX: &str = "system:bootstrappers:";
/// The group `tugctl token create` puts tokens in by default (kubeadm's).
pub const DEFAULT_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The user name prefix of bootstrap token users.
pub const BOOTSTRAP_USER_PREFIX: &str = "system:bootstrap:";
/// The group of node credentials.
pub const NODES_GROUP: &str = "system:nodes";
/// The user name prefix of node credentials.
pub const NODE_USER_PREFIX: &str = "system:node:";

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LEN: usize = 6;
const SECRET_LEN: usize = 16;

/// What can go wrong joining a node.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A token that is not `[a-z0-9]{6}.[a-z0-9]{16}`.
    #[error("the token {0:?} is not of the form [a-z0-9]{{6}}.[a-z0-9]{{16}}")]
    BadToken(String),
    /// The cluster's CA is not the one pinned by hash.
    #[error("the cluster CA of {server} has hash {actual}, which is none of the pinned --discovery-token-ca-cert-hash values ({expected}): refusing to trust it")]
    CaHashMismatch {
        /// The server asked.
        server: String,
        /// Its CA's hash.
        actual: String,
        /// The pinned hashes.
        expected: String,
    },
    /// `cluster-info` is missing or malformed.
    #[error("discovery from {server}: {message}")]
    Discovery {
        /// The server asked.
        server: String,
        /// What was wrong.
        message: String,
    },
    /// The CSR was denied or the signer failed.
    #[error("the certificate signing request {name} was {outcome}: {message}")]
    Refused {
        /// The CSR's name.
        name: String,
        /// `denied` or `failed`.
        outcome: &'static str,
        /// The condition's reason and message.
        message: String,
    },
    /// No certificate arrived in time.
    #[error("no certificate was issued for {name} within {waited:?}: is the controller-manager running with --cluster-signing-cert-file?")]
    Timeout {
        /// The CSR's name.
        name: String,
        /// How long it waited.
        waited: Duration,
    },
    /// Creating or reading certificates failed.
    #[error("{0}")]
    Pki(String),
    /// The API refused a request or could not be reached.
    #[error(transparent)]
    Client(#[from] crate::Error),
}

/// A bootstrap token, `<id>.<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// The public part (`[a-z0-9]{6}`).
    pub id: String,
    /// The secret part (`[a-z0-9]{16}`).
    pub secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    /// The secret part is not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.<redacted>)", self.id)
    }
}

impl std::fmt::Display for BootstrapToken {
    /// `<id>.<secret>`, what `--token` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.id, self.secret)
    }
}

fn is_token_part(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

impl BootstrapToken {
    /// A new random token.
    pub fn generate() -> BootstrapToken {
        let mut rng = rand::thread_rng();
        let mut part = |n: usize| -> String {
            (0..n)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        };
        BootstrapToken {
            id: part(ID_LEN),
            secret: part(SECRET_LEN),
        }
    }

    /// Parse `<id>.<secret>`.
    pub fn parse(text: &str) -> Result<BootstrapToken, BootstrapError> {
        match text.split_once('.') {
            Some((id, secret))
                if is_token_part(id, ID_LEN) && is_token_part(secret, SECRET_LEN) =>
            {
                Ok(BootstrapToken {
                    id: id.into(),
                    secret: secret.into(),
                })
            }
            _ => Err(BootstrapError::BadToken(text.to_string())),
        }
    }

    /// The name of its Secret in `kube-system`.
    pub fn secret_name(&self) -> String {
        format!("{TOKEN_SECRET_PREFIX}{}", self.id)
    }
}

/// What a new token is for.
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// How long it is valid; `None`: forever.
    pub ttl: Option<Duration>,
    /// Free text.
    pub description: String,
    /// Extra groups, each `system:bootstrappers:...`.
    pub groups: Vec<String>,
}

impl Default for TokenOptions {
    /// 24 hours, kubeadm's default group, authentication and signing.
    fn default() -> Self {
        TokenOptions {
            ttl: Some(Duration::from_secs(24 * 3600)),
            description: String::new(),
            groups: vec![DEFAULT_TOKEN_GROUP.to_string()],
        }
    }
}

/// The Secret that makes `token` valid (upstream's bootstrap token
/// format); created at `now`.
pub fn token_secret(
    token: &BootstrapToken,
    opts: &TokenOptions,
    now: DateTime<Utc>,
) -> Result<Secret, BootstrapError> {
    if let Some(bad) = opts.groups.iter().find(|g| {
        !g.starts_with(BOOTSTRAPPERS_GROUP_PREFIX) || g.len() == BOOTSTRAPPERS_GROUP_PREFIX.len()
    }) {
        return Err(BootstrapError::Pki(format!(
            "group {bad:?} of a bootstrap token must start with {BOOTSTRAPPERS_GROUP_PREFIX:?}"
        )));
    }
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        data.insert(k.to_string(), STANDARD.encode(v));
    };
    put("token-id", &token.id);
    put("token-secret", &token.secret);
    put("usage-bootstrap-authentication", "true");
    put("usage-bootstrap-signing", "true");
    if let Some(ttl) = opts.ttl {
        let expires = now
            + chrono::TimeDelta::from_std(ttl)
                .map_err(|_| BootstrapError::Pki(format!("ttl {ttl:?} is too long")))?;
        put(
            "expiration",
            &expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    if !opts.groups.is_empty() {
        put("auth-extra-groups", &opts.groups.join(","));
    }
    if !opts.description.is_empty() {
        put("description", &opts.description);
    }
    let mut secret = Secret {
        data,
        type_: TOKEN_SECRET_TYPE.to_string(),
        ..Default::default()
    };
    secret.metadata.name = token.secret_name();
    secret.metadata.namespace = TOKEN_NAMESPACE.to_string();
    Ok(secret)
}

/// A bootstrap token as `tugctl token list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenInfo {
    /// The token's id.
    pub id: String,
    /// When it expires; `None`: never.
    pub expiration: Option<DateTime<Utc>>,
    /// `authentication`, `signing`.
    pub usages: Vec<String>,
    /// Extra groups.
    pub groups: Vec<String>,
    /// Free text.
    pub description: String,
}

impl TokenInfo {
    /// Read a bootstrap token Secret; `None` for any other Secret.
    pub fn from_secret(secret: &Secret) -> Option<TokenInfo> {
        if secret.type_ != TOKEN_SECRET_TYPE {
            return None;
        }
        let get = |k: &str| -> String {
            secret
                .data
                .get(k)
                .and_then(|v| STANDARD.decode(v).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default()
        };
        let id = get("token-id");
        if id.is_empty() {
            return None;
        }
        let expiration = Some(get("expiration")).filter(|e| !e.is_empty()).map(|e| {
            DateTime::parse_from_rfc3339(&e)
                .map(|t| t.with_timezone(&Utc))
                // An unreadable expiration counts as expired, as upstream.
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        });
        let usages = ["authentication", "signing"]
            .into_iter()
            .filter(|u| get(&format!("usage-bootstrap-{u}")) == "true")
            .map(str::to_string)
            .collect();
        let groups = get("auth-extra-groups")
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        Some(TokenInfo {
            id,
            expiration,
            usages,
            groups,
            description: get("description"),
        })
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }
}

/// Create a new random token (the Secret in `kube-system`).
pub async fn create_token(
    client: &Client,
    opts: &TokenOptions,
) -> Result<BootstrapToken, BootstrapError> {
    let token = BootstrapToken::generate();
    let secret = token_secret(&token, opts, Utc::now())?;
    let api: Api<Secret> = Api::namespaced(client.clone(), TOKEN_NAMESPACE);
    api.create(&PostParams::default(), &secret).await?;
    Ok(token)
}

/// Every bootstrap token, by id.
pub async fn list_tokens(client: &Client) -> Result<Vec<TokenInfo>, BootstrapError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), TOKEN_NAMESPACE);
    let list = api.list(&ListParams::default()).await?;
    let mut tokens: Vec<TokenInfo> = list
        .items
        .iter()
        .filter_map(TokenInfo::from_secret)
        .collect();
    tokens.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(tokens)
}

/// Delete the token with `id` (or `<id>.<secret>`).
pub async fn delete_token(client: &Client, id: &str) -> Result<(), BootstrapError> {
    let id = id.split_once('.').map_or(id, |(id, _)| id);
    if !is_token_part(id, ID_LEN) {
        return Err(BootstrapError::BadToken(id.to_string()));
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), TOKEN_NAMESPACE);
    api.delete(
        &format!("{TOKEN_SECRET_PREFIX}{id}"),
        &DeleteParams::default(),
    )
    .await?;
    Ok(())
}

/// How discovery decides to trust the cluster's CA.
#[derive(Clone, Debug)]
pub enum CaPin {
    /// One of these `sha256:<hex>` hashes of the CA's public key.
    Hashes(Vec<String>),
    /// Trust whatever CA the server presents in `cluster-info`
    /// (`--discovery-token-unsafe-skip-ca-verification`).
    UnsafeSkip,
}

/// The CA of the cluster at `server`, from `kube-public/cluster-info`
/// fetched without verifying the server, checked against `pin`, then
/// fetched again verifying the server with it (so the answer did come
/// from a server holding that CA's certificate).
pub async fn discover(server: &str, pin: &CaPin) -> Result<String, BootstrapError> {
    let mut insecure = Config::new(server)?;
    insecure.accept_invalid_certs = true;
    let ca_pem = cluster_info_ca(Client::new(insecure)?, server).await?;
    let actual = pki::ca_cert_hash(&ca_pem).map_err(|e| BootstrapError::Discovery {
        server: server.to_string(),
        message: format!("the CA in cluster-info is not a certificate: {e}"),
    })?;
    if let CaPin::Hashes(expected) = pin {
        if !expected.iter().any(|h| h.eq_ignore_ascii_case(&actual)) {
            return Err(BootstrapError::CaHashMismatch {
                server: server.to_string(),
                actual,
                expected: expected.join(", "),
            });
        }
    }
    let mut verified = Config::new(server)?;
    verified.root_cert_pem = Some(ca_pem.clone().into_bytes());
    let again = cluster_info_ca(Client::new(verified)?, server).await?;
    if again != ca_pem {
        return Err(BootstrapError::Discovery {
            server: server.to_string(),
            message: "cluster-info changed between the unverified and the verified fetch".into(),
        });
    }
    Ok(ca_pem)
}

/// The CA PEM of the kubeconfig in `kube-public/cluster-info`.
async fn cluster_info_ca(client: Client, server: &str) -> Result<String, BootstrapError> {
    let fail = |message: String| BootstrapError::Discovery {
        server: server.to_string(),
        message,
    };
    let api: Api<ConfigMap> = Api::namespaced(client, "kube-public");
    let cm = api.get("cluster-info").await?;
    let text = cm
        .data
        .get("kubeconfig")
        .ok_or_else(|| fail("the ConfigMap kube-public/cluster-info has no kubeconfig".into()))?;
    cluster_ca_of(text).map_err(fail)
}

/// The CA of the first cluster of a kubeconfig, as PEM.
pub fn cluster_ca_of(kubeconfig: &str) -> Result<String, String> {
    let kc = Kubeconfig::parse(kubeconfig)?;
    let data = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.certificate_authority_data.clone())
        .ok_or("the cluster-info kubeconfig has no certificate-authority-data")?;
    let pem = STANDARD
        .decode(data.trim())
        .map_err(|e| format!("certificate-authority-data is not base64: {e}"))?;
    String::from_utf8(pem).map_err(|_| "certificate-authority-data is not PEM".to_string())
}

/// A node's client credential: certificate and key, PEM.
#[derive(Clone)]
pub struct NodeCredential {
    /// The issued certificate (chain), PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

/// Ask for a client certificate for node `node_name` with the bootstrap
/// credential of `client`: create a CSR for `system:node:<name>` in
/// `system:nodes` to the kubelet signer and wait up to `timeout` for its
/// certificate.
pub async fn request_client_certificate(
    client: &Client,
    node_name: &str,
    timeout: Duration,
) -> Result<NodeCredential, BootstrapError> {
    let user = format!("{NODE_USER_PREFIX}{node_name}");
    let (csr_pem, key_pem) = pki::new_client_csr(&user, &[NODES_GROUP])
        .map_err(|e| BootstrapError::Pki(e.to_string()))?;
    let mut csr = CertificateSigningRequest::default();
    csr.metadata.generate_name = "csr-".into();
    csr.spec.request = STANDARD.encode(&csr_pem);
    csr.spec.signer_name = KUBE_APISERVER_CLIENT_KUBELET_SIGNER.into();
    csr.spec.usages = vec!["digital signature".into(), "client auth".into()];
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let created = api.create(&PostParams::default(), &csr).await?;
    let name = created.metadata.name.clone();
    tracing::info!(csr = %name, node = node_name, "waiting for the node client certificate");
    let issued = tokio::time::timeout(timeout, wait_for_certificate(&api, &name))
        .await
        .map_err(|_| BootstrapError::Timeout {
            name: name.clone(),
            waited: timeout,
        })??;
    Ok(NodeCredential {
        cert_pem: issued,
        key_pem,
    })
}

/// The certificate of CSR `name` once issued, or why it never will be.
fn outcome(csr: &CertificateSigningRequest) -> Option<Result<String, BootstrapError>> {
    for (type_, outcome) in [(DENIED, "denied"), (FAILED, "failed")] {
        if let Some(c) = csr.condition(type_).filter(|c| c.status != "False") {
            return Some(Err(BootstrapError::Refused {
                name: csr.metadata.name.clone(),
                outcome,
                message: format!("{}: {}", c.reason, c.message),
            }));
        }
    }
    if csr.status.certificate.is_empty() {
        return None;
    }
    Some(
        STANDARD
            .decode(csr.status.certificate.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| BootstrapError::Pki("the issued certificate is not base64 PEM".into())),
    )
}

/// Watch CSR `name` (re-reading it whenever the watch ends) until it has
/// an outcome.
async fn wait_for_certificate(
    api: &Api<CertificateSigningRequest>,
    name: &str,
) -> Result<String, BootstrapError> {
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    loop {
        let current = api.get(name).await?;
        if let Some(done) = outcome(&current) {
            return done;
        }
        let mut events = match api.watch(&params, &current.metadata.resource_version).await {
            Ok(e) => e,
            Err(crate::Error::Gone(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(csr) | WatchEvent::Modified(csr)) => {
                    if let Some(done) = outcome(&csr) {
                        return done;
                    }
                }
                Ok(WatchEvent::Deleted(_)) => {
                    return Err(BootstrapError::Refused {
                        name: name.to_string(),
                        outcome: "deleted",
                        message: "it was deleted before a certificate was issued".into(),
                    })
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

/// A kubeconfig for `server` trusting `ca_pem` with the client
/// credential `identity` inline (user `name`), as the kubelet writes
/// once it has its certificate.
pub fn node_kubeconfig(
    server: &str,
    ca_pem: &str,
    user: &str,
    cred: &NodeCredential,
) -> Kubeconfig {
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: "default-cluster".into(),
            cluster: Cluster {
                server: server.to_string(),
                certificate_authority_data: Some(STANDARD.encode(ca_pem)),
                ..Default::default()
            },
            origin: None,
        }],
        users: vec![NamedUser {
            name: user.to_string(),
            user: User {
                client_certificate_data: Some(STANDARD.encode(&cred.cert_pem)),
                client_key_data: Some(STANDARD.encode(&cred.key_pem)),
                ..Default::default()
            },
            origin: None,
        }],
        contexts: vec![NamedContext {
            name: "default-context".into(),
            context: Context {
                cluster: "default-cluster".into(),
                user: user.to_string(),
                ..Default::default()
            },
        }],
        current_context: Some("default-context".into()),
        other: [("apiVersion", "v1"), ("kind", "Config")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_yaml::Value::String(v.to_string())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_upstream_shape() {
        let t = BootstrapToken::generate();
        assert_eq!(BootstrapToken::parse(&t.to_string()).unwrap(), t);
        assert_eq!(t.secret_name(), format!("bootstrap-token-{}", t.id));
        assert!(
            !format!("{t:?}").contains(&t.secret),
            "the secret is not logged"
        );
        for bad in [
            "abcdef",
            "abcdef.0123456789abcdeF",
            "abc.0123456789abcdef",
            "abcdef:0123456789abcdef",
        ] {
            assert!(BootstrapToken::parse(bad).is_err(), "{bad}");
        }
        assert!(BootstrapToken::parse("abcdef.0123456789abcdef").is_ok());
    }

    #[test]
    fn the_secret_round_trips_and_expires() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let now = Utc::now();
        let opts = TokenOptions {
            ttl: Some(Duration::from_secs(3600)),
            description: "for node-3".into(),
            groups: vec![DEFAULT_TOKEN_GROUP.into()],
        };
        let secret = token_secret(&token, &opts, now).unwrap();
        assert_eq!(secret.metadata.name, "bootstrap-token-abcdef");
        assert_eq!(secret.metadata.namespace, "kube-system");
        assert_eq!(secret.type_, "bootstrap.kubernetes.io/token");
        assert_eq!(
            secret.data["token-secret"],
            STANDARD.encode("0123456789abcdef")
        );
        let info = TokenInfo::from_secret(&secret).unwrap();
        assert_eq!(info.id, "abcdef");
        assert_eq!(info.usages, vec!["authentication", "signing"]);
        assert_eq!(info.groups, vec![DEFAULT_TOKEN_GROUP]);
        assert_eq!(info.description, "for node-3");
        assert!(!info.is_expired(now));
        assert!(info.is_expired(now + chrono::TimeDelta::seconds(3601)));
        let forever = token_secret(
            &token,
            &TokenOptions {
                ttl: None,
                ..opts.clone()
            },
            now,
        )
        .unwrap();
        assert!(!TokenInfo::from_secret(&forever)
            .unwrap()
            .is_expired(now + chrono::TimeDelta::days(3650)));
        let bad_group = TokenOptions {
            groups: vec!["system:masters".into()],
            ..opts
        };
        assert!(
            token_secret(&token, &bad_group, now).is_err(),
            "no escalation through extra groups"
        );
        assert!(TokenInfo::from_secret(&Secret::default()).is_none());
    }

    #[test]
    fn the_ca_comes_from_the_cluster_info_kubeconfig() {
        let kc = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: {}\n",
            STANDARD.encode("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        );
        assert!(cluster_ca_of(&kc)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(cluster_ca_of("apiVersion: v1\nkind: Config\nclusters: []\n").is_err());
    }

    #[test]
    fn a_denied_request_says_why() {
        let mut csr = CertificateSigningRequest::default();
        csr.metadata.name = "csr-x".into();
        assert!(outcome(&csr).is_none(), "pending");
        csr.status
            .conditions
            .push(tug_api::certificates::CertificateSigningRequestCondition {
                type_: DENIED.into(),
                status: "True".into(),
                reason: "NotMine".into(),
                message: "wrong node".into(),
                ..Default::default()
            });
        let e = outcome(&csr).unwrap().unwrap_err().to_string();
        assert_eq!(
            e,
            "the certificate signing request csr-x was denied: NotMine: wrong node"
        );
    }
}
