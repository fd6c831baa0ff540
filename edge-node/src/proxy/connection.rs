//! One client connection: let in at accept, admitted as a session of its tenant, its first
//! `CONNECT` taken by `direct` or every request served by hyper, until it ends or a drain.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::accept::{self, Admitted, Listener};
use super::body::ProxyBody;
use super::call::Call;
use super::error::ProxyError;
use super::exchange::Exchange;
use super::framing::{Framer, Guarded, Verdict};
use super::session::Session;
use super::timer::{self, ConnTimer};
use super::{direct, forward, pac, request, tunnel};
use crate::config::{Settings, PARSER_MAX_BUF, PARSER_MAX_HEADERS};
use crate::drain::ConnToken;
use crate::metrics::{Outcomes, RefusalReason};
use crate::outcome::Reason;
use crate::shared::Shared;
use crate::snapshot::{Snapshot, Source, TenantRuntime};
use crate::waiting::Ticket;

/// Accepts connections until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // On Linux an accepted socket inherits TCP_NODELAY from its listener: one system call here
    // instead of one per connection.
    let nodelay_inherited = cfg!(target_os = "linux")
        && socket2::SockRef::from(&listener)
            .set_tcp_nodelay(true)
            .is_ok();
    let mut floor = timer::floor();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = floor.tick() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Refused here: dropped (closed) at once, with no task.
                    let Some(admitted) = accept::gate(&shared, &stream, peer, Listener::Proxy) else {
                        continue;
                    };
                    let token = shared.conns.track();
                    let conn = Conn { stream, admitted, nodelay_inherited };
                    // Boxed: tokio moves a task's future several times as it spawns, stores and
                    // finishes it (a memcpy of the whole future each time, ~2,700 instructions a
                    // session for this one); a box is one allocation, and only its pointer moves.
                    let task = Box::pin(handle_connection(conn, Arc::clone(&shared), token, stop.clone()));
                    tokio::spawn(task);
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

/// A connection let in by `accept::gate`.
struct Conn {
    stream: TcpStream,
    admitted: Admitted,
    /// Whether the socket has TCP_NODELAY from its listener already.
    nodelay_inherited: bool,
}

async fn handle_connection(
    conn: Conn,
    shared: Arc<Shared>,
    token: ConnToken,
    stop: watch::Receiver<bool>,
) {
    let Conn {
        stream,
        admitted,
        nodelay_inherited,
    } = conn;
    if !nodelay_inherited {
        let _ = stream.set_nodelay(true);
    }
    let Admitted {
        client,
        snap,
        ticket,
    } = admitted;
    let settings = Arc::clone(&snap.settings);
    let tenant = match session_tenant(&shared, &snap, client) {
        Ok(t) => t,
        Err(Some(err)) => {
            return Box::pin(refuse(stream, ticket, shared, settings, err, None)).await
        }
        Err(None) => return,
    };
    let Some(slot) = tenant.slots.try_acquire(&tenant.metrics.active) else {
        tenant.metrics.refused_limit.inc();
        let err = ProxyError::SessionLimit(tenant.id.to_string());
        let counted = Some((Arc::clone(&tenant.id), Arc::clone(&tenant.metrics.outcomes)));
        return Box::pin(refuse(stream, ticket, shared, settings, err, counted)).await;
    };
    tenant.metrics.admitted.inc();
    let verdict = Arc::new(Verdict::default());
    let session = Arc::new(Session::new(
        client,
        Arc::clone(&tenant.id),
        Arc::clone(&verdict),
        slot,
        token,
    ));
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
            drop(ticket);
            return direct::serve(stream, head, snap, session, &shared).await;
        }
    };
    let io = guard(stream, &snap.settings, verdict)
        .preloaded(early)
        .waiting(Some(ticket));
    let settings = Arc::clone(&snap.settings);
    drop(snap);
    Box::pin(serve_hyper(io, settings, session, shared, stop)).await;
}

