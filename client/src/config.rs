//! Client configuration from a kubeconfig file, as kubectl reads it.
//!
//! The same file works for kubectl and tugctl: `clusters` (server URL and
//! how to trust it), `users` (bearer token or client certificate),
//! `contexts` (a cluster + a user + a default namespace) and
//! `current-context`. Which files are read follows kubectl:
//!
//! 1. `--kubeconfig PATH` ([`KubeconfigOptions::kubeconfig`]): exactly that file;
//! 2. else `$KUBECONFIG`, a colon-separated list: every file that exists,
//!    merged — for clusters, users and contexts the first file that names
//!    an entry wins, and the first `current-context` wins;
//! 3. else `~/.kube/config`.
//!
//! kubectl's global flags (`--context`, `--cluster`, `--user`, `-s/--server`,
//! `--token`, `--insecure-skip-tls-verify`, `-n/--namespace`) override what
//! the file says. With `--server` and no kubeconfig at all the client talks
//! to that server with no credentials.
//!
//! Relative file paths in a kubeconfig (`certificate-authority: ca.crt`)
//! are relative to the directory of the file that holds them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The namespace used when neither the flags nor the context name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A kubeconfig document (`kind: Config`). Unknown fields are kept so a
/// file can be rewritten (`config use-context`) without losing them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// Named clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<NamedCluster>,
    /// Named users (credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<NamedUser>,
    /// Named contexts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<NamedContext>,
    /// The context used when `--context` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    /// `apiVersion`, `kind`, `preferences`, `extensions`, ...
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

/// One entry of `clusters`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamedCluster {
    /// The name contexts refer to it by.
    pub name: String,
    /// The cluster itself.
    #[serde(default)]
    pub cluster: Cluster,
    /// The directory of the file this entry came from (for relative paths).
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

/// How to reach and trust one API server.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    /// The API server URL (`https://10.0.0.1:6443`).
    #[serde(default)]
    pub server: String,
    /// PEM file of the CA that signed the server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<PathBuf>,
    /// The same CA, base64-encoded PEM inline (wins over the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// Do not verify the server's certificate at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// `tls-server-name`, `proxy-url`, `extensions`, ... (kept, not used).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

/// One entry of `users`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamedUser {
    /// The name contexts refer to it by.
    pub name: String,
    /// The credentials.
    #[serde(default)]
    pub user: User,
    /// The directory of the file this entry came from (for relative paths).
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

/// Credentials (`AuthInfo` upstream).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// File holding the bearer token (kubectl spells it `tokenFile`).
    #[serde(
        default,
        rename = "tokenFile",
        alias = "token-file",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_file: Option<PathBuf>,
    /// PEM file of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<PathBuf>,
    /// The client certificate, base64-encoded PEM inline (wins over the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// PEM file of the client certificate's private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// The private key, base64-encoded PEM inline (wins over the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<String>,
    /// `exec`, `auth-provider`, `username`, ... (kept, not used).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

impl fmt::Debug for User {
    /// Secrets are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("client_certificate", &self.client_certificate)
            .field(
                "client_certificate_data",
                &self.client_certificate_data.as_ref().map(|_| "<redacted>"),
            )
            .field("client_key", &self.client_key)
            .field(
                "client_key_data",
                &self.client_key_data.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// One entry of `contexts`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamedContext {
    /// The name `--context` and `current-context` use.
    pub name: String,
    /// The context itself.
    #[serde(default)]
    pub context: Context,
}

/// A cluster, a user and a default namespace.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Context {
    /// Name of an entry of `clusters`.
    #[serde(default)]
    pub cluster: String,
    /// Name of an entry of `users` (empty: no credentials).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Default namespace (`default` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `extensions`, ... (kept, not used).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

impl Kubeconfig {
    /// Parse one kubeconfig file; relative paths in it are resolved
    /// against its directory later, when used.
    pub fn read(path: &Path) -> Result<Kubeconfig> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Kubeconfig::parse(&text)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let dir = path.parent().map(Path::to_path_buf);
        for c in &mut config.clusters {
            c.origin = dir.clone();
        }
        for u in &mut config.users {
            u.origin = dir.clone();
        }
        Ok(config)
    }

    /// Parse kubeconfig YAML (or JSON).
    pub fn parse(text: &str) -> std::result::Result<Kubeconfig, String> {
        if text.trim().is_empty() {
            return Ok(Kubeconfig::default());
        }
        serde_yaml::from_str(text).map_err(|e| format!("not a valid kubeconfig: {e}"))
    }

