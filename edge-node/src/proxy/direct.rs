//! The direct `CONNECT` path: when the first request of a connection is a plainly framed
//! `CONNECT`, the connection task answers it itself — checks, rule match, dial, `200`, relay —
//! with no hyper connection and no upgrade hand-off between tasks (most short tunnels are one
//! `CONNECT` per connection, and each hand-off costs a wake-up on a loaded machine).
//!
//! Anything else (another method, a head the framing layer would refuse or that hyper would
//! read differently, a drain that starts mid-head) goes to hyper with the bytes read so far, so
//! every other behaviour stays hyper's and `framing`'s.

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::body::{serialize, ProxyBody};
use super::call::Call;
use super::error::ProxyError;
use super::exchange::Exchange;
use super::session::Session;
use super::{request, tunnel};
use crate::config::{Settings, PARSER_MAX_HEADERS};
use crate::shared::Shared;
use crate::snapshot::Snapshot;

/// What a client sends first.
pub enum First {
    /// A complete, plainly framed `CONNECT` head.
    Connect(Box<Head>),
    /// Anything else: the bytes read so far, for hyper.
    Other(Vec<u8>),
    /// Nothing more to do: the client left, the head took too long, or a drain began before
    /// the client sent anything.
    Closed,
}

/// Reads until the first head is complete (or is plainly not a `CONNECT` this path takes).
pub async fn read_first(
    stream: &mut TcpStream,
    settings: &Settings,
    stop: &mut watch::Receiver<bool>,
) -> First {
    let limit = settings.max_header_bytes;
    let mut buf = Vec::new();
    let read = async {
        loop {
            match classify(&buf, limit, settings.max_headers) {
                Some(Ok((req, head))) => return Some((req, head)),
                Some(Err(())) => return None,
                None if buf.len() > limit => return None,
                None => {}
            }
            buf.reserve(4096);
            // `read_buf` appends only what was read, so a drain that cancels it mid-read
            // leaves `buf` holding exactly the client's bytes.
            let n = match stream.read_buf(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "reading the first request head failed");
                    return None;
                }
            };
            if n == 0 {
                return None;
            }
        }
    };
    let outcome = tokio::select! {
        r = tokio::time::timeout(settings.header_read_timeout, read) => r,
        _ = stop.changed() => Ok(None),
    };
    match outcome {
        Ok(Some((req, head))) => First::Connect(Box::new(Head { req, buf, head })),
        // The deadline hyper would have applied: hang up, as it does.
        Err(_) => First::Closed,
        Ok(None) if buf.is_empty() => First::Closed,
        Ok(None) => First::Other(buf),
    }
}

/// `None`: need more bytes. `Some(Err)`: leave it to hyper. `Some(Ok)`: a `CONNECT` for us.
#[allow(clippy::result_unit_err)]
pub fn classify(
    buf: &[u8],
    max_header_bytes: usize,
    max_headers: usize,
) -> Option<Result<(Request<()>, usize), ()>> {
    // Left uninitialised: httparse writes the fields it finds (zero-filling 256 empty fields
    // would cost more than parsing a short head).
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; PARSER_MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            // Enough to see the method: anything but CONNECT goes to hyper at once.
            return match buf.iter().position(|b| *b == b' ') {
                Some(_) if !buf.starts_with(b"CONNECT ") => Some(Err(())),
                None if !b"CONNECT ".starts_with(&buf[..buf.len().min(8)]) => Some(Err(())),
                _ => None,
            };
        }
        Err(_) => return Some(Err(())),
    };
    if parsed.method != Some("CONNECT")
        || parsed.version != Some(1)
        || len > max_header_bytes
        || parsed.headers.len() > max_headers
    {
        return Some(Err(()));
    }
    // A body framing header on a CONNECT is something `framing` and hyper have opinions on.
    let framed = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-length")
            || h.name.eq_ignore_ascii_case("transfer-encoding")
    });
    if framed {
        return Some(Err(()));
    }
    // Filled in place: what `Request::builder()` would check, without moving the builder
    // (several hundred bytes) through every call.
    let Ok(uri) = parsed.path.unwrap_or_default().parse::<Uri>() else {
        return Some(Err(()));
    };
    let mut req = Request::new(());
    *req.method_mut() = Method::CONNECT;
    *req.version_mut() = Version::HTTP_11;
    *req.uri_mut() = uri;
    let fields = req.headers_mut();
    fields.reserve(parsed.headers.len());
    for h in parsed.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Some(Err(()));
        };
        fields.append(name, value);
    }
    Some(Ok((req, len)))
}

