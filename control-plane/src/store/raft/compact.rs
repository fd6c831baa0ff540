//! Keeps `raft.redb` near the size of the state (issue 13, item 6). openraft snapshots every
//! `snapshot_every` entries and keeps `keep_in_snapshot` of them; counted in entries, a few
//! hundred large writes (100,000-entry lists) leave hundreds of megabytes in the log long after
//! the lists are gone. So each node also watches bytes, every [`EVERY`]:
//! - the log holds more than [`LOG_BUDGET`] bytes, and more than the last snapshot: replaying
//!   it costs more than loading a snapshot;
//! - or the log holds more than [`LOG_BUDGET`] bytes and has stopped growing (less than
//!   [`QUIET_GROWTH`] in [`QUIET`]): a burst of large writes (an import, 100,000-entry lists)
//!   is over. A new leader does not know how much of its log each follower holds and probes
//!   from the middle of it, re-reading and re-sending everything after (openraft's
//!   `ProgressEntry::next_send`): with an import's multi-MiB entries left in the log, a leader
//!   change replayed them to every follower while 500 edges reconnected (BENCHMARKS.md);
//! - or the last snapshot is over [`LOG_BUDGET`] and the state has shrunk below half of it
//!   (lists deleted): the snapshot itself is the waste.
//!
//! Either way it takes a snapshot now and then purges every entry the snapshot covers; redb
//! reuses the freed pages (the file keeps its largest size: BENCHMARKS.md), and the
//! allocator's freed memory is returned to the kernel. A follower
//! that falls behind the purge gets the snapshot instead of entries, which is what openraft
//! does anyway past `keep_in_snapshot`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use redb::ReadableTableMetadata;
use tokio::sync::watch;

use super::db::{Db, LOGS, SNAPSHOT};
use super::types::Raft;
use crate::state::{json_size, State};

/// How often the sizes are looked at.
pub(super) const EVERY: Duration = Duration::from_secs(2);

/// Log bytes always allowed, whatever the snapshot's size.
pub(super) const LOG_BUDGET: u64 = 16 * 1024 * 1024;

/// How long the log must have grown by less than [`QUIET_GROWTH`] to count as quiet.
pub(super) const QUIET: Duration = Duration::from_secs(10);

/// Log growth that still counts as quiet: small writes (a rule, a lease) go on in every
/// fleet; it is the megabytes of a large write that must not linger.
pub(super) const QUIET_GROWTH: u64 = 1024 * 1024;

/// What the task saw last: the stored bytes of the log and of the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sizes {
    pub log: u64,
    pub snapshot: u64,
}

/// How often at most the state's weight is looked at (and its size measured, when the weight
/// calls for it: [`SizeWatch`]).
const MEASURE_EVERY: Duration = Duration::from_secs(30);

/// How often the state's size is measured even though its weight did not fall: a shrink the
/// weight does not count (template versions, contracts, the audit log) is seen within this.
const REMEASURE_EVERY: Duration = Duration::from_secs(600);

/// A stand-in for the state's size that costs a walk, not an encoding: its tenants and their
/// list entries, where a state's bytes are.
pub(super) fn weight(state: &State) -> u64 {
    state
        .tenants
        .values()
        .map(|r| {
            let entries: usize = r.tenant.lists.values().map(|l| l.entries.len()).sum();
            1 + entries as u64
        })
        .sum()
}

/// Decides when the state's size is worth measuring. Measuring it serializes the whole state:
/// at 100,000 tenants a third of a second and more of a core, which every node spent every
/// [`MEASURE_EVERY`] for as long as its snapshot was large, in the middle of whatever else it
/// was doing (edges' rule changes waited behind it, BENCHMARKS.md). The measure only matters
/// once the state shrank, so it is taken when the weight fell by a quarter from its highest
/// since the last measure (or the first look), and every [`REMEASURE_EVERY`]. The first look
/// only notes the weight: the first write after a purge is often the first of a burst, and a
/// node that starts with a snapshot much larger than its state compacts within
/// [`REMEASURE_EVERY`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SizeWatch {
    /// When the last measure (or the first look) was, and the highest weight seen since.
    last: Option<(Instant, u64)>,
}