    /// Merge `other` under `self`: entries `self` already names win, as the
    /// first file in `$KUBECONFIG` wins.
    pub fn merge(mut self, other: Kubeconfig) -> Kubeconfig {
        for c in other.clusters {
            if !self.clusters.iter().any(|x| x.name == c.name) {
                self.clusters.push(c);
            }
        }
        for u in other.users {
            if !self.users.iter().any(|x| x.name == u.name) {
                self.users.push(u);
            }
        }
        for c in other.contexts {
            if !self.contexts.iter().any(|x| x.name == c.name) {
                self.contexts.push(c);
            }
        }
        if self.current_context.as_deref().unwrap_or("").is_empty() {
            self.current_context = other.current_context;
        }
        for (k, v) in other.other {
            self.other.entry(k).or_insert(v);
        }
        self
    }

    /// The context called `name`.
    pub fn context(&self, name: &str) -> Option<&NamedContext> {
        self.contexts.iter().find(|c| c.name == name)
    }
    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&NamedCluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
    /// The user called `name`.
    pub fn user(&self, name: &str) -> Option<&NamedUser> {
        self.users.iter().find(|c| c.name == name)
    }
}

/// Where to find the kubeconfig and what to override in it: kubectl's
/// global flags. Everything `None`/`false` means "as the file says".
#[derive(Clone, Debug, Default)]
pub struct KubeconfigOptions {
    /// `--kubeconfig`: read exactly this file (it must exist).
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: use this context instead of `current-context`.
    pub context: Option<String>,
    /// `--cluster`: use this cluster entry instead of the context's.
    pub cluster: Option<String>,
    /// `--user`: use this user entry instead of the context's.
    pub user: Option<String>,
    /// `-s/--server`: the API server URL.
    pub server: Option<String>,
    /// `--token`: bearer token.
    pub token: Option<String>,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_tls_verify: bool,
    /// `-n/--namespace`.
    pub namespace: Option<String>,
}

/// Everything needed to build a [`Client`](crate::Client).
#[derive(Clone)]
pub struct Config {
    /// Base URL of the API server (`https://10.0.0.1:6443`).
    pub cluster_url: Url,
    /// Namespace for namespaced calls that do not name one.
    pub default_namespace: String,
    /// PEM CA bundle to trust instead of the built-in roots.
    pub root_cert_pem: Option<Vec<u8>>,
    /// Skip server certificate verification.
    pub accept_invalid_certs: bool,
    /// Bearer token sent as `Authorization: Bearer ...`.
    pub token: Option<String>,
    /// Client certificate chain followed by its private key, PEM.
    pub identity_pem: Option<Vec<u8>>,
    /// Timeout of a whole request (not of watches, which stream).
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// The context this came from, if any (for messages).
    pub context: Option<String>,
}

impl fmt::Debug for Config {
    /// Secrets are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("cluster_url", &self.cluster_url.as_str())
            .field("default_namespace", &self.default_namespace)
            .field("root_cert_pem", &self.root_cert_pem.is_some())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("identity_pem", &self.identity_pem.is_some())
            .field("timeout", &self.timeout)
            .field("context", &self.context)
            .finish()
    }
}

impl Config {
    /// A configuration for `server_url` with no credentials and the
    /// `default` namespace. A URL without a scheme is taken as `http://`.
    pub fn new(server_url: &str) -> Result<Config> {
        Ok(Config {
            cluster_url: parse_server_url(server_url, false)?,
            default_namespace: DEFAULT_NAMESPACE.to_string(),
            root_cert_pem: None,
            accept_invalid_certs: false,
            token: None,
            identity_pem: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            context: None,
        })
    }

    /// Load the kubeconfig that `opts` and the environment point at and
    /// apply `opts`' overrides (see the module docs for the rules).
    pub fn from_kubeconfig(opts: &KubeconfigOptions) -> Result<Config> {
        let (kubeconfig, sources) = load_kubeconfig(opts)?;
        match kubeconfig {
            Some(kc) => Config::from_loaded(&kc, &sources, opts),
            None => match &opts.server {
                Some(server) => {
                    let mut config = Config::new(server)?;
                    apply_flag_overrides(&mut config, opts);
                    Ok(config)
                }
                None => Err(Error::Config(format!(
                    "no kubeconfig found at {}; pass --server or --kubeconfig",
                    sources
                ))),
            },
        }
    }

