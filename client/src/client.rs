//! [`Client`]: one HTTP connection pool to one API server, with the
//! credentials and TLS settings of a [`Config`].
//!
//! It knows nothing about kinds: [`Api`](crate::Api) builds the URLs and
//! hands the client a [`Request`]; the client sends it, turns a non-2xx
//! answer into [`Error::Api`] with the server's `Status`, a refused
//! connection into [`Error::Connect`], and decodes the body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use reqwest::{header, Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tug_api::Status;

use crate::config::{Config, KubeconfigOptions};
use crate::error::{reason_for_code, tls_failure, Error, Result};

/// One request, built but not sent.
#[derive(Debug)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
    /// Content-Type and bytes of the body.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// A streaming response (watch, `logs -f`): no overall timeout.
    pub streaming: bool,
}

impl Request {
    /// A request without a body.
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            body: None,
            streaming: false,
        }
    }

    /// With a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Result<Request> {
        let bytes = serde_json::to_vec(body).map_err(|source| Error::Decode {
            what: format!("the body of {} {}", self.method, self.url),
            path: String::new(),
            source,
        })?;
        self.body = Some(("application/json", bytes));
        Ok(self)
    }

    /// With a body of the given Content-Type.
    pub fn body(mut self, content_type: &'static str, bytes: Vec<u8>) -> Request {
        self.body = Some((content_type, bytes));
        self
    }

    /// Mark the response as a stream (no overall timeout).
    pub fn streaming(mut self) -> Request {
        self.streaming = true;
        self
    }
}

/// How many times one request is retried after 429 Too Many Requests
/// (client-go's default).
pub const MAX_THROTTLE_RETRIES: u32 = 10;
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The wait a `Retry-After: <seconds>` header asks for.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    default_namespace: String,
    timeout: Duration,
}

