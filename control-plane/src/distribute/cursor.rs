//! One edge's position in the stream of its region's configurations (sans-IO): what it said it
//! has, what was sent, what it acknowledged. Decides whether a region policy is sent.
//!
//! Rules: nothing older than the version the edge announced in its hello is ever sent (the edge
//! may have applied it from another, more advanced node); versions sent on a connection only
//! increase; a version whose region content equals what was last sent is not sent again, but
//! the edge counts as current through it.
//!
//! A new version goes as an update (changes only) when the edge acknowledged the previous
//! version sent on this connection and the update is under half the snapshot's size
//! ([`prefer_update`]); otherwise as a snapshot. An update the edge refuses is followed by a
//! snapshot of the newest version (the one exception to "only increase": it may be the same
//! version the update carried).
//!
//! A reconnecting edge whose hello announced the digest of the content it serves, equal to the
//! region's content now, is not sent the snapshot: the first thing it gets is an empty update
//! from the version it announced ([`Offer::Confirm`]), which moves it to this node's version
//! with the content it has. Equal digests mean equal content whatever the version numbers
//! (`breakout_policy::wire::content`); if the edge refuses the update, it gets the snapshot.

/// A digest of a region policy's content (everything but its version).
pub type ContentHash = [u8; 32];

/// What to do with the region's policy at some store version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Send it: as an update from `base` if there is one (the version last sent on this
    /// connection, acknowledged), else as a snapshot.
    Send { base: Option<u64> },
    /// The edge's hello announced `from` with this very content: send an update from `from`
    /// without changes instead of the snapshot.
    Confirm { from: u64 },
    /// The edge has (or was sent) this content already, or something newer.
    Unchanged,
    /// This node is behind the version the edge announced: wait for it to catch up.
    Behind,
}

/// The edge's side of the conversation as the server tracks it.
#[derive(Clone, Debug)]
pub struct EdgeCursor {
    hello_version: u64,
    sent: Option<(u64, ContentHash)>,
    acked: Option<u64>,
    /// The newest store version whose region content equals the content last sent.
    current_through: u64,
    /// The last version sent went as an update.
    sent_update: bool,
    /// That update was refused: send the newest content again, as a snapshot.
    resend: bool,
    /// The edge said in its hello that it applies updates.
    updates: bool,
    /// The digest of the content the edge serves at `hello_version`, as its hello said.
    hello_content: Option<ContentHash>,
}

/// Whether an update of `update_len` bytes goes instead of a snapshot of `snapshot_len`: only
/// if it is under half the size (otherwise the snapshot costs little more and needs no base).
pub fn prefer_update(update_len: usize, snapshot_len: usize) -> bool {
    update_len.saturating_mul(2) < snapshot_len
}

impl EdgeCursor {
    /// An edge that announced `last_version` (0: it has nothing).
    pub fn new(last_version: u64) -> Self {
        EdgeCursor {
            hello_version: last_version,
            sent: None,
            acked: None,
            current_through: 0,
            sent_update: false,
            resend: false,
            updates: true,
            hello_content: None,
        }
    }

    /// The digest of the content the edge serves at the version its hello announced (the
    /// hello's `content_sha256`), if it said one.
    pub fn with_content(mut self, content: Option<ContentHash>) -> Self {
        self.hello_content = content;
        self
    }

    /// Whether the edge applies updates (its hello says so); if not, it gets snapshots only.
    pub fn with_updates(mut self, updates: bool) -> Self {
        self.updates = updates;
        self
    }

    /// The region's policy is at `version` with content `hash`: send it or not.
    pub fn offer(&mut self, version: u64, hash: ContentHash) -> Offer {
        if version < self.hello_version {
            return Offer::Behind;
        }
        if self.confirms(hash) {
            self.record(version, hash);
            return Offer::Confirm {
                from: self.hello_version,
            };
        }
        match self.sent {
            Some((sent, _)) if self.resend && version >= sent => {
                self.resend = false;
                self.record(version, hash);
                Offer::Send { base: None }
            }
            Some((sent, _)) if version <= sent => Offer::Unchanged,
            Some((_, sent_hash)) if sent_hash == hash => {
                self.current_through = version;
                Offer::Unchanged
            }
            _ => {
                // On top of what was sent last, acknowledged or not yet: the edge applies frames
                // in order and an update only on the version it serves, so one on top of a send
                // it refused is refused too, and the snapshot follows (`on_nack`). Waiting for
                // the ack sent a whole snapshot whenever a version came sooner than the edge's
                // ack (8.95 MiB at 100,000 tenants), which kept slow edges behind for minutes.
                let base = self.sent.map(|(sent, _)| sent).filter(|_| self.updates);
                self.record(version, hash);
                Offer::Send { base }
            }
        }
    }

    /// Whether the first thing sent on this connection may be an empty update: the edge serves
    /// a version (not 0), applies updates, and announced exactly this content.
    fn confirms(&self, hash: ContentHash) -> bool {
        self.sent.is_none()
            && self.updates
            && self.hello_version > 0
            && self.hello_content == Some(hash)
    }