    /// Build a configuration from an already loaded kubeconfig. `sources`
    /// names the file(s) it came from, for error messages.
    pub fn from_loaded(kc: &Kubeconfig, sources: &str, opts: &KubeconfigOptions) -> Result<Config> {
        let context_name = opts
            .context
            .clone()
            .or_else(|| kc.current_context.clone())
            .filter(|s| !s.is_empty());
        let context = match &context_name {
            Some(name) => Some(kc.context(name).ok_or_else(|| {
                Error::Config(format!("context \"{name}\" does not exist in {sources}"))
            })?),
            None => None,
        };
        if context.is_none() && opts.server.is_none() && opts.cluster.is_none() {
            return Err(Error::Config(format!(
                "{sources} has no current-context; pass --context or --server \
                 (or run `tugctl config use-context NAME`)"
            )));
        }
        let ctx = context.map(|c| c.context.clone()).unwrap_or_default();

        let cluster_name = opts.cluster.clone().unwrap_or(ctx.cluster.clone());
        let cluster = if cluster_name.is_empty() {
            None
        } else {
            match kc.cluster(&cluster_name) {
                Some(c) => Some(c),
                None if opts.server.is_some() => None,
                None => {
                    return Err(Error::Config(format!(
                        "cluster \"{cluster_name}\" does not exist in {sources}{}",
                        context_name
                            .as_ref()
                            .map(|c| format!(" (context \"{c}\")"))
                            .unwrap_or_default()
                    )))
                }
            }
        };

        let user_name = opts.user.clone().unwrap_or(ctx.user.clone());
        let user = if user_name.is_empty() {
            None
        } else {
            Some(kc.user(&user_name).ok_or_else(|| {
                Error::Config(format!("user \"{user_name}\" does not exist in {sources}"))
            })?)
        };

        let server = match (&opts.server, cluster) {
            (Some(s), _) => s.clone(),
            (None, Some(c)) if !c.cluster.server.is_empty() => c.cluster.server.clone(),
            (None, _) => {
                return Err(Error::Config(format!(
                    "cluster \"{cluster_name}\" in {sources} has no server; pass --server"
                )))
            }
        };

        let insecure = opts.insecure_skip_tls_verify
            || cluster
                .and_then(|c| c.cluster.insecure_skip_tls_verify)
                .unwrap_or(false);
        let root_cert_pem = match cluster {
            Some(c) if !insecure => read_data_or_file(
                c.cluster.certificate_authority_data.as_deref(),
                c.cluster.certificate_authority.as_deref(),
                c.origin.as_deref(),
                "certificate-authority-data",
            )?,
            _ => None,
        };

        let mut token = None;
        let mut identity_pem = None;
        if let Some(u) = user {
            let base = u.origin.as_deref();
            token = match (&u.user.token, &u.user.token_file) {
                (Some(t), _) if !t.is_empty() => Some(t.clone()),
                (_, Some(path)) => {
                    let path = resolve(base, path);
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| Error::ReadFile { path, source })?;
                    Some(text.trim().to_string())
                }
                _ => None,
            };
            let cert = read_data_or_file(
                u.user.client_certificate_data.as_deref(),
                u.user.client_certificate.as_deref(),
                base,
                "client-certificate-data",
            )?;
            let key = read_data_or_file(
                u.user.client_key_data.as_deref(),
                u.user.client_key.as_deref(),
                base,
                "client-key-data",
            )?;
            identity_pem = match (cert, key) {
                (Some(mut cert), Some(key)) => {
                    if !cert.ends_with(b"\n") {
                        cert.push(b'\n');
                    }
                    cert.extend_from_slice(&key);
                    Some(cert)
                }
                (None, None) => None,
                (Some(_), None) => {
                    return Err(Error::Config(format!(
                    "user \"{user_name}\" in {sources} has a client certificate but no client key"
                )))
                }
                (None, Some(_)) => {
                    return Err(Error::Config(format!(
                    "user \"{user_name}\" in {sources} has a client key but no client certificate"
                )))
                }
            };
            if token.is_none() && identity_pem.is_none() && u.user.other.contains_key("exec") {
                return Err(Error::Config(format!(
                    "user \"{user_name}\" in {sources} uses an exec credential plugin, \
                     which tugctl does not support; use a token or a client certificate"
                )));
            }
        }

        let tls = insecure || root_cert_pem.is_some() || identity_pem.is_some();
        let mut config = Config::new(&server)?;
        config.cluster_url = parse_server_url(&server, tls)?;
        config.root_cert_pem = root_cert_pem;
        config.accept_invalid_certs = insecure;
        config.token = token;
        config.identity_pem = identity_pem;
        config.context = context_name;
        if let Some(ns) = ctx.namespace.filter(|n| !n.is_empty()) {
            config.default_namespace = ns;
        }
        apply_flag_overrides(&mut config, opts);
        Ok(config)
    }
}