/// A client of one API server. Cheap to clone: clones share the
/// connection pool (HTTP keep-alive).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.as_str())
            .field("default_namespace", &self.inner.default_namespace)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`: TLS (CA, client certificate, insecure) and
    /// bearer token as it says.
    pub fn new(config: Config) -> Result<Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("tug-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.root_cert_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::Config(format!("the certificate authority is not valid PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(Error::Config(
                    "the certificate authority holds no certificate".into(),
                ));
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &config.identity_pem {
            let identity = reqwest::Identity::from_pem(pem).map_err(|e| {
                Error::Config(format!(
                    "the client certificate and key are not valid PEM: {e}"
                ))
            })?;
            builder = builder.identity(identity);
        }
        if config.accept_invalid_certs {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: config.cluster_url,
                token: config.token,
                default_namespace: config.default_namespace,
                timeout: config.timeout,
            }),
        })
    }

    /// A client from the kubeconfig `opts` and the environment point at.
    pub fn from_kubeconfig(opts: &KubeconfigOptions) -> Result<Client> {
        Client::new(Config::from_kubeconfig(opts)?)
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The namespace of the configuration's context (or `-n`).
    pub fn default_namespace(&self) -> &str {
        &self.inner.default_namespace
    }

    /// The server's base URL with `segments` appended (each one escaped)
    /// and `query` added.
    pub fn url<S: AsRef<str>>(&self, segments: &[S], query: &[(&str, String)]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments.iter().map(|s| s.as_ref()));
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// The server's base URL joined with a raw path such as `/version` or
    /// `/api/v1/namespaces/default/pods?limit=1` (not escaped).
    pub fn url_for_path(&self, path_and_query: &str) -> Result<Url> {
        let base = self.inner.base.as_str().trim_end_matches('/');
        let joined = format!("{base}/{}", path_and_query.trim_start_matches('/'));
        Url::parse(&joined)
            .map_err(|e| Error::Config(format!("invalid path {path_and_query:?}: {e}")))
    }

    /// Send `request`; a non-2xx answer is an error with the server's Status.
    ///
    /// A 429 that says when to come back (`Retry-After`: the apiserver's
    /// in-flight or per-client limits) is retried after that wait, up to
    /// [`MAX_THROTTLE_RETRIES`] times, as client-go does.
    pub async fn send(&self, request: Request) -> Result<reqwest::Response> {
        let mut throttled = 0;
        loop {
            let response = self.send_once(&request).await?;
            let code = response.status().as_u16();
            if (200..300).contains(&code) {
                return Ok(response);
            }
            let retry_after = retry_after(&response);
            if let (429, Some(wait), true) = (code, retry_after, throttled < MAX_THROTTLE_RETRIES) {
                throttled += 1;
                tracing::debug!(url = %request.url, ?wait, attempt = throttled, "throttled by the server; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&request.url, e))?;
            return Err(Error::Api(Box::new(status_from_body(
                code,
                &bytes,
                &request.method,
                &request.url,
            ))));
        }
    }

    /// One attempt at `request`, whatever the answer's status.
    async fn send_once(&self, request: &Request) -> Result<reqwest::Response> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), request.url.clone())
            .header(header::ACCEPT, "application/json");
        if !request.streaming {
            builder = builder.timeout(self.inner.timeout);
        }
        if let Some(token) = &self.inner.token {
            builder = builder.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, *content_type)
                .body(bytes.clone());
        }
        builder
            .send()
            .await
            .map_err(|e| self.transport_error(&request.url, e))
    }

    /// Send `request` and decode the JSON answer.
    pub async fn request<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let what = format!("the response to {} {}", request.method, request.url);
        let url = request.url.clone();
        let response = self.send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        decode(&bytes, &what)
    }

    /// Send `request` and return the answer as text.
    pub async fn request_text(&self, request: Request) -> Result<String> {
        let url = request.url.clone();
        let response = self.send(request).await?;
        response
            .text()
            .await
            .map_err(|e| self.transport_error(&url, e))
    }

    /// Send `request` (as a stream: no overall timeout) and return the
    /// body's chunks as they arrive.
    pub async fn request_stream(&self, request: Request) -> Result<ByteStream> {
        let url = request.url.clone();
        let response = self.send(request.streaming()).await?;
        let client = self.clone();
        Ok(response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|e| client.transport_error(&url, e)))
            .boxed())
    }

    /// GET a raw path (`/version`, `/api/v1`) and decode the JSON answer.
    pub async fn get_path<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url_for_path(path)?;
        self.request(Request::new(Method::GET, url)).await
    }

    /// A failed TLS handshake is [`Error::Tls`] (saying what is wrong
    /// with the certificate); a refused or failed connection is
    /// [`Error::Connect`] (naming the configured server); anything after
    /// the connection is [`Error::Http`].
    pub(crate) fn transport_error(&self, url: &Url, e: reqwest::Error) -> Error {
        let base = self.inner.base.as_str().trim_end_matches('/');
        if let Some(message) = tls_failure(&e, base) {
            Error::Tls {
                url: base.to_string(),
                message,
                source: e,
            }
        } else if e.is_connect() {
            Error::Connect {
                url: self.inner.base.as_str().trim_end_matches('/').to_string(),
                source: e,
            }
        } else {
            Error::Http {
                url: url.to_string(),
                source: e,
            }
        }
    }
}

/// Chunks of a streaming response body (watch, `logs -f`).
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// Decode JSON with the path of the first bad field in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| Error::Decode {
        what: what.to_string(),
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}

/// The `Status` of a failed request: the body when it is one, else one
/// built from the code and the body's text.
fn status_from_body(code: u16, bytes: &[u8], method: &Method, url: &Url) -> Status {
    if let Ok(mut status) = serde_json::from_slice::<Status>(bytes) {
        if status.kind == "Status" || !status.reason.is_empty() || !status.message.is_empty() {
            if status.code == 0 {
                status.code = code;
            }
            return status;
        }
    }
    let text = String::from_utf8_lossy(bytes).trim().to_string();
    let message = if text.is_empty() {
        format!("the server answered {code} to {method} {url}")
    } else {
        format!("the server answered {code} to {method} {url}: {text}")
    };
    Status::failure(code, reason_for_code(code), message)
}