/// A `CONNECT` head read by [`read_first`]: the request, and the buffer it was read into
/// (`head` bytes of head, then whatever the client sent after it).
pub struct Head {
    pub req: Request<()>,
    pub buf: Vec<u8>,
    pub head: usize,
}

/// Serves the connection's `CONNECT`: checks, opens, answers, relays. The session (slot and
/// drain token) is held until the tunnel ends.
pub async fn serve(
    mut client: TcpStream,
    first: Box<Head>,
    snap: Arc<Snapshot>,
    session: Arc<Session>,
    shared: &Shared,
) {
    // Boxed, so that its room (resolving and dialling take more than relaying) is given back
    // when the tunnel opens: a task is as large as its largest state, for its whole life.
    let opened = Box::pin(open_and_answer(&mut client, first, snap, &session, shared)).await;
    if let Some((opened, first_up)) = opened {
        opened.run(&mut client, &first_up).await;
    }
}

/// Everything up to the relay: the checks and the destination side, then the `200` (or the
/// refusal, and `None`). Returns the tunnel and what the client sent past its head.
async fn open_and_answer(
    client: &mut TcpStream,
    first: Box<Head>,
    snap: Arc<Snapshot>,
    session: &Arc<Session>,
    shared: &Shared,
) -> Option<(tunnel::Opened, Vec<u8>)> {
    let Head { req, mut buf, head } = *first;
    let opened = open(req, &snap, session, shared).await;
    // A tunnel may live for hours: it must not pin the snapshot it started under.
    drop(snap);
    let opened = match opened {
        Ok(o) => o,
        Err(resp) => {
            answer(client, resp).await;
            return None;
        }
    };
    if let Err(e) = client.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await {
        tracing::debug!(error = %e, "writing the CONNECT answer failed");
        return None;
    }
    buf.drain(..head);
    buf.shrink_to_fit();
    Some((opened, buf))
}

/// What `handle_request` and `tunnel::connect` do for a `CONNECT`, up to the `200`.
async fn open(
    req: Request<()>,
    snap: &Snapshot,
    session: &Arc<Session>,
    shared: &Shared,
) -> Result<tunnel::Opened, Response<ProxyBody>> {
    let mut ex = Exchange::new(&req, SocketAddr::V4(session.client), shared, &snap.settings);
    session.requests.fetch_add(1, Ordering::Relaxed);
    let Some(tenant) = session.tenant_in(snap) else {
        let e = ProxyError::UnknownSource(*session.client.ip());
        return Err(ex.fail(shared, None, &e));
    };
    ex.tenant = Some(Arc::clone(&tenant.id));
    let call = Call {
        snap,
        tenant,
        session,
        shared,
    };
    let checked = request::check(&req, &shared.via_token);
    drop(req);
    let target = checked.map_err(|e| call.fail(&ex, &e))?;
    let host = target.host();
    ex.set_target(&host, target.port);
    tunnel::open(ex, &host, target.port, &call).await
}

/// Writes a refusal and closes the connection (the client may already be sending tunnel bytes).
async fn answer(client: &mut TcpStream, resp: Response<ProxyBody>) {
    let bytes = serialize(&resp);
    if let Err(e) = client.write_all(&bytes).await {
        tracing::debug!(error = %e, "writing a CONNECT refusal failed");
        return;
    }
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests;
