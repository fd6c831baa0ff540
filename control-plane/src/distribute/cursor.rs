//! One edge's position in the stream of its region's configurations (sans-IO): what it said it
//! has, what was sent, what it acknowledged. Decides whether a region policy is sent.
//!
//! Rules: nothing older than the version the edge announced in its hello is ever sent (the edge
//! may have applied it from another, more advanced node); versions sent on a connection only
//! increase; a version whose region content equals what was last sent is not sent again, but
//! the edge counts as current through it.

/// A digest of a region policy's content (everything but its version).
pub type ContentHash = [u8; 32];

/// What to do with the region's policy at some store version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Send it.
    Send,
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
}

impl EdgeCursor {
    /// An edge that announced `last_version` (0: it has nothing).
    pub fn new(last_version: u64) -> Self {
        EdgeCursor {
            hello_version: last_version,
            sent: None,
            acked: None,
            current_through: 0,
        }
    }

    /// The region's policy is at `version` with content `hash`: send it or not.
    pub fn offer(&mut self, version: u64, hash: ContentHash) -> Offer {
        if version < self.hello_version {
            return Offer::Behind;
        }
        match self.sent {
            Some((sent, _)) if version <= sent => Offer::Unchanged,
            Some((_, sent_hash)) if sent_hash == hash => {
                self.current_through = version;
                Offer::Unchanged
            }
            _ => {
                self.sent = Some((version, hash));
                self.current_through = version;
                Offer::Send
            }
        }
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
        assert_eq!(c.offer(10, B), Offer::Send);
        assert!(c.has_sent());
    }

    #[test]
    fn a_fresh_edge_gets_the_current_version_at_once() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(3, A), Offer::Send);
    }

    #[test]
    fn versions_sent_only_increase() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(5, A), Offer::Send);
        assert_eq!(c.offer(4, B), Offer::Unchanged, "older than what was sent");
        assert_eq!(c.offer(5, B), Offer::Unchanged, "same version again");
        assert_eq!(c.offer(6, B), Offer::Send);
    }

    #[test]
    fn unchanged_content_is_not_resent_but_counts_as_current() {
        let mut c = EdgeCursor::new(0);
        assert_eq!(c.offer(5, A), Offer::Send);
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