impl SizeWatch {
    /// Notes the state's `weight` at `now`: whether to measure its size now.
    pub(super) fn measure_now(&mut self, weight: u64, now: Instant) -> bool {
        let due = match &mut self.last {
            None => {
                self.last = Some((now, weight));
                return false;
            }
            Some((at, peak)) => {
                *peak = (*peak).max(weight);
                weight <= *peak - *peak / 4 || now.duration_since(*at) >= REMEASURE_EVERY
            }
        };
        if due {
            self.last = Some((now, weight));
        }
        due
    }
}

/// Whether the log has been quiet: when it last grew by [`QUIET_GROWTH`] or shrank.
#[derive(Clone, Copy, Debug)]
pub(super) struct Growth {
    base: u64,
    since: Instant,
}

impl Growth {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            base: 0,
            since: now,
        }
    }

    /// Notes the log's size `log` seen at `now`: whether it has been quiet for [`QUIET`].
    pub(super) fn quiet(&mut self, log: u64, now: Instant) -> bool {
        if log < self.base || log - self.base > QUIET_GROWTH {
            *self = Self {
                base: log,
                since: now,
            };
        }
        now.duration_since(self.since) >= QUIET
    }
}

/// Whether the sizes seen call for a snapshot now. `quiet`: the log has stopped growing
/// ([`Growth`]). `state` is the state's size as a snapshot, asked for only when it can matter
/// (a large snapshot); `None` if it was not measured.
pub(super) fn should_snapshot(
    sizes: Sizes,
    quiet: bool,
    state: impl FnOnce() -> Option<u64>,
) -> bool {
    if log_calls(sizes, quiet) {
        return true;
    }
    may_measure(sizes, quiet) && state().is_some_and(|s| s < sizes.snapshot / 2)
}

/// The log alone calls for a snapshot: past its budget, and larger than the last snapshot or
/// quiet.
fn log_calls(sizes: Sizes, quiet: bool) -> bool {
    sizes.log > LOG_BUDGET && (quiet || sizes.log > sizes.snapshot)
}

/// Whether [`should_snapshot`] would ask for the state's size with these sizes.
fn may_measure(sizes: Sizes, quiet: bool) -> bool {
    !log_calls(sizes, quiet) && sizes.snapshot > LOG_BUDGET && sizes.log > 0
}

/// Runs until the database is closed (the node shut down).
pub(super) async fn run(raft: Raft, db: Weak<Db>, state: watch::Receiver<Arc<State>>) {
    // The index the last snapshot this task asked for must reach before purging.
    let mut purge_after: Option<u64> = None;
    let mut measured: Option<Instant> = None;
    let mut watch = SizeWatch::default();
    let mut growth = Growth::new(Instant::now());
    loop {
        tokio::time::sleep(EVERY).await;
        let Some(db) = db.upgrade() else { return };
        let sizes = match sizes(&db) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "raft compaction: reading sizes");
                continue;
            }
        };
        drop(db);
        let quiet = growth.quiet(sizes.log, Instant::now());
        let m = raft.metrics().borrow().clone();
        let snapshot = m.snapshot.map(|l| l.index);
        let purged = m.purged.map(|l| l.index);
        if let Some(wanted) = purge_after {
            if snapshot >= Some(wanted) {
                purge_after = None;
                if let Some(upto) = snapshot.filter(|s| Some(*s) > purged) {
                    tracing::info!(upto, "raft compaction: purging the log the snapshot covers");
                    if raft.trigger().purge_log(upto).await.is_err() {
                        return;
                    }
                    give_back_freed_memory();
                }
            }
            continue;
        }
        let applied = m.last_applied.map(|l| l.index);
        if applied <= snapshot {
            // All of it is in a snapshot already (openraft's own, which keeps
            // `keep_in_snapshot` entries): only the purge is left to do.
            if log_calls(sizes, quiet) {
                purge_after = snapshot;
            }
            continue;
        }
        let state_size = if may_measure(sizes, quiet)
            && measured.is_none_or(|at| at.elapsed() >= MEASURE_EVERY)
        {
            measured = Some(Instant::now());
            let now = Arc::clone(&state.borrow());
            let mut seen = watch;
            // Serialising a large state takes seconds: not on the async workers.
            let looked = tokio::task::spawn_blocking(move || {
                let due = seen.measure_now(weight(&now), Instant::now());
                (due.then(|| json_size(&*now)), seen)
            })
            .await
            .ok();
            looked.and_then(|(size, seen)| {
                watch = seen;
                size
            })
        } else {
            None
        };
        if should_snapshot(sizes, quiet, || state_size) {
            tracing::info!(
                log_bytes = sizes.log,
                snapshot_bytes = sizes.snapshot,
                "raft compaction: snapshot now"
            );
            if raft.trigger().snapshot().await.is_err() {
                return;
            }
            purge_after = applied;
        }
    }
}

