//! One edge connection: hello, then snapshots and updates out and acks, nacks and reports in, until either
//! side goes away. The decisions are [`EdgeCursor`]'s (an empty update for an edge whose hello
//! announced the current content included); this only moves frames.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::{Frame, Grants, Hello, MAX_EDGE_FRAME, PROTOCOL_VERSION};
use bytes::Bytes;

use super::cursor::{prefer_update, EdgeCursor, Offer};
use super::feed::Built;
use super::io::{FrameIo, IoError};
use super::registry::EdgeHandle;
use super::starts::Start;
use super::EdgeServer;
use crate::clock::Clock;
use crate::store::{Consistency, StoreError};

/// How long an edge has to open its stream and say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long this node may take to reach the version an edge announced before the edge is told
/// to try another node.
pub const CATCH_UP: Duration = Duration::from_secs(10);

/// How long to let the edge read a final error frame before the connection is closed.
const LINGER: Duration = Duration::from_secs(1);

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Told to the edge in an error frame before closing.
    #[error("{0}")]
    Refused(String),
}

/// Serves one incoming connection to its end.
pub async fn serve_edge(server: Arc<EdgeServer>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    match run(&server, incoming, remote).await {
        Ok(()) => tracing::debug!(%remote, "edge disconnected"),
        Err(e) => tracing::info!(%remote, error = %e, "edge session ended"),
    }
}

async fn run(
    server: &EdgeServer,
    incoming: quinn::Incoming,
    remote: SocketAddr,
) -> Result<(), SessionError> {
    let conn = incoming.await?;
    let (send, recv) = tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi())
        .await
        .map_err(|_| SessionError::Refused("no stream opened in time".into()))??;
    let mut io = FrameIo::new(send, recv, MAX_EDGE_FRAME);
    let result = match tokio::time::timeout(HELLO_TIMEOUT, io.read()).await {
        Err(_) => Err(SessionError::Refused("no hello in time".into())),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(None)) => Ok(()),
        Ok(Ok(Some(Frame::Hello(hello)))) => match server.check_hello(&hello) {
            Err(why) => Err(SessionError::Refused(why)),
            Ok(()) => {
                tracing::info!(%remote, edge = %hello.edge_id, region = %hello.region,
                    last_version = hello.last_version, "edge connected");
                let handle = server.registry.connect(
                    &hello.edge_id,
                    &hello.region,
                    remote,
                    server.clock.now_ms(),
                );
                converse(server, &mut io, &hello, &handle).await
            }
        },
        Ok(Ok(Some(other))) => Err(SessionError::Refused(format!(
            "expected a hello first, got {}",
            kind(&other)
        ))),
    };
    if let Err(SessionError::Refused(why)) = &result {
        // Best effort: the edge logs why, then closes; a peer that never reads is cut after
        // LINGER.
        let _ = io
            .write(&Frame::Error {
                message: why.clone(),
            })
            .await;
        io.finish();
        let _ = tokio::time::timeout(LINGER, conn.closed()).await;
    }
    conn.close(0u32.into(), b"bye");
    result
}

/// The conversation after a valid hello.
async fn converse(
    server: &EdgeServer,
    io: &mut FrameIo,
    hello: &Hello,
    handle: &EdgeHandle,
) -> Result<(), SessionError> {
    let mut versions = server.store.subscribe();
    let mut cursor = EdgeCursor::new(hello.last_version)
        .with_updates(hello.updates)
        .with_content(hello.content_digest());
    // None for a replaced connection (another session serves the edge).
    let mut grants = handle.grants();
    let catch_up = tokio::time::Instant::now() + CATCH_UP;
    // The policy last sent, the base of an update.
    let mut last: Option<Arc<Built>> = None;
    let mut dirty = true;
    let mut told_sparse = false;
    loop {
        if dirty {
            dirty = false;
            // Mark the version seen before reading, so a change during the read is not lost.
            versions.borrow_and_update();
            let state = server.store.read(Consistency::Stale).await?;
            let built = server
                .feeds
                .get_off_runtime(state, &hello.region)
                .await
                .map_err(SessionError::Refused)?;
            offer(server, io, &mut cursor, &built, &mut last, &hello.edge_id).await?;
            handle.synced(cursor.acked(), cursor.synced_through());
            if !told_sparse && cursor.has_sent() {
                // Without it an edge reports whole (every tenant of its region, 5,000 at
                // 100,000 tenants) every second until the leader's first grants reach it, and
                // after a leader change every edge that moved does so at once.
                io.write(&Frame::Grants(Grants::sparse_only())).await?;
                told_sparse = true;
            }
        }
        let waiting = !cursor.has_sent();
        tokio::select! {
            changed = versions.changed() => {
                changed.map_err(|_| StoreError::Unavailable("the store stopped".into()))?;
                dirty = true;
            }
            frame = io.read() => match frame? {
                None => return Ok(()),
                Some(frame) => {
                    if on_frame(frame, io, &mut cursor, handle, hello, &*server.clock).await? {
                        dirty = true;
                    }
                }
            },
            changed = async { grants.as_mut()?.changed().await.ok() }, if grants.is_some() => {
                let next = match (changed, grants.as_mut()) {
                    (Some(()), Some(rx)) => rx.borrow_and_update().clone(),
                    _ => {
                        grants = None;
                        None
                    }
                };
                if let Some(mut g) = next {
                    // This node merges sparse reports (`EdgeHandle::reported`).
                    g.sparse_reports = true;
                    io.write(&Frame::Grants(g)).await?;
                }
            }
            _ = tokio::time::sleep_until(catch_up), if waiting => {
                let have = server.store.read(Consistency::Stale).await?.version;
                return Err(SessionError::Refused(format!(
                    "this node is at version {have}, behind your version {}; try another node",
                    hello.last_version
                )));
            }
        }
    }
}

