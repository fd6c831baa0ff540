//! Client histories recorded during fault tests, and their checks afterwards.
//!
//! - **Single-key linearizability.** Each key is a register (a tenant's named list holding one
//!   entry `v<N>.example`; absent is 0). Writes and reads with their invocation and completion
//!   times go to stateright's `LinearizabilityTester` (Wing & Gong search) per key. A write whose
//!   outcome is unknown (a timeout, a 503 after forwarding: it may have been applied) stays in
//!   flight forever, so the checker may order it anywhere after its start, or leave it out; a
//!   write refused for certain (400/404/409) and a failed read have no effect and are left out.
//! - **Durability and one history.** Every acknowledged write answered a store version; after
//!   the faults every node's audit log holds, at that version, that write (so nothing
//!   acknowledged was lost and no other write took its index), and any two nodes' audit logs
//!   agree at every version both still keep (so no two leaders ever committed different entries
//!   at one index).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use stateright::semantics::register::{Register, RegisterOp, RegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

/// What an operation was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Write(u64),
    Read,
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A write acknowledged at this store version.
    Written { version: u64 },
    /// A read that saw this value.
    Read(u64),
    /// Certainly not applied (a refusal, or a read that failed).
    Failed,
    /// Maybe applied (a write that timed out or was answered 5xx).
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Op {
    pub client: u64,
    pub key: String,
    pub kind: Kind,
    pub invoked: Duration,
    pub completed: Duration,
    pub outcome: Outcome,
}

/// A shared, append-only record of operations.
pub struct History {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

/// An operation under way.
pub struct Pending {
    client: u64,
    key: String,
    kind: Kind,
    invoked: Duration,
}

impl Default for History {
    fn default() -> Self {
        History {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }
}

impl History {
    pub fn invoke(&self, client: u64, key: &str, kind: Kind) -> Pending {
        Pending {
            client,
            key: key.to_string(),
            kind,
            invoked: self.start.elapsed(),
        }
    }

    pub fn complete(&self, p: Pending, outcome: Outcome) {
        let op = Op {
            client: p.client,
            key: p.key,
            kind: p.kind,
            invoked: p.invoked,
            completed: self.start.elapsed(),
            outcome,
        };
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }

