//! The network probe actions every runtime shares: `httpGet` and
//! `tcpSocket` against the pod's IP (or `host`), with the probe's
//! timeout. (`exec` runs inside the container: the runtime's job.)
//!
//! As the kubelet's prober does: an HTTP probe succeeds for a status in
//! 200..=399; redirects are followed (at most 10) only while they stay on
//! the same host, a redirect elsewhere counts as its 3xx status (a
//! success); HTTPS certificates are not verified; the request carries
//! `User-Agent: kube-probe/<version>` and `Accept: */*` unless the
//! probe's `httpHeaders` say otherwise (a `Host` header sets the request's
//! host). A TCP probe succeeds when a connection opens. Any error or a
//! timeout is a failure.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use tug_api::core::{Container, HttpGetAction, TcpSocketAction};
use tug_api::intstr::IntOrString;

use crate::runtime::ProbeOutcome;

/// The `User-Agent` of probe requests, as upstream (`kube-probe/<major.minor>`).
pub const USER_AGENT: &str = "kube-probe/1.33";

/// Redirects followed on the same host before the probe fails.
const MAX_REDIRECTS: usize = 10;

/// The port a probe's `port` means for `container`: a number as is, a
/// name looked up in the container's `ports`; it must be in 1..=65535.
pub fn resolve_port(container: &Container, port: &IntOrString) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(n) => n,
            Err(_) => container
                .ports
                .iter()
                .find(|p| p.name == *name)
                .map(|p| p.container_port)
                .ok_or_else(|| {
                    format!(
                        "couldn't find port {name:?} in container {:?}",
                        container.name
                    )
                })?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// The host part of a probe URL or address: the action's `host` if set,
/// else the pod's IP (IPv6 in brackets for a URL).
fn url_host(pod_ip: IpAddr, host: &str) -> String {
    if !host.is_empty() {
        return match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => host.to_string(),
        };
    }
    match pod_ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The URL an `httpGet` action asks for.
pub fn probe_url(pod_ip: IpAddr, port: u16, action: &HttpGetAction) -> String {
    let scheme = if action.scheme.eq_ignore_ascii_case("https") {
        "https"
    } else {
        "http"
    };
    let path = if action.path.starts_with('/') {
        action.path.clone()
    } else {
        format!("/{}", action.path)
    };
    format!("{scheme}://{}:{port}{path}", url_host(pod_ip, &action.host))
}

/// Whether an HTTP status counts as a probe success.
pub fn http_success(status: u16) -> bool {
    (200..400).contains(&status)
}

/// The client of one probe: no connection reuse, no certificate checks,
/// same-host redirects only.
fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt
            .previous()
            .first()
            .is_some_and(|first| first.host_str() == attempt.url().host_str());
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("stopped after 10 redirects")
        } else if same_host {
            attempt.follow()
        } else {
            // Upstream answers with the redirect itself (a 3xx: success).
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirects)
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .build()
}

/// GET the action's URL on `pod_ip`: success for a status 200..400.
/// Named ports are resolved against `container`'s ports.
pub async fn http_get(
    pod_ip: IpAddr,
    container: &Container,
    action: &HttpGetAction,
    timeout: Duration,
) -> ProbeOutcome {
    let port = match resolve_port(container, &action.port) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(container = %container.name, error = %e, "http probe failed");
            return ProbeOutcome::Failure;
        }
    };
    let url = probe_url(pod_ip, port, action);
    let Ok(client) = client(timeout) else {
        return ProbeOutcome::Failure;
    };
    let mut request = match client.get(&url).build() {
        Ok(r) => r,
        Err(_) => return ProbeOutcome::Failure,
    };
    let headers = request.headers_mut();
    headers.insert(
        reqwest::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("*/*"));
    // The probe's headers replace the defaults of the same name; a `Host`
    // header is the request's host.
    let mut replaced = Vec::new();
    for h in &action.http_headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) else {
            continue;
        };
        if !replaced.contains(&name) {
            headers.remove(&name);
            replaced.push(name.clone());
        }
        headers.append(name, value);
    }
    match client.execute(request).await {
        Ok(response) if http_success(response.status().as_u16()) => ProbeOutcome::Success,
        Ok(response) => {
            tracing::debug!(%url, status = %response.status(), "http probe failed");
            ProbeOutcome::Failure
        }
        Err(e) => {
            tracing::debug!(%url, error = %e, "http probe failed");
            ProbeOutcome::Failure
        }
    }
}

