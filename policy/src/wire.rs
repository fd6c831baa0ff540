//! The control-plane ↔ edge wire protocol: the frames and their codec (no I/O).
//!
//! One long-lived bidirectional QUIC stream per edge (ALPN [`ALPN`]) carries length-prefixed
//! frames: a `u32` big-endian length, then that many bytes of JSON. Frames are adjacently tagged
//! (`{"type": "ack", "body": {"version": 7}}`) so that a large snapshot is decoded straight into
//! its types without being buffered twice. See `docs/distribution.md` for the conversation.
//!
//! Compatibility within [`PROTOCOL_VERSION`]: fields may be added (receivers ignore fields they do
//! not know), and frame types may be added (they decode as [`Frame::Unknown`], which receivers
//! skip). Anything else bumps the version, which the server checks in [`Hello`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::RegionPolicy;
use crate::outcome::RefusalCounts;

pub mod content;
mod de;
pub mod delta;
#[cfg(feature = "quic")]
pub mod quic;
pub mod sparse;

pub use delta::Changes;

/// The protocol version an edge announces in its hello.
pub const PROTOCOL_VERSION: u32 = 1;

/// The TLS ALPN protocol both sides require.
pub const ALPN: &[u8] = b"breakout/1";

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Largest frame either side sends or accepts by default (a region's whole policy fits in one
/// snapshot frame; a bigger one is refused rather than buffered without bound).
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Largest frame a server accepts from an edge (hellos, acks, reports are small).
pub const MAX_EDGE_FRAME: usize = 4 * 1024 * 1024;

/// QUIC idle timeout both sides configure: a peer silent for this long is gone.
pub const IDLE_TIMEOUT_MS: u64 = 5_000;

/// QUIC keep-alive interval: well under [`IDLE_TIMEOUT_MS`], so a quiet but healthy link never
/// times out.
pub const KEEP_ALIVE_MS: u64 = 1_000;

/// One message on the control stream. Serialized as `{"type": …, "body": …}` with the type
/// first; the hand-written `Deserialize` (in `de`) relies on that order to decode the body
/// straight into its type, and skips the body of a type it does not know.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum Frame {
    /// Edge → server, first frame of a connection.
    Hello(Hello),
    /// Server → edge: the region's whole configuration at `version`.
    Snapshot(SnapshotFrame),
    /// Server → edge: the changes from `from` (the version the edge acknowledged last on this
    /// connection, or the one its hello announced with a matching content digest) to `to`.
    /// Applied only on top of `from`; otherwise nacked, and the server sends a snapshot instead.
    Update(UpdateFrame),
    /// Edge → server: `version` is applied and serving.
    Ack {
        version: u64,
    },
    /// Edge → server: `version` was refused; the edge keeps its last good configuration.
    Nack {
        version: u64,
        reason: String,
    },
    /// Edge → server, about every second: what the edge holds (soft state).
    Report(Report),
    /// Server → edge: session quotas (leases) per tenant.
    Grants(Grants),
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    /// Either side, before closing: why.
    Error {
        message: String,
    },
    /// A frame type this build does not know (a newer peer); skipped.
    Unknown,
}

/// Who the edge is and what it has.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub edge_id: String,
    pub region: String,
    /// The newest version the edge has applied (0: none). The server never sends anything older.
    pub last_version: u64,
    /// The shared edge credential.
    pub token: String,
    /// The edge applies `update` frames (absent in hellos of edges built before them: they get
    /// snapshots only).
    #[serde(default)]
    pub updates: bool,
    /// The digest of the content of the version it serves ([`content::content_digest`], hex),
    /// absent when it serves none (and in hellos of edges built before it). A server whose
    /// region content at its version has this digest sends an empty update from
    /// `last_version` instead of the snapshot; any other server ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
}

impl Hello {
    /// The content digest the edge announced, if any and well formed.
    pub fn content_digest(&self) -> Option<content::ContentDigest> {
        self.content_sha256.as_deref().and_then(content::from_hex)
    }
}

// The token never reaches a log line through `{:?}`.
impl fmt::Debug for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hello")
            .field("protocol", &self.protocol)
            .field("edge_id", &self.edge_id)
            .field("region", &self.region)
            .field("last_version", &self.last_version)
            .field("token", &"<redacted>")
            .field("updates", &self.updates)
            .field("content_sha256", &self.content_sha256)
            .finish()
    }
}

/// A full configuration of one region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFrame {
    /// The store version the policy was read at; only increases on a connection.
    pub version: u64,
    pub policy: RegionPolicy,
}

