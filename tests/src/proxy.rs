//! A TCP proxy in front of the apiserver that a test can cut: while cut,
//! open connections are closed and new ones are accepted and dropped at
//! once, so a client sees the server as unreachable while the server
//! itself keeps running and accepting writes from other clients.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

struct Shared {
    blocked: AtomicBool,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

pub struct Proxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub url: String,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// A proxy to the server at `upstream_url` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream_url: &str) -> Proxy {
        let upstream: SocketAddr = upstream_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            blocked: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if s.blocked.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut conns = s.connections.lock().unwrap();
                conns.retain(|t| !t.is_finished());
                conns.push(task);
            }
        });
        Proxy {
            url,
            shared,
            acceptor,
        }
    }

    /// Close every open connection and refuse new ones until `resume`.
    pub fn cut(&self) {
        self.shared.blocked.store(true, Ordering::SeqCst);
        for task in self.shared.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Forward new connections again.
    pub fn resume(&self) {
        self.shared.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        for task in self.shared.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}
