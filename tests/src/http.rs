//! A tiny blocking HTTP/1.0 GET with connect and read deadlines, for
//! reaching pods and services from inside a network namespace (see
//! [`crate::netns::in_netns`]), where an async runtime's sockets would be
//! in the wrong namespace.
//!
//! Errors keep the socket's kind, so a test can tell a refused connection
//! ([`is_refused`]) from a service that does not answer ([`is_timeout`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: its status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code (`200`).
    pub status: u16,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
}

/// Connect and read deadlines of [`get`].
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long the TCP handshake may take.
    pub connect: Duration,
    /// How long each read or write may wait.
    pub read: Duration,
}

impl Default for Timeouts {
    /// 2 s to connect, 5 s per read: a live pod answers in milliseconds.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(5),
        }
    }
}

/// `GET path` from `addr` over a new connection (`Connection: close`),
/// reading the whole response.
pub fn get(addr: SocketAddr, path: &str, timeouts: Timeouts) -> io::Result<Response> {
    let mut stream = send_get(addr, path, timeouts)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Connect to `addr` and send `GET path` with the deadlines set.
fn send_get(addr: SocketAddr, path: &str, timeouts: Timeouts) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, timeouts.connect)?;
    stream.set_read_timeout(Some(timeouts.read))?;
    stream.set_write_timeout(Some(timeouts.read))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: tug-tests\r\nConnection: close\r\n\r\n"
    )?;
    Ok(stream)
}

/// `GET path` reading the body in chunks without keeping it: the status
/// and how many body bytes arrived (a bulk-throughput measurement).
pub fn get_discarding(addr: SocketAddr, path: &str, timeouts: Timeouts) -> io::Result<(u16, u64)> {
    let mut stream = send_get(addr, path, timeouts)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut status = None;
    let mut body_bytes = 0u64;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if status.is_some() {
            body_bytes += n as u64;
            continue;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n") {
            status = Some(parse_status_line(&head)?);
            body_bytes += (head.len() - end - 4) as u64;
        }
    }
    let status = status.ok_or_else(|| invalid("the response ended before its headers"))?;
    Ok((status, body_bytes))
}

/// Parse a whole HTTP/1.x response: status line, headers, body.
pub fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| {
        invalid(&format!(
            "no end of headers in a {}-byte response",
            raw.len()
        ))
    })?;
    Ok(Response {
        status: parse_status_line(raw)?,
        body: String::from_utf8_lossy(&raw[end + 4..]).into_owned(),
    })
}

/// Whether `e` says the peer refused the connection (an RST, or an ICMP
/// port/admin unreachable): nothing listens, or a proxy rejects it.
pub fn is_refused(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    ) || e.raw_os_error() == Some(libc::EHOSTUNREACH)
        || e.raw_os_error() == Some(libc::ECONNREFUSED)
}

/// Whether `e` is a deadline passing (connect or read): nobody answered.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn parse_status_line(raw: &[u8]) -> io::Result<u16> {
    let line_end = find(raw, b"\r\n").unwrap_or(raw.len());
    let line =
        std::str::from_utf8(&raw[..line_end]).map_err(|_| invalid("status line not UTF-8"))?;
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().map(str::parse::<u16>)) {
        (Some(v), Some(Ok(code))) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(invalid(&format!("not an HTTP status line: {line:?}"))),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_status_and_body() {
        let r =
            parse_response(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\nweb-1\n").unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body: "web-1\n".into()
            }
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n")
                .unwrap()
                .status,
            404
        );
        assert!(parse_response(b"HTTP/1.0 200 OK\r\nhalf").is_err());
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n").is_err());
    }

    /// A one-shot server answering `reply` to the first connection.
    fn serve_once(reply: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = s.read(&mut req).unwrap();
            assert!(req[..n].starts_with(b"GET /x HTTP/1.0\r\n"));
            s.write_all(reply).unwrap();
        });
        addr
    }

    #[test]
    fn gets_a_page_over_a_socket() {
        let addr = serve_once(b"HTTP/1.0 200 OK\r\n\r\nhello");
        let r = get(addr, "/x", Timeouts::default()).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        let addr = serve_once(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n0123456789");
        assert_eq!(
            get_discarding(addr, "/x", Timeouts::default()).unwrap(),
            (200, 10)
        );
    }

    #[test]
    fn a_closed_port_is_refused_and_a_silent_one_times_out() {
        let port = crate::net::free_port();
        let e = get(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "/",
            Timeouts::default(),
        )
        .unwrap_err();
        assert!(is_refused(&e) && !is_timeout(&e), "{e:?}");

        // Accepts (the kernel's backlog does) but never answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let quick = Timeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_millis(200),
        };
        let e = get(silent.local_addr().unwrap(), "/", quick).unwrap_err();
        assert!(is_timeout(&e) && !is_refused(&e), "{e:?}");
    }
}
