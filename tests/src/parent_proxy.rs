//! A minimal parent ("customer") proxy that records every request line it receives.
//!
//! Absolute-form requests get `200` with header `x-parent: yes` and body `parent-proxy`.
//! CONNECT gets `200 Connection established` and a byte tunnel to the target; names ending
//! in `.test` resolve to 127.0.0.1.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// The body every absolute-form request gets.
pub const PARENT_BODY: &str = "parent-proxy";

/// One request head as the parent received it.
#[derive(Clone, Debug)]
pub struct ParentRequest {
    pub line: String,
    pub headers: Vec<(String, String)>,
}

type Log = Arc<Mutex<Vec<ParentRequest>>>;

/// A running parent proxy on 127.0.0.1; stopped on drop.
pub struct ParentProxy {
    addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl ParentProxy {
    pub fn start() -> ParentProxy {
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind parent");
        let addr = listener.local_addr().expect("parent addr");
        let log: Log = Arc::default();
        let l = log.clone();
        let task = rt().spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, l.clone()));
            }
        });
        ParentProxy { addr, log, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<ParentRequest> {
        self.log.lock().expect("parent log").clone()
    }

    /// Every request line seen so far, e.g. `CONNECT h:1 HTTP/1.1`.
    pub fn lines(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.line).collect()
    }
}

impl Drop for ParentProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut client: TcpStream, log: Log) {
    let mut buf = Vec::new();
    loop {
        let Some(head_len) = read_head(&mut client, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        buf.drain(..head_len);
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        log.lock().expect("parent log").push(ParentRequest {
            line: line.clone(),
            headers: headers.clone(),
        });
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if method == "CONNECT" {
            return tunnel(client, target, buf).await;
        }
        if !target.starts_with("http://") {
            let _ = client
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return;
        }
        if headers.iter().any(|(k, _)| k == "transfer-encoding") {
            // This parent does not speak chunked request bodies; refuse and close.
            let _ = client.write_all(b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            return;
        }
        let body_len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < body_len {
            let mut chunk = [0u8; 16384];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..body_len);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nx-parent: yes\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{PARENT_BODY}",
            PARENT_BODY.len()
        );
        if client.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
        let close = headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
        if close {
            return;
        }
    }
}

/// Reads into `buf` until it holds a full head; returns the head length including CRLFCRLF.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn tunnel(mut client: TcpStream, target: &str, early: Vec<u8>) {
    let Some((host, port)) = target.rsplit_once(':') else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let host = if host.ends_with(".test") {
        "127.0.0.1"
    } else {
        host.trim_matches(['[', ']'])
    };
    let Ok(mut upstream) = TcpStream::connect(format!("{host}:{port}")).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    if !early.is_empty() && upstream.write_all(&early).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
