//! A blocking raw-TCP HTTP/1.1 client for byte-exact requests and tunnels.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// Default read timeout: bounds every blocking read in a test.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A response head plus body as read off the wire.
#[derive(Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error=` parameter of the Proxy-Status header.
    pub fn proxy_status_error(&self) -> Option<String> {
        self.header("proxy-status").and_then(proxy_status_error)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl std::fmt::Debug for RawResponse {
    // Bodies print as text (truncated) so failure messages show what the edge said.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.body_text();
        let body: String = text.chars().take(500).collect();
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

/// Extracts the error type from a Proxy-Status value like `edge; error=dns_error; details="x"`.
pub fn proxy_status_error(value: &str) -> Option<String> {
    value
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("error="))
        .map(|e| e.to_string())
}

/// One client connection; every read is bounded by [`READ_TIMEOUT`].
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects from the default source address.
    pub fn connect(to: SocketAddr) -> io::Result<RawConn> {
        Self::connect_from(Ipv4Addr::LOCALHOST, to)
    }

    /// Connects from `src` (any 127.x.y.z works on Linux loopback).
    pub fn connect_from(src: Ipv4Addr, to: SocketAddr) -> io::Result<RawConn> {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        sock.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())?;
        sock.connect_timeout(&to.into(), Duration::from_secs(5))?;
        let stream: TcpStream = sock.into();
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `CONNECT target` and reads the response head (no body for 2xx).
    pub fn connect_tunnel(&mut self, target: &str) -> io::Result<RawResponse> {
        self.send(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())?;
        let head = self.read_head()?;
        if (200..300).contains(&head.status) {
            Ok(head)
        } else {
            self.read_body(head, false)
        }
    }

    /// Reads a status line and headers; bytes after the head stay buffered.
    pub fn read_head(&mut self) -> io::Result<RawResponse> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed before a response head; got {:?}", self.buf_text()),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(RawResponse {
            status,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads a full response (head and body) to a request with method `method`.
    pub fn read_response(&mut self, method: &str) -> io::Result<RawResponse> {
        let head = self.read_head()?;
        self.read_body(head, method == "HEAD")
    }

    fn read_body(&mut self, mut r: RawResponse, head_only: bool) -> io::Result<RawResponse> {
        if head_only || r.status < 200 || r.status == 204 || r.status == 304 {
            return Ok(r);
        }
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"));
        if chunked {
            r.body = self.read_chunked()?;
        } else if let Some(n) = r
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            r.body = self.read_exact_buffered(n)?;
        } else {
            r.body = self.read_to_close(READ_TIMEOUT)?;
        }
        Ok(r)
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_buffered(size)?);
            self.read_line()?;
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads exactly `n` bytes (buffered bytes first).
    pub fn read_exact_buffered(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads until the peer closes (EOF or reset) and returns what arrived; errors if the
    /// connection is still open after `timeout`.
    pub fn read_to_close(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let result = loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(left))?;
            match self.fill() {
                Ok(0) => break Ok(std::mem::take(&mut self.buf)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    break Ok(std::mem::take(&mut self.buf))
                }
                Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
                Err(e) => break Err(e),
            }
            if Instant::now() >= deadline {
                break Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connection still open after {timeout:?}; got {:?}",
                        self.buf_text()
                    ),
                ));
            }
        };
        self.stream.set_read_timeout(Some(READ_TIMEOUT))?;
        result
    }

    /// True if the peer closes the connection within `timeout` without sending a byte.
    pub fn closed_unanswered(&mut self, timeout: Duration) -> bool {
        self.read_to_close(timeout).is_ok_and(|got| got.is_empty())
    }

    /// Writes `data` and reads the same number of bytes back (through an echo tunnel).
    pub fn echo(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        self.send(data)?;
        self.read_exact_buffered(data.len())
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn buf_text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends one request (`raw`, a full request) from `src` and reads the response.
pub fn exchange_from(src: Ipv4Addr, to: SocketAddr, raw: &str) -> io::Result<RawResponse> {
    let mut c = RawConn::connect_from(src, to)?;
    c.send(raw.as_bytes())?;
    c.read_response(raw.split(' ').next().unwrap_or(""))
}

/// GET `path` with `Connection: close`; returns status and body text.
pub fn http_get(to: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let mut c = RawConn::connect(to)?;
    c.send(format!("GET {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let r = c.read_response("GET")?;
    Ok((r.status, r.body_text()))
}
