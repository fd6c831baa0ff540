//! Configuration from the control plane (see `docs/distribution.md`).
//!
//! The edge keeps one connection to one node of its list, moving to the next on failure (with
//! backoff and jitter). Each snapshot is validated and compiled off the request path and swapped
//! in atomically ([`apply`]), or refused with a nack while the previous one keeps serving
//! (fail-static); a lost control plane changes nothing either. Reports go out every second.

pub mod apply;
pub mod backoff;
pub mod client;
pub mod contact;
mod io;
pub mod node;
pub mod pick;
pub mod report;
pub mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use self::apply::Applier;
use self::backoff::Backoff;
use self::contact::Contact;
use self::node::{EdgeNode, SyncNode};
use crate::shared::Shared;

/// Environment variable holding the edge token (when no `--edge-token-file`).
pub const TOKEN_ENV: &str = "BREAKOUT_EDGE_TOKEN";

/// First and longest pause between connection attempts.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a node whose session or attempt ended goes after the others ([`pick::Standing`]).
const AVOID_AFTER_END: Duration = Duration::from_secs(30);

/// Where and as whom to connect.
#[derive(Clone)]
pub struct SyncConfig {
    /// Control-plane edge endpoints, `host:port`, in order of preference.
    pub control_plane: Vec<String>,
    pub region: String,
    pub node_id: String,
    pub ca_file: PathBuf,
    pub token: String,
}

/// Why a connection failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Connect(String),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("{0}")]
    Io(#[from] io::IoError),
    #[error("the control plane refused: {0}")]
    Refused(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the control plane closed the stream")]
    Closed,
}

/// The edge token: the file's contents (trimmed), else `BREAKOUT_EDGE_TOKEN`.
pub fn read_token(file: Option<&Path>) -> Result<String, String> {
    let (token, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            std::env::var(TOKEN_ENV)
                .map_err(|_| format!("no edge token: --edge-token-file or {TOKEN_ENV}"))?,
            TOKEN_ENV.to_string(),
        ),
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("the edge token from {source} is empty"));
    }
    Ok(token.to_string())
}

/// Checks what can be checked before the first connection (the CA file).
pub fn prepare(cfg: &SyncConfig) -> Result<quinn::ClientConfig, SyncError> {
    if cfg.control_plane.is_empty() {
        return Err(SyncError::Setup("no control-plane address".into()));
    }
    client::client_config(&cfg.ca_file)
}

/// Drops each tenant's limit to its floor when its grant expires unrenewed (control plane
/// unreachable, or the leader stopped renewing it), forever.
pub async fn expire_grants(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(crate::quota::EXPIRY_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let snap = shared.snapshot.load();
        snap.apply_limits(&shared.quotas, std::time::Instant::now());
    }
}

/// Keeps the edge connected to some node of `cfg.control_plane`, forever.
pub async fn run(cfg: SyncConfig, client: quinn::ClientConfig, shared: Arc<Shared>) {
    let applier = Arc::new(Applier::new(Arc::clone(&shared), &cfg.region));
    let contact = Arc::new(Contact::new(std::time::Instant::now()));
    tokio::spawn(contact::watch(Arc::clone(&contact), Arc::clone(&shared)));
    let node = Arc::new(EdgeNode::new(applier, contact, shared));
    run_node(cfg, client, node).await
}

/// Keeps `node` connected to some node of `cfg.control_plane`, forever: the first node, then
/// after each session a node drawn at random among the others ([`pick`]), with backoff and
/// jitter (reset after a session that delivered a configuration). Logs carry the edge's id (the
/// fleet simulator runs a thousand of these in one process).
pub async fn run_node<N: SyncNode>(cfg: SyncConfig, client: quinn::ClientConfig, node: Arc<N>) {
    let span = tracing::info_span!("sync", edge = %cfg.node_id);
    tracing::Instrument::instrument(reconnect_forever(cfg, client, node), span).await
}

async fn reconnect_forever<N: SyncNode>(
    cfg: SyncConfig,
    client: quinn::ClientConfig,
    node: Arc<N>,
) {
    let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_MAX);
    let mut targets = pick::Targets::new(cfg.control_plane.len(), AVOID_AFTER_END);
    loop {
        let index = targets.next(tokio::time::Instant::now());
        let Some(target) = cfg.control_plane.get(index) else {
            return; // no node at all: `prepare` refuses that before this runs
        };
        let outcome = session::run(&cfg, &client, target, &node).await;
        targets.ended(index, tokio::time::Instant::now());
        if let Err(e) = &outcome.end {
            tracing::warn!(target = %target, error = %e, "control-plane connection lost; trying another node");
        }
        if outcome.got_snapshot {
            backoff.reset();
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
