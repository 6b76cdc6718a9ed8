//! A client of the OCI distribution API: manifests and blobs by digest or
//! tag, over HTTPS (HTTP for insecure registries), with the anonymous
//! `WWW-Authenticate: Bearer` token flow Docker Hub and most registries use.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};

use super::blobs::BlobWriter;
use super::oci::manifest_accept;
use super::reference::Reference;

/// Largest manifest the store reads (the distribution spec suggests 4 MiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// How long one chunk of a blob may take to arrive.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(60);
/// Docker Hub's API host for the `docker.io` registry name.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// A registry client shared by the store's pulls.
pub struct RegistryClient {
    http: reqwest::Client,
    insecure: Vec<String>,
    /// Bearer tokens by `registry/repository`.
    tokens: Mutex<HashMap<String, String>>,
}

impl RegistryClient {
    /// A client that speaks plain HTTP to the `insecure` `host:port`s.
    pub fn new(insecure: &[String]) -> anyhow::Result<RegistryClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("tug-kubelet/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(RegistryClient {
            http,
            insecure: insecure.to_vec(),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// `scheme://host` of the registry `r` lives on.
    fn base(&self, r: &Reference) -> String {
        let host = if r.registry == "docker.io" {
            DOCKER_HUB_HOST
        } else {
            &r.registry
        };
        let scheme = if self.insecure.iter().any(|i| i == &r.registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}")
    }

    /// The manifest `reference` (tag or digest) of `r`'s repository:
    /// its bytes and content type.
    pub async fn manifest(
        &self,
        r: &Reference,
        reference: &str,
    ) -> anyhow::Result<(Vec<u8>, String)> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base(r), r.repository);
        let mut resp = self.get(r, &url, &manifest_accept()).await?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_MANIFEST_BYTES {
                anyhow::bail!("manifest {reference} is larger than {MAX_MANIFEST_BYTES} bytes");
            }
        }
        Ok((body, content_type))
    }

    /// Stream the blob `digest` of `r`'s repository into `out` (which
    /// verifies it on commit); more than `size` bytes (when known) is an
    /// error straight away.
    pub async fn blob(
        &self,
        r: &Reference,
        digest: &str,
        size: i64,
        out: &mut BlobWriter,
    ) -> anyhow::Result<()> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base(r), r.repository);
        let mut resp = self.get(r, &url, "*/*").await?;
        loop {
            let chunk = tokio::time::timeout(CHUNK_TIMEOUT, resp.chunk())
                .await
                .map_err(|_| anyhow::anyhow!("blob {digest}: no data for {CHUNK_TIMEOUT:?}"))??;
            match chunk {
                Some(bytes) => {
                    out.write_all(&bytes)?;
                    if size > 0 && out.written() > size as u64 {
                        anyhow::bail!(
                            "blob {digest}: more than the {size} bytes its descriptor says"
                        );
                    }
                }
                None => return Ok(()),
            }
        }
    }

    /// GET with the cached token; on 401 with a Bearer challenge, fetch an
    /// anonymous token and retry once. A non-success answer becomes an
    /// error carrying the registry's own error codes.
    async fn get(&self, r: &Reference, url: &str, accept: &str) -> anyhow::Result<Response> {
        let key = r.repo();
        let cached = self.tokens.lock().expect("tokens lock").get(&key).cloned();
        let resp = self.send(url, accept, cached.as_deref()).await?;
        let resp = if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match challenge.as_deref().and_then(parse_bearer_challenge) {
                Some(ch) => {
                    let token = self.fetch_token(&ch, r).await?;
                    self.tokens
                        .lock()
                        .expect("tokens lock")
                        .insert(key, token.clone());
                    self.send(url, accept, Some(&token)).await?
                }
                None => resp,
            }
        } else {
            resp
        };
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(registry_error(resp).await)
        }
    }

    async fn send(&self, url: &str, accept: &str, token: Option<&str>) -> anyhow::Result<Response> {
        let mut req = self.http.get(url).header(ACCEPT, accept);
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        req.send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {}", error_chain(&e)))
    }

    /// An anonymous pull token from the challenge's realm.
    async fn fetch_token(&self, ch: &BearerChallenge, r: &Reference) -> anyhow::Result<String> {
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let scope = ch
            .scope
            .clone()
            .unwrap_or_else(|| format!("repository:{}:pull", r.repository));
        let mut query = vec![("scope", scope)];
        if let Some(service) = &ch.service {
            query.push(("service", service.clone()));
        }
        let resp = self
            .http
            .get(&ch.realm)
            .query(&query)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("token from {}: {}", ch.realm, error_chain(&e)))?;
        if !resp.status().is_success() {
            return Err(registry_error(resp)
                .await
                .context(format!("token from {}", ch.realm)));
        }
        let t: TokenResponse = resp.json().await?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow::anyhow!("token from {}: no token in the answer", ch.realm))
    }
}