/// Returns glibc's free pages to the kernel. glibc keeps freed heap memory for reuse: a state
/// that held hundreds of megabytes of lists and lost them kept its RSS otherwise (measured in
/// BENCHMARKS.md, "Tenant state and memory"). Called after a compaction, when a large state,
/// its snapshot and the purged log entries have just been freed. The `breakout-control` binary
/// allocates with jemalloc, whose background thread returns freed pages by itself; this covers
/// what is still allocated by glibc's malloc (and builds with the system allocator, as tests).
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointer.
        let released = unsafe { libc::malloc_trim(0) };
        tracing::debug!(released, "raft compaction: malloc_trim");
    }
}

/// Bytes stored in the log and snapshot tables.
fn sizes(db: &Db) -> Result<Sizes, Box<redb::Error>> {
    fn boxed(e: impl Into<redb::Error>) -> Box<redb::Error> {
        Box::new(e.into())
    }
    let txn = db.begin_read().map_err(boxed)?;
    let log = txn.open_table(LOGS).map_err(boxed)?;
    let log = log.stats().map_err(boxed)?.stored_bytes();
    let snapshot = txn.open_table(SNAPSHOT).map_err(boxed)?;
    let snapshot = snapshot.stats().map_err(boxed)?.stored_bytes();
    Ok(Sizes { log, snapshot })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TenantRecord;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn a_log_larger_than_the_budget_and_the_snapshot_is_compacted() {
        let big_log = Sizes {
            log: 40 * MB,
            snapshot: 2 * MB,
        };
        assert!(should_snapshot(big_log, false, || unreachable!(
            "not needed"
        )));
        let small_log = Sizes {
            log: 4 * MB,
            snapshot: 2 * MB,
        };
        assert!(!should_snapshot(small_log, false, || Some(2 * MB)));
        let log_under_a_big_snapshot = Sizes {
            log: 20 * MB,
            snapshot: 300 * MB,
        };
        assert!(!should_snapshot(log_under_a_big_snapshot, false, || Some(
            290 * MB
        )));
    }

    #[test]
    fn a_big_snapshot_of_a_state_that_shrank_is_replaced() {
        let after_deletes = Sizes {
            log: 1000,
            snapshot: 200 * MB,
        };
        assert!(should_snapshot(after_deletes, false, || Some(MB)));
        assert!(
            !should_snapshot(after_deletes, false, || None),
            "not measured yet"
        );
        assert!(!should_snapshot(after_deletes, false, || Some(150 * MB)));
        let nothing_new = Sizes {
            log: 0,
            snapshot: 200 * MB,
        };
        assert!(!should_snapshot(nothing_new, false, || Some(MB)));
    }

    #[test]
    fn the_state_is_measured_exactly_when_the_decision_needs_it() {
        for log in [0, 1000, 4 * MB, 20 * MB, 40 * MB, 400 * MB] {
            for snapshot in [0, 2 * MB, 20 * MB, 200 * MB] {
                for quiet in [false, true] {
                    let sizes = Sizes { log, snapshot };
                    let mut asked = false;
                    should_snapshot(sizes, quiet, || {
                        asked = true;
                        None
                    });
                    assert_eq!(may_measure(sizes, quiet), asked, "{sizes:?} {quiet}");
                }
            }
        }
    }

    #[test]
    fn the_size_is_measured_once_the_weight_falls_or_a_while_passed() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = SizeWatch::default();
        assert!(
            !w.measure_now(1000, at(0)),
            "the first look notes the weight"
        );
        assert!(!w.measure_now(1000, at(30)), "nothing fell");
        assert!(!w.measure_now(800, at(60)), "a fifth is not enough");
        assert!(
            w.measure_now(750, at(90)),
            "a quarter below the highest since"
        );
        // Grew (an import), then lost it again: the fall is from the highest.
        assert!(!w.measure_now(10_000, at(120)));
        assert!(w.measure_now(2_000, at(150)));
        // Steady: measured again after REMEASURE_EVERY only.
        let later = 150 + REMEASURE_EVERY.as_secs();
        assert!(!w.measure_now(2_000, at(later - 1)));
        assert!(w.measure_now(2_000, at(later)));
    }

    fn record(id: &str, lists: &[usize]) -> Arc<TenantRecord> {
        use breakout_policy::{Action, NamedList, Tenant};
        let entry = |k: usize| format!("h{k}.example").parse().expect("entry");
        let tenant = Tenant {
            id: id.into(),
            region: Some("tokyo".into()),
            source_cidrs: Vec::new(),
            session_limit: 1,
            upstreams: Default::default(),
            rules: Vec::new(),
            default_action: Action::Block,
            lists: lists
                .iter()
                .enumerate()
                .map(|(i, &n)| (format!("l{i}"), NamedList::new((0..n).map(entry).collect())))
                .collect(),
            egress_address: None,
            pac: None,
        };
        Arc::new(TenantRecord {
            tenant,
            created_version: 1,
            changed_version: 1,
            session_cap: None,
            ops_contact: None,
            notify_business_days: false,
            quotas: Default::default(),
        })
    }

    #[test]
    fn the_weight_counts_tenants_and_their_list_entries() {
        let mut state = State::default();
        assert_eq!(weight(&state), 0);
        state.tenants.insert("a".into(), record("a", &[]));
        state.tenants.insert("b".into(), record("b", &[3, 40]));
        assert_eq!(weight(&state), 2 + 43);
        // Deleting a large list is a fall the watch sees.
        let mut w = SizeWatch::default();
        assert!(!w.measure_now(weight(&state), Instant::now()));
        state.tenants.insert("b".into(), record("b", &[3]));
        assert!(w.measure_now(weight(&state), Instant::now()));
    }

    #[test]
    fn a_large_log_under_a_larger_snapshot_goes_once_its_writes_stop() {
        // An import's last parts: the log is past the budget but smaller than the state.
        let after_import = Sizes {
            log: 60 * MB,
            snapshot: 160 * MB,
        };
        assert!(!should_snapshot(after_import, false, || Some(220 * MB)));
        assert!(should_snapshot(after_import, true, || unreachable!()));
        let small = Sizes {
            log: 4 * MB,
            snapshot: 160 * MB,
        };
        assert!(!should_snapshot(small, true, || Some(160 * MB)));
    }

    #[test]
    fn the_log_is_quiet_once_it_grew_by_less_than_a_megabyte_for_a_while() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut g = Growth::new(t0);
        assert!(!g.quiet(40 * MB, at(2)), "grew just now");
        assert!(!g.quiet(42 * MB, at(4)), "grew by 2 MB");
        // Small writes go on: under a megabyte since the last growth.
        assert!(!g.quiet(42 * MB + 1000, at(8)));
        assert!(g.quiet(42 * MB + 2000, at(4 + QUIET.as_secs())));
        assert!(g.quiet(42 * MB + 3000, at(30)));
        // Purged: it shrank, and starts over.
        assert!(!g.quiet(MB, at(32)));
        assert!(g.quiet(MB, at(32 + QUIET.as_secs())));
    }
}
