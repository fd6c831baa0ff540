//! Where a forwarded request goes next, and the connection a session keeps to the last place
//! it went. The key of a kept connection is copied once, when the connection is opened; a
//! request to the same place compares against it without copying anything.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use breakout_policy::route::ParentProxy;
use breakout_policy::Host;
use hyper::client::conn::http1::SendRequest;

use super::body::RequestBody;

/// Where a request goes next, borrowed from the request and the configuration.
#[derive(Clone, Copy)]
pub enum Next<'a> {
    Origin {
        host: &'a Host<'a>,
        port: u16,
        egress: Option<Ipv4Addr>,
    },
    Upstream(&'a Arc<ParentProxy>),
}

/// Where a kept connection leads (owned: it outlives the request that opened it).
#[derive(Debug, PartialEq, Eq)]
enum HopKey {
    Origin {
        host: Host<'static>,
        port: u16,
        egress: Option<Ipv4Addr>,
    },
    Upstream(Arc<ParentProxy>),
}

impl HopKey {
    fn of(next: Next<'_>) -> HopKey {
        match next {
            Next::Origin { host, port, egress } => HopKey::Origin {
                host: host.clone().into_owned(),
                port,
                egress,
            },
            Next::Upstream(p) => HopKey::Upstream(Arc::clone(p)),
        }
    }

    fn leads_to(&self, next: Next<'_>) -> bool {
        match (self, next) {
            (
                HopKey::Origin { host, port, egress },
                Next::Origin {
                    host: h,
                    port: p,
                    egress: e,
                },
            ) => host == h && *port == p && *egress == e,
            (HopKey::Upstream(a), Next::Upstream(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

/// A connection kept for the session's next request.
pub struct CachedHop {
    key: HopKey,
    pub sender: SendRequest<RequestBody>,
}

impl CachedHop {
    /// A connection just opened to `next` (its key is copied once, here).
    pub fn new(next: Next<'_>, sender: SendRequest<RequestBody>) -> CachedHop {
        CachedHop {
            key: HopKey::of(next),
            sender,
        }
    }
}

/// A session's kept connection: only taken and put back, never held across an await.
#[derive(Default)]
pub struct HopCache(Mutex<Option<CachedHop>>);

impl HopCache {
    /// The kept connection, if it leads to `next` and is still open.
    pub fn take(&self, next: Next<'_>) -> Option<CachedHop> {
        let mut slot = self.0.lock().ok()?;
        match slot.take() {
            Some(c) if c.key.leads_to(next) && !c.sender.is_closed() => Some(c),
            _ => None,
        }
    }

    pub fn put(&self, hop: CachedHop) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(hop);
        }
    }
}