/// The changes of one region's configuration from one version to the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateFrame {
    /// The version the changes apply to.
    pub from: u64,
    /// The version they make (`changes.version`): newer than `from`, or equal to it only in an
    /// update without changes (a reconnecting edge's content confirmed at the version it has).
    pub to: u64,
    pub changes: Changes,
}

/// An edge's per-tenant counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Increases by one per report of the edge process.
    pub seq: u64,
    pub tenants: BTreeMap<String, TenantUsage>,
    /// Per tenant, what the edge refused or failed by reason since the edge process started
    /// (cumulative, so a report lost or overwritten on the way loses nothing; a smaller count
    /// than before means the edge restarted). Only tenants with a count are present. Absent
    /// in reports of edges built before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refusals: BTreeMap<String, RefusalCounts>,
    /// The epoch of the newest grants frame the edge applied (0: none yet, and in reports of
    /// edges built before [`Renewal`]): the leader renews grants from it.
    #[serde(default)]
    pub grants_epoch: u64,
    /// Set in a sparse report: it lists only what changed since the report of seq `base` on
    /// the same connection, and [`sparse::merge`] makes it whole (`None`: whole already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u64>,
    /// In a sparse report: tenants the edge no longer serves (their entries end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl Report {
    /// Readies a report sent before (and perhaps made sparse since) to be written over as the
    /// whole report `seq`: every field but the tenants' map is reset here, the one place, and
    /// the map and the emptied refusals are handed back to be filled ([`refill_usage`]). The
    /// destructuring names every field, so one added later must be decided here rather than
    /// leak from the earlier report. `grants_epoch` is left 0 for the caller to set once it
    /// has read the holdings.
    pub fn rewrite(
        &mut self,
        seq: u64,
    ) -> (
        &mut BTreeMap<String, TenantUsage>,
        &mut BTreeMap<String, RefusalCounts>,
    ) {
        let Report {
            seq: at,
            tenants,
            refusals,
            grants_epoch,
            base,
            removed,
        } = self;
        *at = seq;
        refusals.clear();
        *grants_epoch = 0;
        *base = None;
        removed.clear();
        (tenants, refusals)
    }
}

/// Sets `tenants` to `usage(k, id)` for the `k`-th id of `ids` (ascending, no repeats), keeping
/// the map's keys and nodes while `ids` are the ones it has: an edge reports every tenant of its
/// region every second, and the set rarely changes, so building a new map (an id copied per
/// tenant) each time was most of a report's cost. Each id is compared with its key in the same
/// pass that writes the value (a separate pass over the keys first cost a second walk over
/// memory no longer in cache); from the first that differs, the rest of the map is rebuilt.
/// `usage` is called once per id, in order. Any `ids` give the same map; ones out of order only
/// cost a rebuild. True when every key was kept.
pub fn refill_usage<'a>(
    tenants: &mut BTreeMap<String, TenantUsage>,
    ids: impl Iterator<Item = &'a str>,
    mut usage: impl FnMut(usize, &str) -> TenantUsage,
) -> bool {
    let mut ids = ids.enumerate().peekable();
    let mut kept = 0;
    for (key, u) in tenants.iter_mut() {
        let Some((k, id)) = ids.next_if(|&(_, id)| id == key.as_str()) else {
            break;
        };
        *u = usage(k, id);
        kept += 1;
    }
    if ids.peek().is_none() && kept == tenants.len() {
        return true;
    }
    // The kept entries (their keys not copied) and the rest, collected: a map built in one go
    // has full nodes, where one grown by inserts in order has half-full ones (more memory,
    // and every later report walks it).
    let rest: Vec<(String, TenantUsage)> =
        ids.map(|(k, id)| (id.to_owned(), usage(k, id))).collect();
    *tenants = std::mem::take(tenants)
        .into_iter()
        .take(kept)
        .chain(rest)
        .collect();
    false
}

/// One tenant on one edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    /// Sessions open now.
    pub active: u32,
    /// Sessions refused at the tenant's limit since the previous report.
    pub refused: u32,
    /// The epoch of the newest grant the edge holds for the tenant (0: none).
    #[serde(default)]
    pub holding_epoch: u64,
    /// What the edge may admit under it: its sessions while in force, its floor once expired.
    #[serde(default)]
    pub holding_sessions: u32,
}

