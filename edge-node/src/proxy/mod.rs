//! The proxy data path: accept, identify the tenant, admit, parse, decide, forward or tunnel.

pub mod body;
mod dial;
mod direct;
pub mod error;
mod exchange;
mod forward;
pub mod framing;
pub mod pac;
mod relay;
pub mod request;
#[cfg(target_os = "linux")]
mod splice;
mod tunnel;

/// The direct CONNECT path's first-head classifier, for the fuzz targets (`fuzz/`).
#[doc(hidden)]
pub use direct::classify as classify_first_head;

use std::convert::Infallible;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use self::body::ProxyBody;
use self::error::ProxyError;
use self::exchange::Exchange;
use self::framing::{Framer, Guarded, Verdict};
use crate::access_log::AccessLog;
use crate::admission::SessionGuard;
use crate::config::{Settings, PARSER_MAX_BUF, PARSER_MAX_HEADERS};
use crate::drain::{ConnToken, ConnTracker};
use crate::metrics::{Metrics, RefusalReason};
use crate::quota::Quotas;
use crate::resolve::Resolver;
use crate::snapshot::Snapshot;

/// The name this proxy gives itself in `Proxy-Status`.
pub const PROXY_NAME: &str = "breakout-edge";

/// State shared by every connection of the process.
pub struct Shared {
    pub snapshot: ArcSwap<Snapshot>,
    pub metrics: Metrics,
    pub resolver: Resolver,
    pub access_log: Arc<AccessLog>,
    pub conns: Arc<ConnTracker>,
    /// Addresses this process listens on: never a destination (that would loop).
    pub own_addrs: Vec<SocketAddr>,
    pub draining: AtomicBool,
    /// Set while an edge that takes its tenants from a control plane has none yet: not ready,
    /// and clients are told so rather than that their source is unknown.
    pub awaiting_config: AtomicBool,
    /// Session grants (enforced in control-plane mode).
    pub quotas: Quotas,
    via: HeaderValue,
    via_token: String,
}

impl Shared {
    pub fn new(
        snapshot: Snapshot,
        metrics: Metrics,
        resolver: Resolver,
        access_log: Arc<AccessLog>,
        own_addrs: Vec<SocketAddr>,
    ) -> Shared {
        let via_token = format!("{} (breakout)", snapshot.settings.node_id);
        let via = HeaderValue::from_str(&format!("1.1 {via_token}"))
            .unwrap_or_else(|_| HeaderValue::from_static("1.1 breakout"));
        Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            metrics,
            resolver,
            access_log,
            conns: Arc::new(ConnTracker::default()),
            own_addrs,
            draining: AtomicBool::new(false),
            awaiting_config: AtomicBool::new(false),
            quotas: Quotas::default(),
            via,
            via_token,
        }
    }
}

/// One admitted client connection. Holding it (the connection task, or a tunnel that outlives
/// the HTTP exchange) keeps the tenant's session slot taken.
pub struct Session {
    pub client: SocketAddrV4,
    pub tenant: Arc<str>,
    /// A connection to the last destination or parent proxy, reused by the next request to the
    /// same place. Only taken and put back, never held across an await.
    cached: Mutex<Option<forward::CachedHop>>,
    /// Request heads the framer refused (see `framing`), and how many requests were handled.
    verdict: Arc<Verdict>,
    requests: AtomicU64,
    _slot: SessionGuard,
    _conn: ConnToken,
}

/// Accepts connections until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let token = shared.conns.track();
                    tokio::spawn(handle_connection(stream, peer, Arc::clone(&shared), token, stop.clone()));
                }
                Err(e) => {
                    // Out of descriptors or similar: shed load for a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    token: ConnToken,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let snap = shared.snapshot.load_full();
    let client = match peer {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddrV4::new(v4, a.port()),
            None => {
                shared.metrics.refused("", RefusalReason::Ipv6Client);
                return refuse(stream, peer, shared, ProxyError::Ipv6Client, &snap.settings).await;
            }
        },
    };
    if shared.draining.load(Ordering::Acquire) {
        shared.metrics.refused("", RefusalReason::Draining);
        return refuse(stream, peer, shared, ProxyError::Draining, &snap.settings).await;
    }
    if shared.awaiting_config.load(Ordering::Acquire) {
        shared.metrics.refused("", RefusalReason::NotReady);
        return refuse(stream, peer, shared, ProxyError::NotReady, &snap.settings).await;
    }
    let Some(tenant) = snap.tenant_for(*client.ip()) else {
        if let Some((tenant, home)) = snap.foreign_tenant(*client.ip()) {
            shared.metrics.refused("", RefusalReason::ForeignRegion);
            let err = ProxyError::ForeignRegion {
                tenant: tenant.clone(),
                home: home.clone(),
                here: snap.region.clone(),
            };
            return refuse(stream, peer, shared, err, &snap.settings).await;
        }
        if let Some((tenant, reason)) = snap.inactive_tenant(*client.ip()) {
            shared.metrics.refused("", RefusalReason::NotInService);
            let err = ProxyError::NotInService {
                tenant: tenant.clone(),
                reason: reason.clone(),
            };
            return refuse(stream, peer, shared, err, &snap.settings).await;
        }
        shared.metrics.refused("", RefusalReason::UnknownSource);
        let err = ProxyError::UnknownSource(client.ip().to_string());
        return refuse(stream, peer, shared, err, &snap.settings).await;
    };
    let Some(slot) = tenant.slots.try_acquire(&tenant.metrics.active) else {
        tenant.metrics.refused_limit.inc();
        let err = ProxyError::SessionLimit(tenant.id.to_string());
        return refuse(stream, peer, shared, err, &snap.settings).await;
    };
    tenant.metrics.admitted.inc();
    let verdict = Arc::new(Verdict::default());
    let session = Arc::new(Session {
        client,
        tenant: Arc::clone(&tenant.id),
        cached: Mutex::new(None),
        verdict: Arc::clone(&verdict),
        requests: AtomicU64::new(0),
        _slot: slot,
        _conn: token,
    });
    let (mut stream, mut stop) = (stream, stop);
    // A drain already under way: hyper closes the idle connection at once.
    let stopping = *stop.borrow();
    let first = match stopping {
        true => direct::First::Other(Vec::new()),
        false => direct::read_first(&mut stream, &snap.settings, &mut stop).await,
    };
    let early = match first {
        direct::First::Closed => return,
        direct::First::Other(bytes) => bytes,
        direct::First::Connect(head) => {
            return direct::serve(stream, head, snap, session, &shared).await;
        }
    };
    let io = guard(stream, &snap.settings, verdict).preloaded(early);
    let settings = Arc::clone(&snap.settings);
    drop(snap);
    let svc = {
        let shared = Arc::clone(&shared);
        service_fn(move |req: Request<Incoming>| {
            let session = Arc::clone(&session);
            let shared = Arc::clone(&shared);
            async move { Ok::<_, Infallible>(handle_request(req, session, shared).await) }
        })
    };
    let conn = builder(&settings, true)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    drive(conn, stop).await;
}

