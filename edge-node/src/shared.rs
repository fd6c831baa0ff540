//! State shared by every connection and task of the process: the serving configuration and
//! what the request path, the admin listener, reloads and sync all read or update.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;

use crate::access_log::AccessLog;
use crate::drain::ConnTracker;
use crate::metrics::Metrics;
use crate::quota::Quotas;
use crate::resolve::Resolver;
use crate::snapshot::Snapshot;
use crate::waiting::Waiting;

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
    /// Connections waiting for their first request head, per source address.
    pub waiting: Arc<Waiting>,
    /// This edge's `Via` entry (`1.1 <node_id> (breakout)`), and the token that finds it in a
    /// request's `Via` (a loop).
    pub via: HeaderValue,
    pub via_token: String,
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
            waiting: Arc::new(Waiting::default()),
            via,
            via_token,
        }
    }
}