    fn record(&mut self, version: u64, hash: ContentHash) {
        self.sent = Some((version, hash));
        self.current_through = version;
        self.sent_update = false;
    }

    /// What was just offered went as an update (not a snapshot), an empty one included.
    pub fn sent_as_update(&mut self) {
        self.sent_update = true;
    }

    /// The edge refused `version`. True if that was the update last sent: the content must go
    /// again as a snapshot (offer the newest version again).
    pub fn on_nack(&mut self, version: u64) -> bool {
        let refused_update = self.sent_update && self.sent.is_some_and(|(sent, _)| sent == version);
        if refused_update {
            self.sent_update = false;
            self.resend = true;
        }
        refused_update
    }

    /// The edge applied `version`. An ack of a version never sent is a protocol error.
    pub fn on_ack(&mut self, version: u64) -> Result<(), String> {
        match self.sent {
            Some((sent, _)) if version <= sent => {
                self.acked = Some(self.acked.map_or(version, |a| a.max(version)));
                Ok(())
            }
            _ => Err(format!("ack of version {version}, which was never sent")),
        }
    }

    pub fn has_sent(&self) -> bool {
        self.sent.is_some()
    }

    /// The version the edge serves: the newest it acknowledged on this connection, else the one
    /// it announced in its hello (0 there means none).
    pub fn acked(&self) -> Option<u64> {
        self.acked
            .or((self.hello_version > 0).then_some(self.hello_version))
    }

