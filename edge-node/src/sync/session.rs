//! One connection to a control-plane node: hello with the applied version, then apply each
//! snapshot or update (ack or nack) and report about every second, until the connection ends.

use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::{
    Frame, Hello, SnapshotFrame, UpdateFrame, MAX_FRAME, PROTOCOL_VERSION,
};
use tokio::time::MissedTickBehavior;

use super::apply::{Applied, Applier};
use super::client::connect;
use super::contact::Contact;
use super::io::FrameIo;
use super::report::Reporter;
use super::{SyncConfig, SyncError};
use crate::shared::Shared;

/// How often the edge reports its sessions.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Longest nack reason sent.
const MAX_REASON: usize = 1024;

/// How a session went: whether it got as far as a snapshot (a working node), and why it ended.
pub struct Outcome {
    pub got_snapshot: bool,
    pub end: Result<(), SyncError>,
}

/// What a session works on: the one applier, the contact record, the edge's shared state.
pub struct Link<'a> {
    pub applier: &'a Arc<Applier>,
    pub contact: &'a Contact,
    pub shared: &'a Shared,
}

/// Runs one session with `target` to its end.
pub async fn run(
    cfg: &SyncConfig,
    client: &quinn::ClientConfig,
    target: &str,
    link: &Link<'_>,
    reporter: &mut Reporter,
) -> Outcome {
    let (applier, shared) = (link.applier, link.shared);
    let mut got_snapshot = false;
    let end = async {
        let (_endpoint, conn) = connect(client, target).await?;
        let (send, recv) = conn.open_bi().await?;
        let mut io = FrameIo::new(send, recv, MAX_FRAME);
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            edge_id: cfg.node_id.clone(),
            region: cfg.region.clone(),
            last_version: applier.applied_version(),
            token: cfg.token.clone(),
            updates: true,
        };
        io.write(&Frame::Hello(hello)).await?;
        tracing::info!(target, "connected to the control plane");
        shared.metrics.sync_connected.set(1);
        let result = converse(&mut io, link, reporter, &mut got_snapshot).await;
        shared.metrics.sync_connected.set(0);
        conn.close(0u32.into(), b"bye");
        result
    }
    .await;
    Outcome { got_snapshot, end }
}

async fn converse(
    io: &mut FrameIo,
    link: &Link<'_>,
    reporter: &mut Reporter,
    got_snapshot: &mut bool,
) -> Result<(), SyncError> {
    let (applier, shared) = (link.applier, link.shared);
    let mut tick = tokio::time::interval(REPORT_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            frame = io.read() => match frame.inspect(|f| if f.is_some() { link.contact.touch(shared) })? {
                None => return Err(SyncError::Closed),
                Some(Frame::Snapshot(s)) => {
                    *got_snapshot = true;
                    configure(io, applier, reporter, shared, Config::Snapshot(s)).await?;
                }
                Some(Frame::Update(u)) => {
                    *got_snapshot = true;
                    configure(io, applier, reporter, shared, Config::Update(u)).await?;
                }
                Some(Frame::Ping { nonce }) => io.write(&Frame::Pong { nonce }).await?,
                Some(Frame::Error { message }) => return Err(SyncError::Refused(message)),
                Some(Frame::Grants(g)) => {
                    let now = std::time::Instant::now();
                    shared.quotas.receive(&g, now);
                    shared.snapshot.load().apply_limits(&shared.quotas, now);
                }
                Some(Frame::Pong { .. } | Frame::Unknown) => {}
                Some(other @ (Frame::Hello(_) | Frame::Ack { .. } | Frame::Nack { .. }
                    | Frame::Report(_))) => {
                    return Err(SyncError::Protocol(format!("the server sent {other:?}")));
                }
            },
            _ = tick.tick() => {
                let report = reporter.report(&shared.snapshot.load(), &shared.quotas);
                io.write(&Frame::Report(report)).await?;
            }
        }
    }
}

/// Applies a configuration and answers it; after an ack, reports at once (new tenants get their
/// first grant sooner).
async fn configure(
    io: &mut FrameIo,
    applier: &Arc<Applier>,
    reporter: &mut Reporter,
    shared: &Shared,
    config: Config,
) -> Result<(), SyncError> {
    let reply = apply(applier, config, shared).await;
    io.write(&reply).await?;
    if matches!(reply, Frame::Ack { .. }) {
        let report = reporter.report(&shared.snapshot.load(), &shared.quotas);
        io.write(&Frame::Report(report)).await?;
    }
    Ok(())
}

/// A configuration to apply: whole, or the changes from the version serving.
enum Config {
    Snapshot(SnapshotFrame),
    Update(UpdateFrame),
}

/// Applies a snapshot or an update off the async threads; the ack or nack to send back.
async fn apply(applier: &Arc<Applier>, config: Config, shared: &Shared) -> Frame {
    let version = match &config {
        Config::Snapshot(s) => s.version,
        Config::Update(u) => u.to,
    };
    let task = {
        let applier = Arc::clone(applier);
        tokio::task::spawn_blocking(move || match config {
            Config::Snapshot(s) => applier.apply(s.version, &s.policy),
            Config::Update(u) => applier.apply_update(u.from, u.to, &u.changes),
        })
    };
    let result = task
        .await
        .unwrap_or_else(|e| Err(format!("applying failed: {e}")));
    match result {
        Ok(Applied::New {
            version,
            generation,
        }) => {
            shared.metrics.snapshot(true);
            tracing::info!(version, generation, "configuration applied");
            Frame::Ack { version }
        }
        Ok(Applied::Already { version }) => Frame::Ack { version },
        Err(reason) => {
            shared.metrics.snapshot(false);
            tracing::warn!(version, %reason, "configuration refused; the previous one stays");
            Frame::Nack {
                version,
                reason: reason.chars().take(MAX_REASON).collect(),
            }
        }
    }
}
