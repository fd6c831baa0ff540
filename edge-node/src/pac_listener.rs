//! The optional PAC-only listener (`pac_listen`): browsers fetch `GET /pac/{tenant}.pac` from an
//! address of its own (one that a PAC URL can name without pointing at the proxy port, or that
//! sits behind its own load balancer). The answers are the proxy listener's: the tenant is the
//! one the client's source address belongs to, and any other path or tenant is the same 404.
//! Fetching a PAC file here takes no session slot. Connections are let in as on the proxy
//! listener (`proxy::accept`): an unregistered source is closed at once, and a source's
//! connections waiting for their first head are capped.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::proxy::accept::{self, Listener};
use crate::proxy::body::ProxyBody;
use crate::proxy::pac;
use crate::proxy::timer::ConnTimer;
use crate::shared::Shared;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves PAC requests on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "PAC listener accept");
                    continue;
                }
            },
        };
        let Some(admitted) = accept::gate(&shared, &stream, peer, Listener::Pac) else {
            continue;
        };
        // Given back at the first request: the head has been read.
        let ticket = Mutex::new(Some(admitted.ticket));
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                drop(ticket.lock().map(|mut t| t.take()));
                let answer = answer(&req, peer, &shared);
                async move { Ok::<_, Infallible>(answer) }
            });
            let conn = http1::Builder::new()
                .timer(ConnTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "PAC connection");
            }
        });
    }
}

fn answer<B>(req: &Request<B>, peer: SocketAddr, shared: &Shared) -> Response<ProxyBody> {
    let snap = shared.snapshot.load();
    let v4 = match peer.ip() {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    match v4.and_then(|a| snap.tenant_for(a)) {
        Some(tenant) if pac::is_pac_request(req) => pac::serve(req, tenant),
        _ => pac::not_found(),
    }
}
