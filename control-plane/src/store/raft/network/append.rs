//! Appends that outlive openraft's deadline for them.
//!
//! openraft 0.9 wraps every AppendEntries call in a timeout of one heartbeat interval (150 ms,
//! `RaftTuning::heartbeat_ms`) and drops the call when it fires. Serialising, sending, decoding
//! and fsyncing an entry of several MiB (an import, a tenant with long lists) takes longer than
//! that, so a dropped call would leave the follower without the entry and openraft would send
//! it again, forever. Instead an append with entries runs on a task of its own with a deadline
//! that grows with its size ([`append_timeout`]); when openraft drops its call, the task runs
//! on, and openraft's next call for the same entries (it retries after each timeout) waits for
//! that same task instead of sending them again. Raft tolerates delayed and repeated messages,
//! so a request that finishes after openraft stopped waiting is harmless; its answer is only
//! used for a later call that asks about the same entries of the same leader.

use std::time::Duration;

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use tokio::task::JoinHandle;

use super::RpcResult;
use crate::store::raft::types::{LogId, NodeId, TypeConfig, Vote};

/// Extra time an append may take per MiB of its encoded request, beyond the base timeout: a
/// loaded 2-core machine decodes, writes and fsyncs a MiB of JSON well within it.
const PER_MIB: Duration = Duration::from_secs(1);
/// No append waits longer than this, whatever its size.
const MAX_APPEND_TIMEOUT: Duration = Duration::from_secs(300);

/// The deadline of an append whose encoded request is `bytes` long.
pub(super) fn append_timeout(base: Duration, bytes: usize) -> Duration {
    const MIB: u128 = 1024 * 1024;
    let extra_ms = (bytes as u128) * PER_MIB.as_millis() / MIB;
    let extra = Duration::from_millis(u64::try_from(extra_ms).unwrap_or(u64::MAX));
    base.saturating_add(extra).min(MAX_APPEND_TIMEOUT)
}

/// Most bytes of encoded entries one append carries when it has more than one entry: a
/// follower decodes, re-encodes and fsyncs the whole request before it answers, so a catch-up
/// of 64 import parts (128 MiB) in one request held it, and the leader's wait for it, for
/// seconds.
pub(super) const MAX_APPEND_BYTES: usize = 8 * 1024 * 1024;

/// For an append of `entries` entries encoded in `bytes`: `None` to send it, or how many
/// entries to send instead (openraft's `PayloadTooLarge` hint, at least 1).
pub(super) fn entries_hint(bytes: usize, entries: usize) -> Option<u64> {
    if bytes <= MAX_APPEND_BYTES || entries <= 1 {
        return None;
    }
    let fit = (entries as u128) * (MAX_APPEND_BYTES as u128) / (bytes as u128);
    Some(u64::try_from(fit).unwrap_or(u64::MAX).max(1))
}

/// Which entries an append carries: those after `prev` up to `last`, as leader `vote` has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct AppendKey {
    vote: Vote,
    prev: Option<LogId>,
    last: Option<LogId>,
}

impl AppendKey {
    pub(super) fn of(rpc: &AppendEntriesRequest<TypeConfig>) -> Self {
        Self {
            vote: rpc.vote,
            prev: rpc.prev_log_id,
            last: rpc.entries.last().map(|e| e.log_id).or(rpc.prev_log_id),
        }
    }

    /// Whether an answer to this append also answers `later`: the same leader (which never
    /// changes its own entries), the same starting point, and no more entries than `later`.
    pub(super) fn covered_by(&self, later: &AppendKey) -> bool {
        self.vote == later.vote && self.prev == later.prev && self.last <= later.last
    }

    /// `resp` (the answer to this append) as the answer to `later`, which may ask about more
    /// entries: a success then covers only those this append carried.
    pub(super) fn answer_for(
        &self,
        later: &AppendKey,
        resp: AppendEntriesResponse<NodeId>,
    ) -> AppendEntriesResponse<NodeId> {
        match resp {
            AppendEntriesResponse::Success if self.last < later.last => {
                AppendEntriesResponse::PartialSuccess(self.last)
            }
            other => other,
        }
    }
}

/// An append running on its own task.
pub(super) struct PendingAppend {
    pub(super) key: AppendKey,
    pub(super) task:
        JoinHandle<RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible>>,
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, Entry, EntryPayload};

    use super::*;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn append(term: u64, prev: Option<u64>, entries: std::ops::Range<u64>) -> AppendKey {
        let rpc = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(term, 1),
            prev_log_id: prev.map(|i| log_id(term, i)),
            leader_commit: None,
            entries: entries
                .map(|i| Entry {
                    log_id: log_id(term, i),
                    payload: EntryPayload::Blank,
                })
                .collect(),
        };
        AppendKey::of(&rpc)
    }

    #[test]
    fn a_large_append_of_several_entries_is_cut_to_what_fits() {
        const MIB: usize = 1024 * 1024;
        assert_eq!(entries_hint(MAX_APPEND_BYTES, 64), None);
        assert_eq!(
            entries_hint(100 * MIB, 1),
            None,
            "one entry goes whatever its size"
        );
        // 64 import parts of 2 MiB: 4 fit.
        assert_eq!(entries_hint(128 * MIB, 64), Some(4));
        // Two entries of 20 MiB: one at a time.
        assert_eq!(entries_hint(40 * MIB, 2), Some(1));
    }

    #[test]
    fn the_timeout_grows_with_the_size_and_is_capped() {
        let base = Duration::from_secs(2);
        assert_eq!(append_timeout(base, 0), base);
        assert_eq!(append_timeout(base, 512), base);
        assert_eq!(
            append_timeout(base, 18 * 1024 * 1024),
            Duration::from_secs(20)
        );
        assert_eq!(append_timeout(base, usize::MAX), MAX_APPEND_TIMEOUT);
    }

    #[test]
    fn an_answer_covers_the_same_or_a_longer_append_of_the_same_leader() {
        let sent = append(3, Some(9), 10..11);
        assert!(sent.covered_by(&append(3, Some(9), 10..11)));
        assert!(sent.covered_by(&append(3, Some(9), 10..15)));
        // Fewer entries, another starting point, another leader: not answered by it.
        assert!(!sent.covered_by(&append(3, Some(9), 10..10)));
        assert!(!sent.covered_by(&append(3, Some(10), 11..12)));
        assert!(!sent.covered_by(&append(4, Some(9), 10..11)));
    }

    #[test]
    fn a_success_answers_only_the_entries_that_were_sent() {
        let sent = append(3, Some(9), 10..11);
        let same = append(3, Some(9), 10..11);
        let longer = append(3, Some(9), 10..15);
        assert_eq!(
            sent.answer_for(&same, AppendEntriesResponse::Success),
            AppendEntriesResponse::Success
        );
        assert_eq!(
            sent.answer_for(&longer, AppendEntriesResponse::Success),
            AppendEntriesResponse::PartialSuccess(Some(log_id(3, 10)))
        );
        assert_eq!(
            sent.answer_for(&longer, AppendEntriesResponse::Conflict),
            AppendEntriesResponse::Conflict
        );
    }
}