/// Session quotas for an edge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Grants {
    /// Increases with every allocation round of a leader (and across leaders).
    pub epoch: u64,
    /// New or changed grants (every grant, when `renew` is absent).
    pub grants: BTreeMap<String, Grant>,
    /// The grants this frame leaves as they were, renewed (absent: none; leaders built before
    /// it always list every grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew: Option<Renewal>,
    /// Set by the node the edge is connected to: it takes sparse reports on this connection
    /// (edges never send one to a node that did not say so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse_reports: bool,
}

impl Grants {
    /// A frame that changes no grant (epoch 0, nothing listed, nothing renewed: every edge,
    /// whatever its build, applies grants one by one and keeps those a frame omits) and says the
    /// node takes sparse reports. A node sends it when a session starts, so that an edge does not
    /// report whole every second until the leader's first grants reach it.
    pub fn sparse_only() -> Grants {
        Grants {
            sparse_reports: true,
            ..Grants::default()
        }
    }
}

/// Renews, to the frame's epoch and `ttl_ms` from receipt, every grant the edge holds of epoch
/// `from` (or of one in `also`) that the frame neither lists nor `ends`. A leader sends it only
/// to an edge that reported `grants_epoch == from`, with `also` the rounds it sent since, and
/// lists every grant that differs in any of them: whichever of those frames the edge applied,
/// the grants it renews are what a whole frame would have listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    pub from: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<u64>,
    pub ttl_ms: u64,
    /// Grants of `from` not renewed: left to expire as they would if a whole frame omitted them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends: Vec<String>,
}

/// One tenant's quota on one edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Concurrent sessions the edge may admit for the tenant.
    pub sessions: u32,
    /// Valid for this long from receipt, in the edge's own clock (never a wall-clock time).
    pub ttl_ms: u64,
    /// What the edge may admit once the grant expired unrenewed (control plane unreachable).
    pub floor: u32,
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    Oversized { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("stream ended inside a frame ({buffered} bytes buffered)")]
    Truncated { buffered: usize },
}

/// A frame as bytes: length prefix and JSON. Refuses a frame larger than `max`.
pub fn encode(frame: &Frame, max: usize) -> Result<Vec<u8>, WireError> {
    let mut out = vec![0u8; HEADER_LEN];
    serde_json::to_writer(&mut out, frame).map_err(|e| WireError::Malformed(e.to_string()))?;
    let len = out.len() - HEADER_LEN;
    if len > max {
        return Err(WireError::Oversized { len, max });
    }
    let prefix = u32::try_from(len).map_err(|_| WireError::Oversized { len, max })?;
    out[..HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(out)
}

/// The first frame in `buf` and the bytes it took, or `None` if `buf` holds only part of it.
/// An announced length over `max` is an error at once, before its bytes arrive.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(Frame, usize)>, WireError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut prefix = [0u8; HEADER_LEN];
    prefix.copy_from_slice(header);
    let len = u32::from_be_bytes(prefix) as usize;
    if len == 0 {
        return Err(WireError::Empty);
    }
    if len > max {
        return Err(WireError::Oversized { len, max });
    }
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    let frame = serde_json::from_slice(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok(Some((frame, HEADER_LEN + len)))
}

/// The buffer a [`FrameDecoder`] keeps between frames (bytes): more is released once the frames
/// it held are decoded.
const KEEP_BUFFERED: usize = 64 * 1024;

/// Reassembles frames from the chunks a stream delivers.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
    /// Bytes of the last frame returned, its header included.
    last_len: usize,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            max,
            last_len: 0,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one is buffered. After an error the stream is unusable.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        match decode(&self.buf, self.max)? {
            Some((frame, used)) => {
                self.buf.drain(..used);
                self.last_len = used;
                // The buffer grew to the frame; a snapshot's 9 MiB kept for the connection's
                // life is 9 MiB per edge (and, on a node, a full report's per session).
                if self.buf.capacity() > KEEP_BUFFERED && self.buf.len() <= KEEP_BUFFERED {
                    self.buf.shrink_to(KEEP_BUFFERED);
                }
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// Bytes the last frame returned took on the wire, its header included (0 before one).
    pub fn last_len(&self) -> usize {
        self.last_len
    }

    /// Whether it holds less than one frame of the largest size it accepts (with its header):
    /// a reader that must buffer ahead takes no more than that.
    pub fn has_room(&self) -> bool {
        self.buf.len() < HEADER_LEN + self.max
    }

    /// At the end of the stream: an error if it stopped inside a frame.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.buf.len() {
            0 => Ok(()),
            buffered => Err(WireError::Truncated { buffered }),
        }
    }
}

#[cfg(test)]
mod tests;
