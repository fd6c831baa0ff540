//! CONNECT tunnels: connect first (so failures get a proper status), answer 200, then copy bytes
//! both ways until both sides close or the tunnel sits idle too long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakout_policy::{Action, Host};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus::IntCounter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::body::{ProxyBody, Transfer};
use super::dial::{dial, DialKind};
use super::error::ProxyError;
use super::exchange::Exchange;
use super::{Session, Shared};
use crate::snapshot::{Snapshot, TenantRuntime};

const BUF: usize = 16 * 1024;
/// The most a parent proxy may send as its CONNECT answer head.
const MAX_PARENT_HEAD: usize = 16 * 1024;

#[allow(clippy::too_many_arguments)]
pub async fn connect(
    req: Request<Incoming>,
    mut ex: Exchange,
    host: Host<'static>,
    port: u16,
    snap: &Snapshot,
    tenant: &TenantRuntime,
    session: &Arc<Session>,
    shared: &Arc<Shared>,
) -> Response<ProxyBody> {
    if !snap.settings.allowed_connect_ports.contains(&port) {
        return ex.fail(shared, Some(tenant), &ProxyError::PortNotAllowed(port));
    }
    let decision = tenant.matcher.decide(&host, port);
    ex.decided(
        decision.action.kind(),
        tenant.matcher.rule_label(decision.rule),
    );
    let opened = match decision.action {
        Action::Block => {
            let label = tenant.matcher.rule_label(decision.rule).to_string();
            return ex.fail(shared, Some(tenant), &ProxyError::Blocked(label));
        }
        Action::Direct => dial(shared, snap, &host, port, tenant.egress, DialKind::Origin)
            .await
            .map(|s| (s, Bytes::new())),
        Action::Upstream(name) => via_parent(name, &host, port, snap, tenant, shared).await,
    };
    let (server, early) = match opened {
        Ok(v) => v,
        Err(e) => return ex.fail(shared, Some(tenant), &e),
    };
    match decision.action {
        Action::Upstream(_) => tenant.metrics.requests_upstream.inc(),
        _ => tenant.metrics.requests_direct.inc(),
    }
    let up = tenant.metrics.bytes_up.clone();
    let down = tenant.metrics.bytes_down.clone();
    let idle = snap.settings.tunnel_idle_timeout;
    let session = Arc::clone(session);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let _session = session;
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "CONNECT upgrade failed");
                return;
            }
        };
        let transfer = Arc::new(Transfer::default());
        let record = ex.pending(&shared, 200, Arc::clone(&transfer));
        let down_bytes = pump(
            TokioIo::new(upgraded),
            server,
            early,
            idle,
            &up,
            &down,
            &transfer,
        )
        .await;
        if let Some(r) = record {
            r.finish(down_bytes);
        }
    });
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// Opens a tunnel through the tenant's parent proxy; returns the stream and any bytes the
/// parent sent after its answer head (they belong to the tunnel).
async fn via_parent(
    name: &str,
    host: &Host<'_>,
    port: u16,
    snap: &Snapshot,
    tenant: &TenantRuntime,
    shared: &Shared,
) -> Result<(TcpStream, Bytes), ProxyError> {
    let Some((phost, pport)) = tenant.upstreams.get(name) else {
        return Err(ProxyError::Internal(format!(
            "upstream {name} is not configured"
        )));
    };
    let ph = breakout_policy::canonical_host(phost)
        .map_err(|e| ProxyError::Upstream(format!("parent proxy {phost}: {e}")))?;
    let mut stream = dial(shared, snap, &ph, *pport, None, DialKind::Upstream).await?;
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

/// Copies bytes both ways. Each direction ends at its EOF (passing the half-close on); the whole
/// tunnel ends when both have, or when no byte moved either way for `idle`. Returns bytes down.
async fn pump<C, S>(
    client: C,
    server: S,
    early: Bytes,
    idle: Duration,
    up: &IntCounter,
    down: &IntCounter,
    transfer: &Transfer,
) -> u64
where
    C: AsyncRead + AsyncWrite,
    S: AsyncRead + AsyncWrite,
{
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let down_total = AtomicU64::new(0);
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(server);
    let c2s = async {
        copy_half(&mut cr, &mut sw, &[], up, &transfer.bytes, &last, start).await;
    };
    let s2c = async {
        copy_half(&mut sr, &mut cw, &early, down, &down_total, &last, start).await;
    };
    let watchdog = async {
        loop {
            let since = Duration::from_millis(last.load(Ordering::Relaxed));
            let deadline = start + since + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    };
    tokio::select! {
        _ = async { tokio::join!(c2s, s2c) } => {}
        _ = watchdog => tracing::debug!("tunnel idle timeout"),
    }
    down_total.load(Ordering::Relaxed)
}

async fn copy_half<R, W>(
    r: &mut R,
    w: &mut W,
    first: &[u8],
    counter: &IntCounter,
    total: &AtomicU64,
    last: &AtomicU64,
    start: Instant,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let moved = |n: usize| {
        counter.inc_by(n as u64);
        total.fetch_add(n as u64, Ordering::Relaxed);
        last.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    };
    if !first.is_empty() {
        if w.write_all(first).await.is_err() {
            return;
        }
        moved(first.len());
    }
    let mut buf = vec![0u8; BUF];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if w.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                moved(n);
            }
        }
    }
    let _ = w.shutdown().await;
}