/// Answers every request of a refused connection with `err`, then closes it.
async fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    err: ProxyError,
    settings: &Settings,
) {
    let err = Arc::new(err);
    let svc = service_fn(move |req: Request<Incoming>| {
        let ex = Exchange::refused(&req, peer, &shared);
        let resp = ex.fail(&shared, None, &err);
        async move { Ok::<_, Infallible>(resp) }
    });
    let io = guard(stream, settings, Arc::new(Verdict::default()));
    let conn = builder(settings, false).serve_connection(TokioIo::new(io), svc);
    let _ = conn.await;
}

fn guard(stream: TcpStream, settings: &Settings, verdict: Arc<Verdict>) -> Guarded<TcpStream> {
    Guarded::new(
        stream,
        Framer::new(settings.max_header_bytes, settings.max_headers),
        verdict,
    )
}

fn builder(settings: &Settings, keep_alive: bool) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_headers(PARSER_MAX_HEADERS)
        .max_buf_size(PARSER_MAX_BUF)
        .keep_alive(keep_alive);
    b
}

/// Runs a client connection; on shutdown, lets the exchange in flight finish, then closes.
async fn drive<C>(conn: C, mut stop: watch::Receiver<bool>)
where
    C: std::future::Future<Output = hyper::Result<()>> + GracefulShutdown,
{
    tokio::pin!(conn);
    if *stop.borrow() {
        conn.as_mut().shutdown();
    }
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "client connection ended with an error");
                }
                return;
            }
            changed = stop.changed() => {
                conn.as_mut().shutdown();
                if changed.is_err() {
                    let _ = conn.as_mut().await;
                    return;
                }
            }
        }
    }
}

/// hyper's graceful shutdown, behind a trait so `drive` needs no concrete connection type.
trait GracefulShutdown {
    fn shutdown(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulShutdown for http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = ProxyBody>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn shutdown(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

async fn handle_request(
    req: Request<Incoming>,
    session: Arc<Session>,
    shared: Arc<Shared>,
) -> Response<ProxyBody> {
    let snap = shared.snapshot.load_full();
    let mut ex = Exchange::new(&req, SocketAddr::V4(session.client), &shared);
    let n = session.requests.fetch_add(1, Ordering::Relaxed) + 1;
    // The source may have been re-registered to another tenant (or removed) by a reload.
    let Some(tenant) = snap
        .tenant_for(*session.client.ip())
        .filter(|t| t.id == session.tenant)
    else {
        return ex.fail(
            &shared,
            None,
            &ProxyError::UnknownSource(session.client.ip().to_string()),
        );
    };
    ex.tenant = Some(Arc::clone(&tenant.id));
    let outcomes = Some(&*tenant.metrics.outcomes);
    if let Some(refused) = session.verdict.for_head(n) {
        return ex.fail(&shared, outcomes, refused);
    }
    if pac::is_pac_request(&req) {
        return pac::serve(&req, tenant);
    }
    let target = match request::check(&req, &shared.via_token) {
        Ok(t) => t,
        Err(e) => return ex.fail(&shared, outcomes, &e),
    };
    ex.set_target(target.host(), target.port());
    match target {
        request::Target::Connect { host, port } => {
            tunnel::connect(req, ex, host, port, &snap, tenant, &session, &shared).await
        }
        request::Target::Forward {
            host,
            port,
            authority,
        } => {
            forward::forward(
                req, ex, host, port, authority, &snap, tenant, &session, &shared,
            )
            .await
        }
    }
}
