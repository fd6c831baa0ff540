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
use super::dial::{dial, DialKind};
use super::error::ProxyError;
use super::exchange::{Ending, Exchange};
use super::framing::Guarded;
use super::relay::relay;
use super::{Session, Shared};
use crate::snapshot::{Snapshot, TenantRuntime};

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
    /// access-log record. `first_up` is what the client sent past its `CONNECT` head.
    pub async fn run(self, client: &TcpStream, first_up: &[u8]) {
        let down_bytes = relay(
            client,
            &self.server,
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
    host: Host<'static>,
    port: u16,
    snap: &Snapshot,
    tenant: &TenantRuntime,
    shared: &Shared,
) -> Result<Opened, Response<ProxyBody>> {
    let outcomes = Some(&*tenant.metrics.outcomes);
    if !snap.settings.allowed_connect_ports.contains(&port) {
        return Err(ex.fail(shared, outcomes, &ProxyError::PortNotAllowed(port)));
    }
    let routed = tenant.router.route(&host, port);
    let rule = tenant.router.rule_label(routed.rule);
    ex.decided(routed.route.into(), rule);
    let opened = match routed.route {
        Route::Block => {
            return Err(ex.fail(shared, outcomes, &ProxyError::Blocked(rule.to_string())));
        }
        Route::Direct => dial(
            shared,
            snap,
            &host,
            port,
            tenant.router.egress(),
            DialKind::Origin,
        )
        .await
        .map(|s| (s, Bytes::new())),
        Route::Upstream(parent) => via_parent(parent, &host, port, snap, shared).await,
    };
    let (server, early) = match opened {
        Ok(v) => v,
        Err(e) => return Err(ex.fail(shared, outcomes, &e)),
    };
    let transfer = Arc::new(Transfer::default());
    let ending = ex.succeeded(shared, &tenant.metrics.outcomes, 200, Arc::clone(&transfer));
    Ok(Opened {
        server,
        early,
        up: tenant.metrics.bytes_up.clone(),
        down: tenant.metrics.bytes_down.clone(),
        idle: snap.settings.tunnel_idle_timeout,
        transfer,
        ending,
    })
}

/// A `CONNECT` that hyper parsed (not the first request of its connection, or one the direct
/// path in `direct` left to hyper): open, answer `200`, relay after hyper's upgrade.
#[allow(clippy::too_many_arguments)]
pub async fn connect(
    req: Request<Incoming>,
    ex: Exchange,
    host: Host<'static>,
    port: u16,
    snap: &Snapshot,
    tenant: &TenantRuntime,
    session: &Arc<Session>,
    shared: &Arc<Shared>,
) -> Response<ProxyBody> {
    // Nothing of the request outlives this function: its head (and the Uri in `ex`) are slices
    // of hyper's read buffer, which a long-lived tunnel would otherwise keep alive.
    let opened = match open(ex, host, port, snap, tenant, shared).await {
        Ok(o) => o,
        Err(resp) => return resp,
    };
    let session = Arc::clone(session);
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
        // Every client connection is served as `Guarded<TcpStream>` (see `handle_connection`).
        let Some((client, first_up)) = client_socket(upgraded) else {
            tracing::error!("CONNECT upgrade did not yield the client socket");
            return;
        };
        opened.run(&client, &first_up).await;
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
    snap: &Snapshot,
    shared: &Shared,
) -> Result<(TcpStream, Bytes), ProxyError> {
    let name = parent.name();
    let mut stream = dial(
        shared,
        snap,
        parent.host(),
        parent.port(),
        None,
        DialKind::Upstream,
    )
    .await?;
    let target = format!("{host}:{port}");
    let head = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nVia: {}\r\n\r\n",
        shared.via.to_str().unwrap_or("1.1 breakout")
    );
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some((buf, end + 4)));
            }
            if buf.len() > MAX_PARENT_HEAD {
                return Ok(None);
            }
        }
    };
    let answered = tokio::time::timeout(snap.settings.connect_timeout, exchange)
        .await
        .map_err(|_| ProxyError::ConnectTimeout(format!("parent proxy {name}")))?
        .map_err(|e| ProxyError::Upstream(format!("parent proxy {name}: {e}")))?;
    let Some((buf, end)) = answered else {
        return Err(ProxyError::ResponseIncomplete(format!(
            "parent proxy {name}"
        )));
    };
    let status = parse_status(&buf[..end]).ok_or_else(|| {
        ProxyError::Upstream(format!("parent proxy {name} sent a malformed answer"))
    })?;
    if !(200..300).contains(&status) {
        return Err(ProxyError::UpstreamStatus {
            name: name.to_string(),
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