/// Every request of the connection through hyper. Boxed by the caller: a connection task is
/// as large as its largest state, and hyper's connection is several times the size of a
/// direct tunnel's (which is what most of an edge's idle connections are).
async fn serve_hyper(
    io: Guarded<TcpStream>,
    settings: Arc<Settings>,
    session: Arc<Session>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
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

/// The tenant whose session a connection from `client` is, or why it is refused (`None`:
/// closed without an answer). Counts the refusal.
fn session_tenant<'s>(
    shared: &Shared,
    snap: &'s Snapshot,
    client: SocketAddrV4,
) -> Result<&'s TenantRuntime, Option<ProxyError>> {
    if shared.draining.load(Ordering::Acquire) {
        shared.metrics.refused(RefusalReason::Draining);
        return Err(Some(ProxyError::Draining));
    }
    if shared.awaiting_config.load(Ordering::Acquire) {
        shared.metrics.refused(RefusalReason::NotReady);
        return Err(Some(ProxyError::NotReady));
    }
    match snap.source(*client.ip()) {
        Source::Tenant(t) => Ok(t),
        Source::Foreign { tenant, home } => {
            shared.metrics.refused(RefusalReason::ForeignRegion);
            Err(Some(ProxyError::ForeignRegion {
                tenant: tenant.to_string(),
                home: home.to_string(),
                here: snap.region.clone(),
            }))
        }
        Source::Inactive { tenant, reason } => {
            shared.metrics.refused(RefusalReason::NotInService);
            Err(Some(ProxyError::NotInService {
                tenant: tenant.to_string(),
                reason: reason.to_string(),
            }))
        }
        // Let in before the first configuration arrived, which does not register it.
        Source::Unregistered => {
            shared.metrics.refused(RefusalReason::UnknownSource);
            shared.metrics.no_tenant.refusal(Reason::UnregisteredSource);
            Err(None)
        }
    }
}

/// Answers every request of a refused connection with `err`, then closes it.
/// Counted and logged as `tenant`'s (its id and counters), or as no tenant's.
async fn refuse(
    stream: TcpStream,
    ticket: Ticket,
    shared: Arc<Shared>,
    settings: Arc<Settings>,
    err: ProxyError,
    tenant: Option<(Arc<str>, Arc<Outcomes>)>,
) {
    let peer = stream
        .peer_addr()
        .unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
    let err = Arc::new(err);
    let svc = {
        let settings = Arc::clone(&settings);
        service_fn(move |req: Request<Incoming>| {
            let mut ex = Exchange::new(&req, peer, &shared, &settings);
            ex.tenant = tenant.as_ref().map(|(id, _)| Arc::clone(id));
            let resp = ex.fail(&shared, tenant.as_ref().map(|(_, o)| &**o), &err);
            async move { Ok::<_, Infallible>(resp) }
        })
    };
    let io = guard(stream, &settings, Arc::new(Verdict::default())).waiting(Some(ticket));
    let conn = builder(&settings, false).serve_connection(TokioIo::new(io), svc);
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
    // A timer per connection: see `timer`.
    b.timer(ConnTimer::new())
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
    let client = SocketAddr::V4(session.client);
    let mut ex = Exchange::new(&req, client, &shared, &snap.settings);
    let n = session.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let Some(tenant) = session.tenant_in(&snap) else {
        let err = ProxyError::UnknownSource(*session.client.ip());
        return ex.fail(&shared, None, &err);
    };
    ex.tenant = Some(Arc::clone(&tenant.id));
    let call = Call {
        snap: &snap,
        tenant,
        session: &session,
        shared: &shared,
    };
    if let Some(refused) = session.verdict.for_head(n) {
        return call.fail(&ex, refused);
    }
    if pac::is_pac_request(&req) {
        return pac::serve(&req, tenant);
    }
    let target = match request::check(&req, &shared.via_token) {
        Ok(t) => t,
        Err(e) => return call.fail(&ex, &e),
    };
    ex.set_target(&target.host(), target.port);
    if ex.method == http::Method::CONNECT {
        tunnel::connect(req, ex, &target, &call).await
    } else {
        forward::forward(req, ex, &target, &call).await
    }
}