/// The parameters of a `WWW-Authenticate: Bearer ...` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BearerChallenge {
    /// Where tokens are handed out.
    pub realm: String,
    /// `service=`.
    pub service: Option<String>,
    /// `scope=`.
    pub scope: Option<String>,
}

/// Parse `Bearer realm="..",service="..",scope=".."`; `None` for other
/// schemes (Basic) or no realm.
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.insert(key, value.to_string());
        s = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(BearerChallenge {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// An error from a failed answer: status, then the registry's
/// `{"errors":[{"code","message"}]}` when it sent them.
async fn registry_error(resp: Response) -> anyhow::Error {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    anyhow::anyhow!("{}", describe_error(status, &body))
}

/// `404 Not Found: MANIFEST_UNKNOWN: manifest unknown`.
pub fn describe_error(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<RegistryErr>,
    }
    #[derive(serde::Deserialize)]
    struct RegistryErr {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let mut out = status.to_string();
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => {
            for err in e.errors {
                out.push_str(&format!(": {}: {}", err.code, err.message));
            }
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if !text.is_empty() && text.len() < 512 {
                out.push_str(&format!(": {text}"));
            }
        }
    }
    out
}

/// An error with its sources (reqwest's top-level messages say little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hubs_challenge_is_parsed() {
        let ch = parse_bearer_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(ch.realm, "https://auth.docker.io/token");
        assert_eq!(ch.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(ch.scope.as_deref(), Some("repository:library/busybox:pull"));
        assert!(parse_bearer_challenge(r#"Basic realm="registry""#).is_none());
        let bare = parse_bearer_challenge("bearer realm=https://r/t").unwrap();
        assert_eq!((bare.realm.as_str(), bare.scope), ("https://r/t", None));
    }

    #[test]
    fn the_registrys_reason_is_in_the_error() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#;
        assert_eq!(
            describe_error(StatusCode::NOT_FOUND, body),
            "404 Not Found: MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(
            describe_error(StatusCode::UNAUTHORIZED, b""),
            "401 Unauthorized"
        );
    }

    /// A tiny registry that wants a bearer token (from its own `/token`
    /// realm) for its manifest, as Docker Hub does.
    async fn token_registry() -> (String, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let realm = format!("http://{host}/token");
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let line = req.lines().next().unwrap_or("").to_string();
                let (status, extra, body) = if line.starts_with("GET /token?") {
                    let ok = line.contains("scope=repository%3Ateam%2Fapp%3Apull")
                        && line.contains("service=test");
                    if ok {
                        ("200 OK", String::new(), r#"{"token":"t0k"}"#.to_string())
                    } else {
                        ("400 Bad Request", String::new(), String::new())
                    }
                } else if req.contains("Authorization: Bearer t0k")
                    || req.contains("authorization: Bearer t0k")
                {
                    (
                        "200 OK",
                        "Content-Type: application/vnd.oci.image.index.v1+json\r\n".to_string(),
                        r#"{"schemaVersion":2,"manifests":[]}"#.to_string(),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        format!(
                            "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\",scope=\"repository:team/app:pull\"\r\n"
                        ),
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                            .to_string(),
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            }
        });
        (host, task)
    }

    #[tokio::test]
    async fn the_bearer_token_flow_gets_an_anonymous_token_and_retries() {
        let (host, server) = token_registry().await;
        let client = RegistryClient::new(std::slice::from_ref(&host)).unwrap();
        let r = Reference::parse(&format!("{host}/team/app:v1")).unwrap();
        let (body, ct) = client.manifest(&r, "v1").await.unwrap();
        assert_eq!(ct, "application/vnd.oci.image.index.v1+json");
        assert_eq!(body, br#"{"schemaVersion":2,"manifests":[]}"#);
        assert_eq!(
            client
                .tokens
                .lock()
                .unwrap()
                .get(&r.repo())
                .map(String::as_str),
            Some("t0k"),
            "the token is kept for the next request"
        );
        server.abort();
    }

    #[test]
    fn insecure_registries_use_http_and_docker_io_its_api_host() {
        let c = RegistryClient::new(&["localhost:5000".to_string()]).unwrap();
        let local = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(c.base(&local), "http://localhost:5000");
        let hub = Reference::parse("busybox").unwrap();
        assert_eq!(c.base(&hub), "https://registry-1.docker.io");
        let other = Reference::parse("localhost:5001/x").unwrap();
        assert_eq!(c.base(&other), "https://localhost:5001");
    }
}