/// Open a TCP connection to the action's port on `pod_ip`.
pub async fn tcp_socket(
    pod_ip: IpAddr,
    container: &Container,
    action: &TcpSocketAction,
    timeout: Duration,
) -> ProbeOutcome {
    let port = match resolve_port(container, &action.port) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(container = %container.name, error = %e, "tcp probe failed");
            return ProbeOutcome::Failure;
        }
    };
    let host = if action.host.is_empty() {
        pod_ip.to_string()
    } else {
        action.host.clone()
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_stream)) => ProbeOutcome::Success,
        Ok(Err(e)) => {
            tracing::debug!(%host, port, error = %e, "tcp probe failed");
            ProbeOutcome::Failure
        }
        Err(_) => {
            tracing::debug!(%host, port, "tcp probe timed out");
            ProbeOutcome::Failure
        }
    }
}

/// A probe's timeout (`timeoutSeconds`, default 1 s).
pub fn timeout_of(timeout_seconds: i32) -> Duration {
    Duration::from_secs(
        u64::try_from(timeout_seconds)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tug_api::core::{ContainerPort, HttpHeader};

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A local HTTP server answering by path; it keeps the head of every
    /// request it got.
    struct Server {
        port: u16,
        heads: Arc<Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn answer(path: &str, port: u16) -> String {
        let status = |code: &str, extra: &str| {
            format!("HTTP/1.1 {code}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
        };
        match path {
            "/ok" | "/" => status("200 OK", ""),
            "/created" => status("201 Created", ""),
            "/not-modified" => status("304 Not Modified", ""),
            "/missing" => status("404 Not Found", ""),
            "/broken" => status("500 Internal Server Error", ""),
            "/here" => status(
                "302 Found",
                &format!("Location: http://127.0.0.1:{port}/broken\r\n"),
            ),
            // Not followed (another host): counts as its own 302.
            "/elsewhere" => status("302 Found", "Location: http://192.0.2.1:9/ok\r\n"),
            "/loop" => status("302 Found", "Location: /loop\r\n"),
            _ => status("404 Not Found", ""),
        }
    }

    async fn serve() -> Server {
        let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    seen.lock().unwrap().push(head);
                    if path == "/slow" {
                        // Never answers: the probe's timeout ends it.
                        let _ = conn.read(&mut chunk).await;
                        return;
                    }
                    let _ = conn.write_all(answer(&path, port).as_bytes()).await;
                });
            }
        });
        Server { port, heads, task }
    }

    fn container(ports: &[(&str, i32)]) -> Container {
        Container {
            name: "app".into(),
            ports: ports
                .iter()
                .map(|(name, port)| ContainerPort {
                    name: name.to_string(),
                    container_port: *port,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn get(path: &str, port: IntOrString) -> HttpGetAction {
        HttpGetAction {
            path: path.into(),
            port,
            ..Default::default()
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn http_status_decides_the_outcome() {
        let s = serve().await;
        let c = container(&[]);
        let port = IntOrString::Int(i32::from(s.port));
        for (path, expected) in [
            ("/ok", ProbeOutcome::Success),
            ("/created", ProbeOutcome::Success),
            ("/not-modified", ProbeOutcome::Success),
            ("/missing", ProbeOutcome::Failure),
            ("/broken", ProbeOutcome::Failure),
            ("", ProbeOutcome::Success),
        ] {
            let got = http_get(LOCAL, &c, &get(path, port.clone()), SECOND).await;
            assert_eq!(got, expected, "GET {path:?}");
        }
    }

    #[tokio::test]
    async fn redirects_are_followed_on_the_same_host_only() {
        let s = serve().await;
        let c = container(&[]);
        let port = IntOrString::Int(i32::from(s.port));
        assert_eq!(
            http_get(LOCAL, &c, &get("/here", port.clone()), SECOND).await,
            ProbeOutcome::Failure,
            "followed to /broken"
        );
        assert_eq!(
            http_get(LOCAL, &c, &get("/elsewhere", port.clone()), SECOND).await,
            ProbeOutcome::Success,
            "a redirect to another host is its 302"
        );
        assert_eq!(
            http_get(LOCAL, &c, &get("/loop", port), SECOND).await,
            ProbeOutcome::Failure,
            "too many redirects"
        );
    }

    #[tokio::test]
    async fn named_ports_headers_and_host() {
        let s = serve().await;
        let c = container(&[("http", i32::from(s.port))]);
        let mut action = get("/ok", IntOrString::String("http".into()));
        action.http_headers = vec![
            HttpHeader {
                name: "X-Probe".into(),
                value: "yes".into(),
            },
            HttpHeader {
                name: "Host".into(),
                value: "example.test".into(),
            },
            HttpHeader {
                name: "Accept".into(),
                value: "application/json".into(),
            },
        ];
        assert_eq!(
            http_get(LOCAL, &c, &action, SECOND).await,
            ProbeOutcome::Success
        );
        let head = s.heads.lock().unwrap().last().unwrap().to_ascii_lowercase();
        assert!(head.contains("x-probe: yes"), "{head}");
        assert!(head.contains("host: example.test"), "{head}");
        assert!(head.contains("accept: application/json"), "{head}");
        assert!(!head.contains("accept: */*"), "replaced: {head}");
        assert!(head.contains("user-agent: kube-probe/"), "{head}");

        let unknown = get("/ok", IntOrString::String("metrics".into()));
        assert_eq!(
            http_get(LOCAL, &c, &unknown, SECOND).await,
            ProbeOutcome::Failure,
            "an unknown port name fails"
        );
        // `host` replaces the pod's IP.
        let mut via_host = get("/ok", IntOrString::Int(i32::from(s.port)));
        via_host.host = "127.0.0.1".into();
        let elsewhere: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            http_get(elsewhere, &c, &via_host, SECOND).await,
            ProbeOutcome::Success
        );
    }

    #[tokio::test]
    async fn a_slow_answer_times_out() {
        let s = serve().await;
        let c = container(&[]);
        let started = Instant::now();
        let action = get("/slow", IntOrString::Int(i32::from(s.port)));
        assert_eq!(
            http_get(LOCAL, &c, &action, Duration::from_millis(300)).await,
            ProbeOutcome::Failure
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn tcp_connects_or_fails() {
        let s = serve().await;
        let c = container(&[("web", i32::from(s.port))]);
        let open = TcpSocketAction {
            port: IntOrString::String("web".into()),
            ..Default::default()
        };
        assert_eq!(
            tcp_socket(LOCAL, &c, &open, SECOND).await,
            ProbeOutcome::Success
        );
        // A port nothing listens on: bind one, learn it, close it.
        let closed = {
            let l = std::net::TcpListener::bind((LOCAL, 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let shut = TcpSocketAction {
            port: IntOrString::Int(i32::from(closed)),
            ..Default::default()
        };
        assert_eq!(
            tcp_socket(LOCAL, &c, &shut, SECOND).await,
            ProbeOutcome::Failure
        );
        let zero = TcpSocketAction::default();
        assert_eq!(
            tcp_socket(LOCAL, &c, &zero, SECOND).await,
            ProbeOutcome::Failure
        );
    }

    #[test]
    fn ports_and_urls() {
        let c = container(&[("http", 8080)]);
        assert_eq!(resolve_port(&c, &IntOrString::Int(80)), Ok(80));
        assert_eq!(
            resolve_port(&c, &IntOrString::String("http".into())),
            Ok(8080)
        );
        assert_eq!(
            resolve_port(&c, &IntOrString::String("9090".into())),
            Ok(9090)
        );
        assert!(resolve_port(&c, &IntOrString::Int(0)).is_err());
        assert!(resolve_port(&c, &IntOrString::Int(70000)).is_err());
        let v6: IpAddr = "fd00::5".parse().unwrap();
        let mut a = get("healthz?full=1", IntOrString::Int(80));
        assert_eq!(probe_url(v6, 80, &a), "http://[fd00::5]:80/healthz?full=1");
        a.scheme = "HTTPS".into();
        a.host = "10.1.2.3".into();
        assert_eq!(
            probe_url(v6, 443, &a),
            "https://10.1.2.3:443/healthz?full=1"
        );
        assert_eq!(timeout_of(0), SECOND);
        assert_eq!(timeout_of(5), Duration::from_secs(5));
    }

    /// `openssl s_server -www` with a throwaway self-signed certificate,
    /// killed on drop.
    struct TlsServer {
        child: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl Drop for TlsServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn tls_server() -> Option<TlsServer> {
        let dir = tempfile::tempdir().ok()?;
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=probe.test", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !made.success() {
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind((LOCAL, 0)).ok()?;
            l.local_addr().ok()?.port()
        };
        let child = Command::new("openssl")
            .args(["s_server", "-www", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = TlsServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((LOCAL, port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::yield_now();
        }
        Some(server)
    }

    #[tokio::test]
    async fn https_does_not_verify_the_certificate() {
        let Some(server) = tls_server() else {
            eprintln!("SKIP: openssl cannot run a TLS test server here");
            return;
        };
        let c = container(&[]);
        let mut action = get("/", IntOrString::Int(i32::from(server.port)));
        action.scheme = "HTTPS".into();
        assert_eq!(
            http_get(LOCAL, &c, &action, Duration::from_secs(5)).await,
            ProbeOutcome::Success,
            "a self-signed certificate is accepted"
        );
    }
}