    /// The newest store version whose region content the edge is known to serve: the content
    /// last sent, if acknowledged, is current through every later version that did not change it.
    pub fn synced_through(&self) -> Option<u64> {
        match (self.acked, self.sent) {
            (Some(acked), Some((sent, _))) if acked == sent => Some(self.current_through),
            _ => self.acked(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ContentHash = [1; 32];
    const B: ContentHash = [2; 32];

    #[test]
    fn nothing_older_than_the_hello_is_ever_sent() {
        // The edge applied version 10 from a more advanced node; this node is at 7.
        let mut c = EdgeCursor::new(10);
        assert_eq!(c.offer(7, A), Offer::Behind);
        assert_eq!(c.offer(9, B), Offer::Behind);
        assert!(!c.has_sent());
        // Caught up: the first snapshot is exactly at or after the hello's version.
        assert_eq!(c.offer(10, B), Offer::Send { base: None });
        assert!(c.has_sent());
    }

    #[test]
    fn a_fresh_edge_gets_the_current_version_at_once() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(3, A), Offer::Send { base: None });
    }

    #[test]
    fn versions_sent_only_increase() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(5, A), Offer::Send { base: None });
        assert_eq!(c.offer(4, B), Offer::Unchanged, "older than what was sent");
        assert_eq!(c.offer(5, B), Offer::Unchanged, "same version again");
        assert_eq!(c.offer(6, B), Offer::Send { base: Some(5) });
    }

    #[test]
    fn unchanged_content_is_not_resent_but_counts_as_current() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(5, A), Offer::Send { base: None });
        assert_eq!(c.synced_through(), None, "not acknowledged yet");
        assert_eq!(c.on_ack(5), Ok(()));
        assert_eq!(c.offer(6, A), Offer::Unchanged);
        assert_eq!(c.offer(9, A), Offer::Unchanged);
        assert_eq!(c.synced_through(), Some(9));
        assert_eq!(c.acked(), Some(5));
    }

    #[test]
    fn an_edge_that_did_not_ack_the_latest_is_synced_only_to_its_ack() {
        let mut c = EdgeCursor::new(0);
        c.offer(5, A);
        c.on_ack(5).expect("ack");
        c.offer(8, B); // nacked, or not acknowledged yet
        c.offer(9, B);
        assert_eq!(c.synced_through(), Some(5));
        c.on_ack(8).expect("ack");
        assert_eq!(c.synced_through(), Some(9));
    }

    #[test]
    fn before_any_ack_the_edge_serves_what_its_hello_announced() {
        let mut c = EdgeCursor::new(7);
        assert_eq!((c.acked(), c.synced_through()), (Some(7), Some(7)));
        c.offer(9, A); // refused by the edge, say
        assert_eq!((c.acked(), c.synced_through()), (Some(7), Some(7)));
        assert_eq!(EdgeCursor::new(0).acked(), None);
    }

    #[test]
    fn an_update_goes_on_top_of_the_previous_send_acknowledged_or_not() {
        let mut c = EdgeCursor::new(4);
        // The first send of a connection is a snapshot, whatever the hello said.
        assert_eq!(c.offer(5, A), Offer::Send { base: None });
        // Not acknowledged yet: the edge applies frames in order, so 5 is its base by then.
        assert_eq!(c.offer(6, B), Offer::Send { base: Some(5) });
        c.sent_as_update();
        c.on_ack(5).expect("ack");
        assert_eq!(c.offer(7, A), Offer::Send { base: Some(6) });
        c.sent_as_update();
        // The edge refused 6, so it refuses 7 (not its base) too: the newest goes whole.
        assert!(!c.on_nack(6), "not the last update sent");
        assert!(c.on_nack(7));
        assert_eq!(c.offer(7, A), Offer::Send { base: None });
        c.on_ack(7).expect("ack");
        assert_eq!(c.offer(8, B), Offer::Send { base: Some(7) });
    }

    #[test]
    fn an_edge_that_does_not_apply_updates_gets_snapshots_only() {
        let mut c = EdgeCursor::new(0).with_updates(false);
        assert_eq!(c.offer(5, A), Offer::Send { base: None });
        c.on_ack(5).expect("ack");
        assert_eq!(c.offer(6, B), Offer::Send { base: None });
    }

    #[test]
    fn a_refused_update_is_followed_by_a_snapshot_and_a_refused_snapshot_is_not() {
        let mut c = EdgeCursor::new(0);
        c.offer(5, A);
        assert!(!c.on_nack(5), "a snapshot refused is not resent");
        c.on_ack(5).expect("ack"); // say a later one was
        assert_eq!(c.offer(6, B), Offer::Send { base: Some(5) });
        c.sent_as_update();
        assert!(!c.on_nack(5), "not the update");
        assert!(c.on_nack(6));
        // The same content again, now as a snapshot, at the same or a newer version.
        assert_eq!(c.offer(6, B), Offer::Send { base: None });
        assert_eq!(c.offer(6, B), Offer::Unchanged);
        assert!(!c.on_nack(6), "the snapshot refused: nothing more to try");
        assert_eq!(c.offer(7, B), Offer::Unchanged);
        c.on_ack(6).expect("ack");
        assert_eq!(c.offer(8, A), Offer::Send { base: Some(6) });
        c.sent_as_update();
        assert!(c.on_nack(8));
        assert_eq!(
            c.offer(9, A),
            Offer::Send { base: None },
            "newer, same content"
        );
    }

    #[test]
    fn an_update_is_preferred_only_under_half_the_snapshot() {
        assert!(prefer_update(49, 100));
        assert!(!prefer_update(50, 100));
        assert!(!prefer_update(90, 100));
        assert!(!prefer_update(usize::MAX, 100));
    }

    #[test]
    fn an_edge_announcing_the_current_content_gets_an_empty_update_from_its_version() {
        let mut c = EdgeCursor::new(7).with_content(Some(A));
        // Behind the edge: wait, whatever the content.
        assert_eq!(c.offer(6, A), Offer::Behind);
        // At or past its version with the same content: confirmed, from the hello's version.
        assert_eq!(c.offer(9, A), Offer::Confirm { from: 7 });
        c.sent_as_update();
        assert_eq!(
            c.acked(),
            Some(7),
            "not acknowledged yet: what the hello said"
        );
        c.on_ack(9).expect("ack");
        assert_eq!((c.acked(), c.synced_through()), (Some(9), Some(9)));
        // Then as any connection: unchanged content sends nothing, a change goes as an update.
        assert_eq!(c.offer(10, A), Offer::Unchanged);
        assert_eq!(c.synced_through(), Some(10));
        assert_eq!(c.offer(11, B), Offer::Send { base: Some(9) });
        // At the very version the edge has: confirmed too (an update from 7 to 7).
        let mut c = EdgeCursor::new(7).with_content(Some(A));
        assert_eq!(c.offer(7, A), Offer::Confirm { from: 7 });
    }

    #[test]
    fn an_edge_with_other_content_or_no_digest_gets_the_snapshot() {
        // Content changed since the edge's version (or never was the same: another history).
        let mut c = EdgeCursor::new(7).with_content(Some(A));
        assert_eq!(c.offer(9, B), Offer::Send { base: None });
        // Only the first send can confirm: later content equal to the hello's is an update.
        c.on_ack(9).expect("ack");
        assert_eq!(c.offer(10, A), Offer::Send { base: Some(9) });
        // No digest (an edge built before it), none serving, or no updates: a snapshot.
        for mut c in [
            EdgeCursor::new(7),
            EdgeCursor::new(0).with_content(Some(A)),
            EdgeCursor::new(7).with_content(Some(A)).with_updates(false),
        ] {
            assert_eq!(c.offer(9, A), Offer::Send { base: None });
        }
    }

    #[test]
    fn a_refused_empty_update_is_followed_by_the_snapshot() {
        // Say the edge moved on, or its content is not what it said: it nacks.
        let mut c = EdgeCursor::new(7).with_content(Some(A));
        assert_eq!(c.offer(9, A), Offer::Confirm { from: 7 });
        c.sent_as_update();
        assert!(c.on_nack(9));
        assert_eq!(c.offer(9, A), Offer::Send { base: None });
        assert!(!c.on_nack(9), "the snapshot refused: nothing more to try");
    }

    #[test]
    fn acks_of_versions_never_sent_are_refused() {
        let mut c = EdgeCursor::new(0);
        assert!(c.on_ack(1).is_err());
        c.offer(5, A);
        assert!(c.on_ack(6).is_err());
        assert!(c.on_ack(5).is_ok());
        assert!(
            c.on_ack(3).is_ok(),
            "a late ack of an earlier send is harmless"
        );
        assert_eq!(c.acked(), Some(5));
    }
}
