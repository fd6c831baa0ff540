//! One connection to a control-plane node: hello with the applied version and its content's
//! digest, then apply each snapshot or update (ack or nack) and report about every second, until
//! the connection ends.
//! Written against [`SyncNode`], so the edge process and the fleet simulator run this same code.

use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::{content, Frame, Hello, MAX_FRAME, PROTOCOL_VERSION};
use tokio::time::MissedTickBehavior;

use super::apply::Applied;
use super::client::connect;
use super::io::FrameIo;
use super::node::{Config, SyncNode};
use super::report::Outgoing;
use super::{SyncConfig, SyncError};

/// How often the edge reports its sessions.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Longest nack reason sent.
const MAX_REASON: usize = 1024;

/// How a session went: whether it got as far as a snapshot (a working node), and why it ended.
pub struct Outcome {
    pub got_snapshot: bool,
    pub end: Result<(), SyncError>,
}

/// Runs one session of `node` with `target` to its end.
pub async fn run<N: SyncNode>(
    cfg: &SyncConfig,
    client: &quinn::ClientConfig,
    target: &str,
    node: &Arc<N>,
) -> Outcome {
    let mut got_snapshot = false;
    let end = async {
        let (_endpoint, conn) = connect(client, target).await?;
        let (send, recv) = conn.open_bi().await?;
        let mut io = FrameIo::new(send, recv, MAX_FRAME);
        let held = node.held();
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            edge_id: cfg.node_id.clone(),
            region: cfg.region.clone(),
            last_version: held.version,
            token: cfg.token.clone(),
            updates: true,
            // A node with this content confirms it with an empty update, not the snapshot.
            content_sha256: held.content.as_ref().map(content::to_hex),
        };
        io.write(&Frame::Hello(hello)).await?;
        tracing::info!(target, "connected to the control plane");
        node.connected(target, true);
        let result = converse(&mut io, node, &mut got_snapshot).await;
        node.connected(target, false);
        conn.close(0u32.into(), b"bye");
        result
    }
    .await;
    Outcome { got_snapshot, end }
}

async fn converse<N: SyncNode>(
    io: &mut FrameIo,
    node: &Arc<N>,
    got_snapshot: &mut bool,
) -> Result<(), SyncError> {
    let mut tick = tokio::time::interval(REPORT_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reports = Outgoing::default();
    loop {
        tokio::select! {
            frame = io.read() => match frame.inspect(|f| if f.is_some() { node.touch() })? {
                None => return Err(SyncError::Closed),
                Some(Frame::Snapshot(s)) => {
                    *got_snapshot = true;
                    configure(io, node, &mut reports, &mut tick, Config::Snapshot(s)).await?;
                }
                Some(Frame::Update(u)) => {
                    *got_snapshot = true;
                    configure(io, node, &mut reports, &mut tick, Config::Update(u)).await?;
                }
                Some(Frame::Ping { nonce }) => {
                    io.write(&Frame::Pong { nonce }).await?;
                }
                Some(Frame::Error { message }) => return Err(SyncError::Refused(message)),
                Some(Frame::Grants(g)) => {
                    reports.sparse |= g.sparse_reports;
                    node.grants(&g, io.last_read_len());
                }
                Some(Frame::Pong { .. } | Frame::Unknown) => {}
                Some(other @ (Frame::Hello(_) | Frame::Ack { .. } | Frame::Nack { .. }
                    | Frame::Report(_))) => {
                    return Err(SyncError::Protocol(format!("the server sent {other:?}")));
                }
            },
            _ = tick.tick() => send_report(io, node, &mut reports).await?,
        }
    }
}

async fn send_report<N: SyncNode>(
    io: &mut FrameIo,
    node: &Arc<N>,
    reports: &mut Outgoing,
) -> Result<(), SyncError> {
    let sent = io
        .write(&Frame::Report(reports.next(|r| node.report(r))))
        .await?;
    node.report_sent(sent);
    Ok(())
}

/// Applies a configuration and answers it. After an ack of one that added or removed tenants,
/// reports at once (new tenants get their first grant sooner), and the next report comes a
/// whole interval later. Any other ack waits for the tick: a rule change reaches every edge of
/// its region at once (a template change every edge of the fleet), and reports sent back with
/// the acks would all arrive at the node while it is still sending that change to the rest.
async fn configure<N: SyncNode>(
    io: &mut FrameIo,
    node: &Arc<N>,
    reports: &mut Outgoing,
    tick: &mut tokio::time::Interval,
    config: Config,
) -> Result<(), SyncError> {
    let (reply, report_now) = apply(node, config).await;
    io.write(&reply).await?;
    if report_now {
        send_report(io, node, reports).await?;
        tick.reset();
    }
    Ok(())
}

/// Applies a snapshot or an update off the async threads; the ack or nack to send back, and
/// whether the tenants changed.
async fn apply<N: SyncNode>(node: &Arc<N>, config: Config) -> (Frame, bool) {
    let version = config.version();
    let task = {
        let node = Arc::clone(node);
        tokio::task::spawn_blocking(move || node.apply(config))
    };
    let result = task
        .await
        .unwrap_or_else(|e| Err(format!("applying failed: {e}")));
    match result {
        Ok(Applied::New {
            version,
            generation,
            tenants_changed,
        }) => {
            node.applied(true);
            tracing::info!(version, generation, "configuration applied");
            (Frame::Ack { version }, tenants_changed)
        }
        Ok(Applied::Already { version }) => (Frame::Ack { version }, false),
        Err(reason) => {
            node.applied(false);
            tracing::warn!(version, %reason, "configuration refused; the previous one stays");
            let reason = reason.chars().take(MAX_REASON).collect();
            (Frame::Nack { version, reason }, false)
        }
    }
}

#[cfg(test)]
mod tests;