/// The flags that apply whether or not a kubeconfig was read.
fn apply_flag_overrides(config: &mut Config, opts: &KubeconfigOptions) {
    if let Some(t) = opts.token.as_ref().filter(|t| !t.is_empty()) {
        config.token = Some(t.clone());
    }
    if opts.insecure_skip_tls_verify {
        config.accept_invalid_certs = true;
        config.root_cert_pem = None;
    }
    if let Some(ns) = opts.namespace.as_ref().filter(|n| !n.is_empty()) {
        config.default_namespace = ns.clone();
    }
}

/// Read the files `opts` and the environment name and merge them. Returns
/// the merged file (None when there is none) and a description of where
/// it came from for messages.
pub fn load_kubeconfig(opts: &KubeconfigOptions) -> Result<(Option<Kubeconfig>, String)> {
    if let Some(path) = &opts.kubeconfig {
        if !path.exists() {
            return Err(Error::Config(format!(
                "kubeconfig {} does not exist",
                path.display()
            )));
        }
        return Ok((Some(Kubeconfig::read(path)?), path.display().to_string()));
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let shown = list.to_string_lossy().to_string();
        let mut merged: Option<Kubeconfig> = None;
        for path in paths.iter().filter(|p| p.exists()) {
            let kc = Kubeconfig::read(path)?;
            merged = Some(match merged {
                None => kc,
                Some(m) => m.merge(kc),
            });
        }
        return Ok((merged, format!("$KUBECONFIG ({shown})")));
    }
    let path = default_kubeconfig_path();
    match path {
        Some(path) if path.exists() => {
            Ok((Some(Kubeconfig::read(&path)?), path.display().to_string()))
        }
        Some(path) => Ok((None, path.display().to_string())),
        None => Ok((None, "~/.kube/config".to_string())),
    }
}

/// `~/.kube/config`, when there is a home directory.
pub fn default_kubeconfig_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".kube").join("config"))
}