    /// The history's clock: operations are stamped against it.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What a history check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub keys: usize,
    pub ops: usize,
    pub acknowledged_writes: usize,
    pub unknown_writes: usize,
    pub reads: usize,
}

/// One step fed to the tester, in real-time order.
#[derive(Debug)]
enum Event {
    Invoke((u64, u64), RegisterOp<u64>),
    Return((u64, u64), RegisterRet<u64>),
}

/// Checks every key's history for linearizability (initial value 0).
pub fn check_linearizable(ops: &[Op]) -> Result<Summary, String> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let mut summary = Summary {
        keys: by_key.len(),
        ..Summary::default()
    };
    for (key, mut ops) in by_key {
        ops.sort_by_key(|o| (o.client, o.invoked));
        // A client whose write's outcome is unknown goes on as a new "thread": its old one
        // stays in flight forever.
        let mut epochs: BTreeMap<u64, u64> = BTreeMap::new();
        let mut events: Vec<(Duration, u8, Event)> = Vec::new();
        // A write whose outcome is unknown never returns, so it may take effect at any point
        // after its invocation, the end included. If no read ever returned its value, putting
        // it at the end is always a valid choice: dropping it does not change the verdict, and
        // keeps the search from growing exponentially with the unknown writes a fault leaves.
        let read: std::collections::BTreeSet<u64> = ops
            .iter()
            .filter_map(|o| match o.outcome {
                Outcome::Read(v) => Some(v),
                _ => None,
            })
            .collect();
        for op in &ops {
            let epoch = *epochs.get(&op.client).unwrap_or(&0);
            let thread = (op.client, epoch);
            summary.ops += 1;
            match (op.kind, op.outcome) {
                (Kind::Write(v), Outcome::Written { .. }) => {
                    summary.acknowledged_writes += 1;
                    events.push((op.invoked, 0, Event::Invoke(thread, RegisterOp::Write(v))));
                    events.push((op.completed, 1, Event::Return(thread, RegisterRet::WriteOk)));
                }
                (Kind::Write(v), Outcome::Unknown) => {
                    summary.unknown_writes += 1;
                    if !read.contains(&v) {
                        continue;
                    }
                    events.push((op.invoked, 0, Event::Invoke(thread, RegisterOp::Write(v))));
                    epochs.insert(op.client, epoch + 1);
                }
                (Kind::Read, Outcome::Read(v)) => {
                    summary.reads += 1;
                    events.push((op.invoked, 0, Event::Invoke(thread, RegisterOp::Read)));
                    events.push((
                        op.completed,
                        1,
                        Event::Return(thread, RegisterRet::ReadOk(v)),
                    ));
                }
                (_, Outcome::Failed) => {}
                (kind, outcome) => return Err(format!("{key}: {kind:?} ended as {outcome:?}")),
            }
        }
        // At equal times invocations come first: such operations count as concurrent, which
        // can only allow more orders, never report a false violation.
        events.sort_by_key(|(t, order, _)| (*t, *order));
        let mut tester = LinearizabilityTester::new(Register(0u64));
        for (_, _, e) in events {
            let r = match e {
                Event::Invoke(t, op) => tester.on_invoke(t, op).map(|_| ()),
                Event::Return(t, ret) => tester.on_return(t, ret).map(|_| ()),
            };
            r.map_err(|e| format!("{key}: malformed history: {e}"))?;
        }
        let search = move || tester.serialized_history().is_some();
        let linearizable = search_within(search, search_deadline()).map_err(|limit| {
            format!(
                "key {key}: the linearizability search over {} operations did not finish \
                 within {limit:?} (HISTORY_SEARCH_SECONDS): undecided, which is not a pass",
                ops.len()
            )
        })?;
        if !linearizable {
            let mut lines: Vec<String> = ops
                .iter()
                .map(|o| {
                    format!(
                        "  client {} {:?} {:?} [{:.3}s, {:.3}s]",
                        o.client,
                        o.kind,
                        o.outcome,
                        o.invoked.as_secs_f64(),
                        o.completed.as_secs_f64()
                    )
                })
                .collect();
            lines.truncate(200);
            return Err(format!(
                "key {key}: the history is not linearizable:\n{}",
                lines.join("\n")
            ));
        }
    }
    Ok(summary)
}

/// How long one key's search may run (`HISTORY_SEARCH_SECONDS`, default 120 s). The search is
/// exponential in the worst case; a check that cannot decide in time fails rather than hangs.
fn search_deadline() -> Duration {
    let secs = std::env::var("HISTORY_SEARCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// Runs the tester's search on its own thread: `Ok(found)` when it finished within `limit`.
/// A search past its deadline is left to run out on its thread (stateright's search cannot be
/// cancelled); the test fails at once and its process ends it.
fn search_within(
    search: impl FnOnce() -> bool + Send + 'static,
    limit: Duration,
) -> Result<bool, Duration> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(search());
    });
    rx.recv_timeout(limit).map_err(|_| limit)
}

/// One node's audit log: version → `(action, target, result, at_ms, actor)`.
pub type Audit = BTreeMap<u64, (String, String, String, u64, String)>;

/// Parses `GET /v1/audit` items.
pub fn audit_of(items: &[Value]) -> Audit {
    items
        .iter()
        .filter_map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            Some((
                e["version"].as_u64()?,
                (
                    s("action"),
                    s("target"),
                    s("result"),
                    e["at_ms"].as_u64()?,
                    s("actor"),
                ),
            ))
        })
        .collect()
}

