//! An HTTP/1.1 origin server that answers with a JSON description of what it received.
//!
//! Paths: `/bytes/N` returns N patterned bytes (see [`pattern`]); `/status/N` returns status N;
//! anything else returns the JSON echo. Requests are recorded once their body is fully read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime::rt;

/// What the origin saw for one request.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub peer: SocketAddr,
    pub body_len: u64,
    pub body_fnv: u64,
}

impl SeenRequest {
    /// Every value of header `name` (lowercase), in order received.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<SeenRequest>>,
    connections: AtomicUsize,
}

/// A running origin on 127.0.0.1; stopped on drop.
pub struct Origin {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Origin {
    pub fn start() -> Origin {
        let state = Arc::new(State::default());
        let listener = rt()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let st = state.clone();
        let task = rt().spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                st.connections.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(req, peer, st.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Origin { addr, state, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Completed requests seen so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.requests.lock().expect("origin state").clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Asserts nothing reached this origin, not even a TCP connection.
    pub fn assert_untouched(&self, context: &str) {
        assert_eq!(
            self.connections(),
            0,
            "{context}: origin accepted a connection"
        );
        assert!(
            self.requests().is_empty(),
            "{context}: origin saw {:?}",
            self.requests()
        );
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Byte `i` of every `/bytes/N` body.
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// 64-bit FNV-1a, used to compare bodies without storing them.
pub fn fnv1a(init: u64, data: &[u8]) -> u64 {
    data.iter().fold(init, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// FNV-1a offset basis.
pub const FNV_INIT: u64 = 0xcbf2_9ce4_8422_2325;

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    st: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let mut body = req.into_body();
    let (mut body_len, mut body_fnv) = (0u64, FNV_INIT);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // A broken request body is never recorded as a request.
            return Ok(status_response(StatusCode::BAD_REQUEST));
        };
        if let Some(data) = frame.data_ref() {
            body_len += data.len() as u64;
            body_fnv = fnv1a(body_fnv, data);
        }
    }
    let seen = SeenRequest {
        method,
        uri,
        headers,
        peer,
        body_len,
        body_fnv,
    };
    st.requests.lock().expect("origin state").push(seen.clone());
    Ok(respond(&seen))
}

fn respond(seen: &SeenRequest) -> Response<Full<Bytes>> {
    let path = seen.uri.split('?').next().unwrap_or("");
    if let Some(n) = path
        .strip_prefix("/bytes/")
        .and_then(|n| n.parse::<usize>().ok())
    {
        let body: Vec<u8> = (0..n).map(pattern).collect();
        return Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(body)))
            .expect("response");
    }
    if let Some(code) = path
        .strip_prefix("/status/")
        .and_then(|n| n.parse::<u16>().ok())
    {
        return status_response(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST));
    }
    let desc = json!({
        "method": seen.method,
        "uri": seen.uri,
        "headers": seen.headers,
        "peer": seen.peer.to_string(),
        "body_len": seen.body_len,
        "body_fnv": format!("{:016x}", seen.body_fnv),
    });
    Response::builder()
        .header("content-type", "application/json")
        .header("x-origin", "yes")
        .body(Full::new(Bytes::from(desc.to_string())))
        .expect("response")
}

fn status_response(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("x-origin", "yes")
        .body(Full::new(Bytes::from(format!("status {}", code.as_u16()))))
        .expect("response")
}