fn resolve(base: Option<&Path>, path: &Path) -> PathBuf {
    match base {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Inline base64 data wins over a file, as in kubectl.
fn read_data_or_file(
    data: Option<&str>,
    file: Option<&Path>,
    base: Option<&Path>,
    field: &str,
) -> Result<Option<Vec<u8>>> {
    if let Some(data) = data.filter(|d| !d.trim().is_empty()) {
        let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        return base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map(Some)
            .map_err(|e| Error::Config(format!("{field} is not valid base64: {e}")));
    }
    match file {
        Some(path) if !path.as_os_str().is_empty() => {
            let path = resolve(base, path);
            std::fs::read(&path)
                .map(Some)
                .map_err(|source| Error::ReadFile { path, source })
        }
        _ => Ok(None),
    }
}

/// Parse a server URL; without a scheme it is `https://` when TLS
/// settings are present and `http://` otherwise, as kubectl decides.
fn parse_server_url(server: &str, tls: bool) -> Result<Url> {
    let server = server.trim();
    if server.is_empty() {
        return Err(Error::Config("the server URL is empty".into()));
    }
    let with_scheme = if server.contains("://") {
        server.to_string()
    } else if tls {
        format!("https://{server}")
    } else {
        format!("http://{server}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| Error::Config(format!("invalid server URL {server:?}: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::Config(format!(
            "invalid server URL {server:?}: the scheme must be http or https"
        )));
    }
    if url.host_str().is_none() {
        return Err(Error::Config(format!(
            "invalid server URL {server:?}: no host"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
preferences: {}
clusters:
- name: local
  cluster:
    server: http://127.0.0.1:8080
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
users:
- name: dev-user
  user:
    token: dev-token
- name: prod-user
  user:
    tokenFile: token.txt
contexts:
- name: dev
  context:
    cluster: local
    user: dev-user
    namespace: team-a
- name: prod
  context:
    cluster: prod
    user: prod-user
"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn opts(path: &Path) -> KubeconfigOptions {
        KubeconfigOptions {
            kubeconfig: Some(path.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn current_context_gives_server_token_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", FILE);
        let c = Config::from_kubeconfig(&opts(&path)).unwrap();
        assert_eq!(c.cluster_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.token.as_deref(), Some("dev-token"));
        assert_eq!(c.default_namespace, "team-a");
        assert_eq!(c.context.as_deref(), Some("dev"));
        assert!(c.root_cert_pem.is_none());
    }

    #[test]
    fn other_context_with_ca_data_and_relative_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", FILE);
        write(dir.path(), "token.txt", "file-token\n");
        let mut o = opts(&path);
        o.context = Some("prod".into());
        let c = Config::from_kubeconfig(&o).unwrap();
        assert_eq!(c.cluster_url.as_str(), "https://10.0.0.1:6443/");
        assert_eq!(c.token.as_deref(), Some("file-token"));
        assert_eq!(c.default_namespace, DEFAULT_NAMESPACE);
        let ca = String::from_utf8(c.root_cert_pem.unwrap()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert!(!c.accept_invalid_certs);
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", FILE);
        write(dir.path(), "token.txt", "file-token\n");
        let o = KubeconfigOptions {
            kubeconfig: Some(path),
            context: Some("prod".into()),
            server: Some("https://192.168.1.5:6443".into()),
            token: Some("flag-token".into()),
            insecure_skip_tls_verify: true,
            namespace: Some("kube-system".into()),
            ..Default::default()
        };
        let c = Config::from_kubeconfig(&o).unwrap();
        assert_eq!(c.cluster_url.as_str(), "https://192.168.1.5:6443/");
        assert_eq!(c.token.as_deref(), Some("flag-token"));
        assert_eq!(c.default_namespace, "kube-system");
        assert!(c.accept_invalid_certs);
        assert!(c.root_cert_pem.is_none(), "insecure drops the CA");
    }

    #[test]
    fn unknown_context_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", FILE);
        let mut o = opts(&path);
        o.context = Some("nope".into());
        let e = Config::from_kubeconfig(&o).unwrap_err().to_string();
        assert!(e.contains("context \"nope\" does not exist"), "{e}");
    }

    #[test]
    fn missing_kubeconfig_flag_file_is_an_error() {
        let e = Config::from_kubeconfig(&opts(Path::new("/nonexistent/kubeconfig")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/kubeconfig") && e.contains("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn client_certificate_files_become_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "client.crt",
            "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----",
        );
        write(
            dir.path(),
            "client.key",
            "-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n",
        );
        let text = r#"
current-context: c
clusters: [{name: k, cluster: {server: "10.0.0.1:6443", certificate-authority: ca.crt}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
"#;
        write(
            dir.path(),
            "ca.crt",
            "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n",
        );
        let path = write(dir.path(), "config", text);
        let c = Config::from_kubeconfig(&opts(&path)).unwrap();
        assert_eq!(
            c.cluster_url.as_str(),
            "https://10.0.0.1:6443/",
            "TLS settings make a scheme-less server https"
        );
        let id = String::from_utf8(c.identity_pem.unwrap()).unwrap();
        assert!(
            id.contains("END CERTIFICATE-----\n-----BEGIN PRIVATE KEY"),
            "{id}"
        );
        assert!(c.root_cert_pem.is_some());
    }

    #[test]
    fn merge_first_file_wins() {
        let a = Kubeconfig::parse(
            "current-context: a\nclusters: [{name: x, cluster: {server: http://a}}]\ncontexts: [{name: a, context: {cluster: x}}]",
        )
        .unwrap();
        let b = Kubeconfig::parse(
            "current-context: b\nclusters: [{name: x, cluster: {server: http://b}}, {name: y, cluster: {server: http://y}}]\ncontexts: [{name: b, context: {cluster: y, namespace: nb}}]",
        )
        .unwrap();
        let m = a.merge(b);
        assert_eq!(m.current_context.as_deref(), Some("a"));
        assert_eq!(m.cluster("x").unwrap().cluster.server, "http://a");
        assert_eq!(m.cluster("y").unwrap().cluster.server, "http://y");
        let o = KubeconfigOptions {
            context: Some("b".into()),
            ..Default::default()
        };
        let c = Config::from_loaded(&m, "test", &o).unwrap();
        assert_eq!(c.cluster_url.as_str(), "http://y/");
        assert_eq!(c.default_namespace, "nb");
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let kc = Kubeconfig::parse(FILE).unwrap();
        let text = serde_yaml::to_string(&kc).unwrap();
        let again = Kubeconfig::parse(&text).unwrap();
        assert_eq!(kc, again);
        assert!(text.contains("tokenFile: token.txt"), "{text}");
        assert!(text.contains("kind: Config"), "{text}");
    }

    #[test]
    fn server_flag_without_any_kubeconfig() {
        let kc = Kubeconfig::default();
        let o = KubeconfigOptions {
            server: Some("127.0.0.1:9999".into()),
            namespace: Some("x".into()),
            ..Default::default()
        };
        let c = Config::from_loaded(&kc, "test", &o).unwrap();
        assert_eq!(c.cluster_url.as_str(), "http://127.0.0.1:9999/");
        assert_eq!(c.default_namespace, "x");
        let e = Config::from_loaded(&kc, "/home/me/.kube/config", &Default::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no current-context"), "{e}");
    }
}
