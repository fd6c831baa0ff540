//! CONNECT tunnels: connect first (so failures get a proper status), answer 200, then relay bytes
//! both ways (`relay`) until both sides close or the tunnel sits idle too long.

use std::sync::Arc;
use std::time::Duration;

use breakout_policy::route::ParentProxy;
use breakout_policy::{Host, Route};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use prometheus::IntCounter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::body::{ProxyBody, Transfer};
use super::call::Call;
use super::dial::{dial, DialKind};
use super::ending::Ending;
use super::error::{Hop, ProxyError};
use super::exchange::Exchange;
use super::framing::Guarded;
use super::relay::relay;
use super::request::Target;

/// The most a parent proxy may send as its CONNECT answer head.
const MAX_PARENT_HEAD: usize = 16 * 1024;

/// A tunnel whose destination side is open and whose `200` is yet to be sent.
pub struct Opened {
    server: TcpStream,
    /// Bytes the parent proxy sent after its answer head (they belong to the tunnel).
    early: Bytes,
    up: IntCounter,
    down: IntCounter,
    idle: Duration,
    transfer: Arc<Transfer>,
    ending: Ending,
}

impl Opened {
    /// Relays between `client` and the destination until the tunnel ends, then writes its
    /// access-log record. `first_up` is what the client sent past its `CONNECT` head. The
    /// caller closes `client` when this returns (its FIN may be left to that close).
    pub async fn run(mut self, client: &mut TcpStream, first_up: &[u8]) {
        let down_bytes = relay(
            client,
            &mut self.server,
            first_up,
            &self.early,
            self.idle,
            (&self.up, &self.transfer.bytes),
            &self.down,
        )
        .await;
        self.ending.finish(down_bytes);
    }
}

/// Checks the port and the tenant's rules, then opens the destination side (directly or
/// through a parent proxy). A refusal comes back as the response to send.
pub async fn open(
    mut ex: Exchange,
    host: &Host<'_>,
    port: u16,
    call: &Call<'_>,
) -> Result<Opened, Response<ProxyBody>> {
    let opened = match call.decide_or_refuse(&mut ex, host, port).map_err(|r| *r)? {
        Route::Upstream(parent) => via_parent(parent, host, port, call).await,
        _ => dial(call, host, port, DialKind::Origin)
            .await
            .map(|s| (s, Bytes::new()))
            .map_err(|error| ProxyError::Dial {
                to: Hop::Destination {
                    host: host.to_string(),
                    port,
                },
                error,
            }),
    };
    let (server, early) = opened.map_err(|e| call.fail(&ex, &e))?;
    let transfer = Arc::new(Transfer::default());
    let ending = call.succeeded(&ex, 200, Arc::clone(&transfer));
    let metrics = &call.tenant.metrics;
    Ok(Opened {
        server,
        early,
        up: metrics.bytes_up.clone(),
        down: metrics.bytes_down.clone(),
        idle: call.snap.settings.tunnel_idle_timeout,
        transfer,
        ending,
    })
}

/// A `CONNECT` that hyper parsed (not the first request of its connection, or one the direct
/// path in `direct` left to hyper): open, answer `200`, relay after hyper's upgrade.
pub async fn connect(
    req: Request<Incoming>,
    ex: Exchange,
    target: &Target,
    call: &Call<'_>,
) -> Response<ProxyBody> {
    // Nothing of the request outlives this function: its head (and the Uri in `ex`) are slices
    // of hyper's read buffer, which a long-lived tunnel would otherwise keep alive.
    let opened = match open(ex, &target.host(), target.port, call).await {
        Ok(o) => o,
        Err(resp) => return resp,
    };
    let session = Arc::clone(call.session);
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let _session = session;
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "CONNECT upgrade failed");
                return;
            }
        };
        // Every client connection is served as `Guarded<TcpStream>` (see `connection`).
        let Some((mut client, first_up)) = client_socket(upgraded) else {
            tracing::error!("CONNECT upgrade did not yield the client socket");
            return;
        };
        opened.run(&mut client, &first_up).await;
    });
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// Opens a tunnel through the tenant's parent proxy; returns the stream and any bytes the
/// parent sent after its answer head (they belong to the tunnel).
async fn via_parent(
    parent: &ParentProxy,
    host: &Host<'_>,
    port: u16,
    call: &Call<'_>,
) -> Result<(TcpStream, Bytes), ProxyError> {
    let name = || parent.name().to_string();
    let mut stream = dial(call, parent.host(), parent.port(), DialKind::Upstream)
        .await
        .map_err(|error| ProxyError::Dial {
            to: Hop::Parent { name: name() },
            error,
        })?;
    let target = format!("{host}:{port}");
    let head = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nVia: {}\r\n\r\n",
        call.shared.via.to_str().unwrap_or("1.1 breakout")
    );
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            buf.reserve(1024);
            let n = stream.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some((buf, end + 4)));
            }
            if buf.len() > MAX_PARENT_HEAD {
                return Ok(None);
            }
        }
    };
    let answered = tokio::time::timeout(call.snap.settings.connect_timeout, exchange)
        .await
        .map_err(|_| ProxyError::ParentTimeout { name: name() })?
        .map_err(|source| ProxyError::ParentIo {
            name: name(),
            source,
        })?;
    let Some((buf, end)) = answered else {
        return Err(ProxyError::ResponseIncomplete(Hop::Parent { name: name() }));
    };
    let status =
        parse_status(&buf[..end]).ok_or_else(|| ProxyError::ParentMalformed { name: name() })?;
    if !(200..300).contains(&status) {
        return Err(ProxyError::ParentStatus {
            name: name(),
            status,
        });
    }
    Ok((stream, Bytes::copy_from_slice(&buf[end..])))
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let mut parts = line.split(|b| *b == b' ');
    let version = parts.next()?;
    if !version.starts_with(b"HTTP/1.") {
        return None;
    }
    std::str::from_utf8(parts.next()?).ok()?.trim().parse().ok()
}

/// The client's socket under hyper's upgrade, with the bytes already read from it past the
/// `CONNECT` head (in order: what hyper buffered, then what the framing layer still held).
fn client_socket(upgraded: Upgraded) -> Option<(TcpStream, Vec<u8>)> {
    let parts = upgraded.downcast::<TokioIo<Guarded<TcpStream>>>().ok()?;
    let (stream, rest) = parts.io.into_inner().into_parts();
    let mut first = Vec::with_capacity(parts.read_buf.len() + rest.len());
    first.extend_from_slice(&parts.read_buf);
    first.extend_from_slice(&rest);
    Some((stream, first))
}