/// Sends `built` as the cursor decides: an empty update (the edge's content is current), an
/// update or the snapshot, or nothing. `last` becomes what was sent, the base of the next update.
async fn offer(
    server: &EdgeServer,
    io: &mut FrameIo,
    cursor: &mut EdgeCursor,
    built: &Arc<Built>,
    last: &mut Option<Arc<Built>>,
    edge: &str,
) -> Result<(), SessionError> {
    let first = !cursor.has_sent();
    let offer = cursor.offer(built.version, built.hash);
    match offer {
        Offer::Confirm { from } => match built.confirm_frame(from) {
            Ok(update) => {
                io.write_shared(update).await?;
                cursor.sent_as_update();
                server.started(Start::EmptyUpdate);
                tracing::debug!(
                    edge,
                    from,
                    to = built.version,
                    "content current: empty update"
                );
                *last = Some(Arc::clone(built));
            }
            Err(e) => tracing::error!(edge, error = %e, "not sent"),
        },
        Offer::Send { base } => {
            let from = last.as_ref().filter(|l| base == Some(l.version));
            let update = update_off_runtime(built, from).await;
            match update.filter(|u| prefer_update(u.len(), built.snapshot_size())) {
                Some(update) => {
                    tracing::debug!(edge, from = ?base, to = built.version, "update");
                    io.write_shared(update).await?;
                    cursor.sent_as_update();
                    *last = Some(Arc::clone(built));
                }
                None => match built.frame_off_runtime().await {
                    Ok(snapshot) => {
                        tracing::debug!(edge, version = built.version, "snapshot");
                        io.write_shared(snapshot).await?;
                        if first {
                            server.started(Start::Snapshot);
                        }
                        *last = Some(Arc::clone(built));
                    }
                    // The edge keeps what it has; its lag shows in `edge list`.
                    Err(e) => tracing::error!(edge, error = %e, "not sent"),
                },
            }
        }
        Offer::Unchanged | Offer::Behind => {
            tracing::debug!(edge, version = built.version, offer = ?offer, "nothing sent");
        }
    }
    Ok(())
}

/// The update frame from `from` to `built` (None: no base, or none to send), computed on a
/// blocking thread when it is not cached yet (a diff of the region's policies).
async fn update_off_runtime(built: &Arc<Built>, from: Option<&Arc<Built>>) -> Option<Bytes> {
    let from = Arc::clone(from?);
    let built = Arc::clone(built);
    tokio::task::spawn_blocking(move || built.update_frame(&from))
        .await
        .ok()
        .flatten()
}

/// Handles a frame from the edge; true if the region's policy must be offered again (a refused
/// update, to be followed by a snapshot).
async fn on_frame(
    frame: Frame,
    io: &mut FrameIo,
    cursor: &mut EdgeCursor,
    handle: &EdgeHandle,
    hello: &Hello,
    clock: &dyn Clock,
) -> Result<bool, SessionError> {
    handle.seen(clock.now_ms());
    match frame {
        Frame::Ack { version } => {
            cursor.on_ack(version).map_err(SessionError::Refused)?;
            handle.synced(cursor.acked(), cursor.synced_through());
        }
        Frame::Nack { version, reason } => {
            tracing::warn!(edge = %hello.edge_id, version, %reason, "edge refused a configuration");
            handle.nacked(version, &reason, clock.now_ms());
            return Ok(cursor.on_nack(version));
        }
        Frame::Report(report) => handle.reported(report, clock.instant(), clock.now_ms()),
        Frame::Ping { nonce } => {
            io.write(&Frame::Pong { nonce }).await?;
        }
        Frame::Error { message } => {
            tracing::info!(edge = %hello.edge_id, %message, "edge closed with an error");
        }
        Frame::Pong { .. } | Frame::Unknown => {}
        other @ (Frame::Hello(_) | Frame::Snapshot(_) | Frame::Update(_) | Frame::Grants(_)) => {
            return Err(SessionError::Refused(format!(
                "an edge may not send {}",
                kind(&other)
            )));
        }
    }
    Ok(false)
}

fn kind(frame: &Frame) -> &'static str {
    match frame {
        Frame::Hello(_) => "hello",
        Frame::Snapshot(_) => "snapshot",
        Frame::Update(_) => "update",
        Frame::Ack { .. } => "ack",
        Frame::Nack { .. } => "nack",
        Frame::Report(_) => "report",
        Frame::Grants(_) => "grants",
        Frame::Ping { .. } => "ping",
        Frame::Pong { .. } => "pong",
        Frame::Error { .. } => "error",
        Frame::Unknown => "an unknown frame",
    }
}

/// What a hello must satisfy, besides the token.
pub fn check_hello_fields(hello: &Hello) -> Result<(), String> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})",
            hello.protocol
        ));
    }
    let id_ok = (1..=128).contains(&hello.edge_id.len())
        && hello.edge_id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        return Err("edge_id must be 1-128 printable ASCII characters without spaces".into());
    }
    let region_ok = (1..=63).contains(&hello.region.len())
        && hello
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(format!("region {:?} is not a region name", hello.region));
    }
    Ok(())
}