/// Every acknowledged write `(version, target)` is in every node's audit at its version (unless
/// that node's bounded audit no longer reaches back that far), and all nodes agree at every
/// version they share. The number of (write, node) pairs checked.
pub fn check_audits(acked: &[(u64, String)], audits: &[(u64, Audit)]) -> Result<usize, String> {
    let mut checked = 0;
    for (node, audit) in audits {
        let oldest = audit.keys().next().copied().unwrap_or(u64::MAX);
        for (version, target) in acked {
            if *version < oldest {
                continue;
            }
            match audit.get(version) {
                Some((_, t, result, _, _)) if t == target && result == "ok" => checked += 1,
                Some(other) => {
                    return Err(format!(
                        "node {node}: version {version} acknowledged a write to {target}, \
                         but its audit has {other:?} there"
                    ))
                }
                None => {
                    return Err(format!(
                        "node {node}: the write to {target} acknowledged at version {version} \
                         is missing"
                    ))
                }
            }
        }
    }
    for (i, (a, audit_a)) in audits.iter().enumerate() {
        for (b, audit_b) in &audits[i + 1..] {
            let shared: BTreeSet<&u64> =
                audit_a.keys().filter(|v| audit_b.contains_key(v)).collect();
            for v in shared {
                if audit_a[v] != audit_b[v] {
                    return Err(format!(
                        "nodes {a} and {b} disagree at version {v}: {:?} vs {:?}",
                        audit_a[v], audit_b[v]
                    ));
                }
            }
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: u64, kind: Kind, at: (u64, u64), outcome: Outcome) -> Op {
        Op {
            client,
            key: "k".into(),
            kind,
            invoked: Duration::from_millis(at.0),
            completed: Duration::from_millis(at.1),
            outcome,
        }
    }

    fn w(v: u64) -> Outcome {
        Outcome::Written { version: v }
    }

    #[test]
    fn sequential_reads_of_the_last_write_pass() {
        let h = [
            op(1, Kind::Read, (0, 1), Outcome::Read(0)),
            op(1, Kind::Write(5), (2, 3), w(10)),
            op(2, Kind::Read, (4, 5), Outcome::Read(5)),
        ];
        let s = check_linearizable(&h).expect("linearizable");
        assert_eq!((s.ops, s.acknowledged_writes, s.reads), (3, 1, 2));
    }

    #[test]
    fn a_stale_read_after_an_acknowledged_write_fails() {
        let h = [
            op(1, Kind::Write(5), (0, 10), w(10)),
            op(2, Kind::Read, (20, 30), Outcome::Read(0)),
        ];
        let e = check_linearizable(&h).expect_err("stale read");
        assert!(e.contains("not linearizable"), "{e}");
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        for seen in [0, 5] {
            let h = [
                op(1, Kind::Write(5), (0, 10), w(10)),
                op(2, Kind::Read, (5, 8), Outcome::Read(seen)),
            ];
            assert!(check_linearizable(&h).is_ok(), "read {seen}");
        }
    }

    #[test]
    fn a_value_never_written_fails() {
        let h = [op(1, Kind::Read, (0, 1), Outcome::Read(7))];
        assert!(check_linearizable(&h).is_err());
    }

    #[test]
    fn an_unknown_write_may_appear_later_or_never() {
        let later = [
            op(1, Kind::Write(5), (0, 5000), Outcome::Unknown),
            op(1, Kind::Read, (6000, 6001), Outcome::Read(0)),
            op(2, Kind::Read, (7000, 7001), Outcome::Read(5)),
        ];
        assert!(check_linearizable(&later).is_ok());
        let never = [
            op(1, Kind::Write(5), (0, 5000), Outcome::Unknown),
            op(2, Kind::Read, (7000, 7001), Outcome::Read(0)),
        ];
        assert!(check_linearizable(&never).is_ok());
        // But once seen, a value cannot go back to the older one.
        let flip = [
            op(1, Kind::Write(5), (0, 5000), Outcome::Unknown),
            op(2, Kind::Read, (7000, 7001), Outcome::Read(5)),
            op(2, Kind::Read, (8000, 8001), Outcome::Read(0)),
        ];
        assert!(check_linearizable(&flip).is_err());
    }

    #[test]
    fn many_unknown_writes_nobody_read_are_checked_at_once() {
        // A fault leaves every client with writes of unknown outcome; before unread ones were
        // dropped, the search over their orders ran for tens of minutes.
        let mut h: Vec<Op> = (0..200)
            .map(|i| {
                op(
                    i % 8,
                    Kind::Write(100 + i),
                    (i * 10, 100_000),
                    Outcome::Unknown,
                )
            })
            .collect();
        h.push(op(9, Kind::Write(7), (0, 1), w(1)));
        h.push(op(9, Kind::Read, (5000, 5001), Outcome::Read(7)));
        let summary = check_linearizable(&h).expect("linearizable");
        assert_eq!(summary.unknown_writes, 200);
        h.push(op(10, Kind::Read, (200_000, 200_001), Outcome::Read(0)));
        assert!(
            check_linearizable(&h).is_err(),
            "still a violation: 0 after 7"
        );
    }

    #[test]
    fn a_search_past_its_deadline_is_undecided_not_passed() {
        // A search that cannot finish (it waits on a channel nobody sends on) is reported
        // undecided at the deadline; one that finishes gives its verdict.
        let (_keep, never) = std::sync::mpsc::channel::<()>();
        let stuck = move || never.recv().is_ok();
        let limit = Duration::from_millis(50);
        assert_eq!(search_within(stuck, limit), Err(limit));
        let mut quick = LinearizabilityTester::new(Register(0u64));
        quick.on_invoke((0, 0), RegisterOp::Read).expect("invoke");
        quick
            .on_return((0, 0), RegisterRet::ReadOk(0))
            .expect("return");
        let search = move || quick.serialized_history().is_some();
        assert_eq!(search_within(search, Duration::from_secs(30)), Ok(true));
    }

    #[test]
    fn failed_operations_have_no_effect() {
        let h = [
            op(1, Kind::Write(5), (0, 1), Outcome::Failed),
            op(1, Kind::Read, (2, 3), Outcome::Failed),
            op(2, Kind::Read, (4, 5), Outcome::Read(0)),
        ];
        assert_eq!(check_linearizable(&h).map(|s| s.reads), Ok(1));
        let seen = [
            op(1, Kind::Write(5), (0, 1), Outcome::Failed),
            op(2, Kind::Read, (4, 5), Outcome::Read(5)),
        ];
        assert!(
            check_linearizable(&seen).is_err(),
            "a refused write was seen"
        );
    }

    fn audit(entries: &[(u64, &str)]) -> Audit {
        entries
            .iter()
            .map(|(v, t)| {
                (
                    *v,
                    (
                        "list.put".into(),
                        t.to_string(),
                        "ok".into(),
                        1,
                        "operator".into(),
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn audits_hold_every_acknowledged_write_and_agree() {
        let acked = vec![(3, "tenant/h/list/k1".to_string())];
        let a = audit(&[(2, "x"), (3, "tenant/h/list/k1")]);
        let b = audit(&[(3, "tenant/h/list/k1"), (4, "y")]);
        assert_eq!(check_audits(&acked, &[(1, a.clone()), (2, b)]), Ok(2));
        let lost = audit(&[(2, "x"), (4, "y")]);
        let e = check_audits(&acked, &[(1, a.clone()), (2, lost)]).expect_err("lost");
        assert!(e.contains("missing"), "{e}");
        let other = audit(&[(3, "tenant/h/list/k2")]);
        assert!(
            check_audits(&acked, &[(1, other)]).is_err(),
            "another write at its index"
        );
        let diverged = audit(&[(2, "z"), (3, "tenant/h/list/k1")]);
        let e = check_audits(&[], &[(1, a), (2, diverged)]).expect_err("diverged");
        assert!(e.contains("disagree at version 2"), "{e}");
    }
}
