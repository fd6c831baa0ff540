//! What happens to a connection before the edge reads a byte of it: a source address no
//! tenant registered (art. 8; IPv6 cannot be registered) is closed at once, and a source with
//! `max_pending_per_source` connections already waiting to send their first request head is
//! refused (`429`, written without reading, then closed). Either way no task is started and
//! the descriptor is given back at once.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::body::serialize;
use super::error::ProxyError;
use super::PROXY_NAME;
use crate::metrics::RefusalReason;
use crate::outcome::Reason;
use crate::shared::Shared;
use crate::snapshot::{Snapshot, Source};
use crate::waiting::Ticket;

/// Which listener accepted the connection: both serve a tenant's own sources, but only the
/// proxy listener's connections are sessions (counted in `sessions_refused_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    Proxy,
    Pac,
}

/// A connection let in: its IPv4 source, the configuration it was judged under, and its
/// place among its source's connections waiting for a first head.
pub struct Admitted {
    pub client: SocketAddrV4,
    pub snap: Arc<Snapshot>,
    pub ticket: Ticket,
}

/// Lets `stream` in, or refuses (and closes) it.
pub fn gate(
    shared: &Shared,
    stream: &tokio::net::TcpStream,
    peer: SocketAddr,
    listener: Listener,
) -> Option<Admitted> {
    let sessions = listener == Listener::Proxy;
    let Some(client) = ipv4(peer) else {
        if sessions {
            shared.metrics.refused(RefusalReason::Ipv6Client);
        }
        shared.metrics.no_tenant.refusal(Reason::Ipv6Client);
        return None;
    };
    let snap = shared.snapshot.load_full();
    let source = snap.source(*client.ip());
    // Without a configuration yet every source is unknown: those get a 503 to retry.
    let configured = !shared.awaiting_config.load(Ordering::Acquire);
    if matches!(source, Source::Unregistered) && configured {
        if sessions {
            shared.metrics.refused(RefusalReason::UnknownSource);
        }
        shared.metrics.no_tenant.refusal(Reason::UnregisteredSource);
        return None;
    }
    let limit = snap.settings.max_pending_per_source;
    let Some(ticket) = shared.waiting.enter(*client.ip(), limit) else {
        let tenant = match source {
            Source::Tenant(t) => Some(t),
            _ => None,
        };
        match tenant {
            Some(t) if sessions => t.metrics.refused_source.inc(),
            None if sessions => shared.metrics.refused(RefusalReason::SourceLimit),
            _ => {}
        }
        let outcomes = tenant.map_or(&shared.metrics.no_tenant, |t| &t.metrics.outcomes);
        outcomes.refusal(Reason::SourceConnectionLimit);
        let err = ProxyError::SourceLimit {
            addr: *client.ip(),
            limit,
        };
        // A new socket's send buffer takes a short answer whole; if it does not, the client
        // only sees the close.
        let answer = err.response(PROXY_NAME, snap.settings.full_error_details);
        let _ = stream.try_write(&serialize(&answer));
        return None;
    };
    Some(Admitted {
        client,
        snap,
        ticket,
    })
}

/// The client's IPv4 address (an IPv4-mapped IPv6 peer included).
fn ipv4(peer: SocketAddr) -> Option<SocketAddrV4> {
    match peer {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a
            .ip()
            .to_ipv4_mapped()
            .map(|v4| SocketAddrV4::new(v4, a.port())),
    }
}
