//! One admitted client connection: its tenant, its slot, and what its requests share.

use std::net::SocketAddrV4;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::framing::Verdict;
use super::hop::HopCache;
use crate::admission::SessionGuard;
use crate::drain::ConnToken;
use crate::snapshot::{Snapshot, TenantRuntime};

/// One admitted client connection. Holding it (the connection task, or a tunnel that outlives
/// the HTTP exchange) keeps the tenant's session slot taken.
pub struct Session {
    pub client: SocketAddrV4,
    pub tenant: Arc<str>,
    /// A connection to the last destination or parent proxy, reused by the next request to the
    /// same place.
    pub(super) hops: HopCache,
    /// Request heads the framer refused (see `framing`), and how many requests were handled.
    pub(super) verdict: Arc<Verdict>,
    pub(super) requests: AtomicU64,
    _slot: SessionGuard,
    _conn: ConnToken,
}

impl Session {
    pub fn new(
        client: SocketAddrV4,
        tenant: Arc<str>,
        verdict: Arc<Verdict>,
        slot: SessionGuard,
        conn: ConnToken,
    ) -> Session {
        Session {
            client,
            tenant,
            hops: HopCache::default(),
            verdict,
            requests: AtomicU64::new(0),
            _slot: slot,
            _conn: conn,
        }
    }

    /// The session's tenant in `snap`, if its source still belongs to it (a reload may have
    /// moved or removed the source).
    pub fn tenant_in<'s>(&self, snap: &'s Snapshot) -> Option<&'s TenantRuntime> {
        snap.tenant_for(*self.client.ip())
            .filter(|t| t.id == self.tenant)
    }
}
