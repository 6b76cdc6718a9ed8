//! HTTPS on the secure port: the generated PKI and kubeconfigs, server
//! certificate verification (and the clear error when it fails), the
//! loopback-only insecure port, and the connection-level limits (header
//! size, slow clients). Written to hold once authentication lands: every
//! request that should succeed on the secure port carries the generated
//! admin credential.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tug_api::core::Namespace;
use tug_api::pki;
use tug_client::config::KubeconfigOptions;
use tug_client::{Api, Client, Config, Error, ListParams};

fn admin_client(kubeconfig: &Path, server: Option<&str>) -> Client {
    Client::from_kubeconfig(&KubeconfigOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        server: server.map(str::to_string),
        ..KubeconfigOptions::default()
    })
    .expect("a client from the admin kubeconfig")
}

async fn list_namespaces(client: &Client) -> Result<Vec<String>, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await?;
    Ok(list.items.into_iter().map(|n| n.metadata.name).collect())
}

#[tokio::test]
async fn the_admin_kubeconfig_works_over_https_for_loopback_and_localhost() {
    let server = common::start();
    let kubeconfig = server.admin_kubeconfig();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kubeconfig).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "kubeconfigs hold keys");
    let port = server.secure_port;
    for url in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let client = admin_client(&kubeconfig, Some(&url));
        let names = list_namespaces(&client)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(
            names.contains(&"kube-system".to_string()),
            "{url}: {names:?}"
        );
    }
    // Without --server override: the advertised address it was written with.
    let names = list_namespaces(&admin_client(&kubeconfig, None))
        .await
        .unwrap();
    assert!(names.contains(&"default".to_string()));
    // The served certificate verifies for both names, as webpki sees it.
    let ca = server.ca_pem().unwrap();
    let served = std::fs::read_to_string(server.data_dir().join("pki/apiserver.crt")).unwrap();
    for name in [
        "127.0.0.1",
        "localhost",
        "kubernetes.default.svc",
        "10.96.0.1",
    ] {
        pki::verify_server_cert(&ca, &served, name, std::time::SystemTime::now())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn a_client_trusting_another_ca_gets_one_clear_line() {
    let server = common::start();
    let stranger = pki::new_ca("someone-else").unwrap();
    let mut config = Config::new(&server.secure_url).unwrap();
    config.root_cert_pem = Some(stranger.cert_pem.clone().into_bytes());
    let client = Client::new(config).unwrap();
    let err = list_namespaces(&client).await.unwrap_err();
    let line = err.to_string();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        line.contains("the server's certificate is not trusted")
            && line.contains("UnknownIssuer")
            && line.contains("certificate-authority"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");
    assert!(
        !err.is_transport(),
        "retrying does not fix an untrusted certificate"
    );

    // tugctl says it in one line and fails.
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    let mut f = std::fs::File::create(&kubeconfig).unwrap();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    write!(
        f,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    \
         certificate-authority-data: {}\ncontexts:\n- name: c\n  context: {{cluster: c}}\n\
         current-context: c\n",
        server.secure_url,
        b64(&stranger.cert_pem)
    )
    .unwrap();
    let out = Command::new(tug_tests::bins::workspace_binary("tugctl"))
        .env("HOME", home.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["get", "namespaces"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("the server's certificate is not trusted"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_address_the_certificate_does_not_list_is_named_in_the_error() {
    // Listening on every address, 127.0.0.2 reaches the server, but the
    // serving certificate does not list it.
    let server = common::start_with(&["--bind-address", "0.0.0.0"]);
    let mut config = Config::new(&format!("https://127.0.0.2:{}", server.secure_port)).unwrap();
    config.root_cert_pem = Some(server.ca_pem().unwrap().into_bytes());
    let err = list_namespaces(&Client::new(config).unwrap())
        .await
        .unwrap_err();
    let line = err.to_string();
    assert!(
        line.contains("not valid for 127.0.0.2") && line.contains("--tls-san"),
        "{line}"
    );
}

#[tokio::test]
async fn plain_http_to_the_secure_port_fails_cleanly() {
    let server = common::start();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = http
        .get(format!("http://127.0.0.1:{}/version", server.secure_port))
        .send()
        .await;
    assert!(
        result.is_err(),
        "plain HTTP must not be served on the secure port: {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it fails at once, no hang"
    );
    // And the server is still fine.
    let names = list_namespaces(&admin_client(&server.admin_kubeconfig(), None))
        .await
        .unwrap();
    assert!(!names.is_empty());
    // A tug client pointed at the plain port with https:// is told so.
    let mut config = Config::new(&format!("https://127.0.0.1:{}", server.port)).unwrap();
    config.root_cert_pem = Some(server.ca_pem().unwrap().into_bytes());
    let err = list_namespaces(&Client::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not speak TLS"), "{err}");
}

#[test]
fn a_non_loopback_insecure_bind_address_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::binary())
        .args([
            "--insecure-port",
            "18089",
            "--insecure-bind-address",
            "10.1.2.3",
        ])
        .args(["--secure-port", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--insecure-bind-address 10.1.2.3 is not a loopback address"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_restart_keeps_the_ca_and_the_kubeconfigs_keep_working() {
    let mut server = common::start();
    let ca = server.ca_pem().unwrap();
    let hash = pki::ca_cert_hash(&ca).unwrap();
    let kubeconfig_before = std::fs::read_to_string(server.admin_kubeconfig()).unwrap();
    server.restart().unwrap();
    assert_eq!(pki::ca_cert_hash(&server.ca_pem().unwrap()).unwrap(), hash);
    assert_eq!(
        std::fs::read_to_string(server.admin_kubeconfig()).unwrap(),
        kubeconfig_before,
        "nothing changed: the kubeconfig is reused as is"
    );
    let names = list_namespaces(&admin_client(&server.admin_kubeconfig(), None))
        .await
        .unwrap();
    assert!(names.contains(&"kube-public".to_string()));
    // kube-public/cluster-info carries the server and the same CA.
    let client = Client::new(Config::new(&server.url).unwrap()).unwrap();
    let cm: serde_json::Value = client
        .get_path("/api/v1/namespaces/kube-public/configmaps/cluster-info")
        .await
        .unwrap();
    let text = cm["data"]["kubeconfig"].as_str().unwrap();
    let info = tug_client::Kubeconfig::parse(text).unwrap();
    assert_eq!(info.clusters[0].cluster.server, server.secure_url);
    assert!(info.users.is_empty(), "cluster-info holds no credential");
    use base64::Engine;
    let ca_data = base64::engine::general_purpose::STANDARD
        .decode(
            info.clusters[0]
                .cluster
                .certificate_authority_data
                .as_ref()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        pki::ca_cert_hash(std::str::from_utf8(&ca_data).unwrap()).unwrap(),
        hash
    );
}

/// A TLS connection to the secure port, trusting the cluster CA.
async fn tls_connect(
    server: &tug_tests::apiserver::ApiServerProcess,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = server.ca_pem().unwrap();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp =
        tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], server.secure_port)))
            .await
            .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// Read until EOF (or a reset) within `timeout`: what the server sent.
async fn read_to_close(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    timeout: Duration,
) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(timeout, stream.read_to_end(&mut got)).await {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_hundred_kib_of_headers_gets_431_or_a_closed_connection() {
    let server = common::start();
    let mut tls = tls_connect(&server).await;
    let mut request = b"GET /version HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..100 {
        request.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(1010)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    // The server may close before reading everything: a failed write is
    // as good an answer as a 431.
    let _ = tls.write_all(&request).await;
    let answer = read_to_close(&mut tls, Duration::from_secs(10))
        .await
        .expect("the server answers or closes within 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "expected 431 or a closed connection, got {text:?}"
    );
    eprintln!(
        "100 KiB of headers: {}",
        if text.is_empty() {
            "connection closed".to_string()
        } else {
            text.lines().next().unwrap().to_string()
        }
    );
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_within_the_header_read_timeout() {
    let server = common::start();
    let mut tls = tls_connect(&server).await;
    let started = Instant::now();
    let request = b"GET /version HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sent = 0;
    let mut buf = [0u8; 256];
    // Trickle one header byte a second (the behaviour under test) until
    // the server closes the connection; 20 s is the test's deadline.
    let cut_off_after = loop {
        if started.elapsed() > Duration::from_secs(20) {
            panic!("still connected after 20 s and {sent} bytes");
        }
        tokio::select! {
            read = tls.read(&mut buf) => match read {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    // hyper answers 408 before closing, or just closes.
                    assert!(text.starts_with("HTTP/1.1 408"), "unexpected answer {text:?}");
                }
            },
            _ = tick.tick() => {
                let byte = request.get(sent).copied().unwrap_or(b'a');
                if tls.write_all(&[byte]).await.is_err() || tls.flush().await.is_err() {
                    break started.elapsed();
                }
                sent += 1;
            }
        }
    };
    eprintln!("slowloris client cut off after {cut_off_after:?} ({sent} bytes trickled)");
    assert!(
        cut_off_after >= Duration::from_secs(9) && cut_off_after < Duration::from_secs(30),
        "cut off after {cut_off_after:?}, want the 10 s header read timeout (not hung, not early)"
    );
}

#[test]
fn stock_kubectl_works_over_tls() {
    let Some(kubectl) = tug_tests::kubectl::kubectl_or_skip("stock_kubectl_works_over_tls") else {
        return;
    };
    let server = common::start();
    let out = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(server.admin_kubeconfig())
        .args(["get", "ns", "-o", "name"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l == "namespace/kube-system"),
        "{stdout}"
    );
}
