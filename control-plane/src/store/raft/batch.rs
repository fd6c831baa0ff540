//! Group commit: writes that arrive while earlier ones are being committed wait together and
//! go to Raft as one log entry.
//!
//! openraft 0.9 appends every `client_write` as its own entry and awaits each append (our
//! fsync) before the next, so without this every write costs a redb commit with its fsync on
//! the leader and on each follower, one after the other. Here a write goes to Raft at once
//! when fewer than `in_flight` ([`IN_FLIGHT`] by default) entries are being committed;
//! otherwise it waits, and when an entry finishes everything that waited (up to
//! [`MAX_BATCH`]) becomes the next entry: one
//! append, one fsync, one replication round for all of them. A lone client is never delayed;
//! sixteen share their fsyncs. Durability is unchanged: each write is answered only once the
//! entry carrying it is committed (durable on a majority) and applied.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::types::{Batch, NodeId, Payload, Raft};
use crate::state::{Outcome, Request};
use crate::store::NodeAddr;

/// Most requests one entry carries (a follower receives up to `max_payload_entries` entries
/// per append RPC, so this bounds an RPC's requests to 64 × 64).
pub(super) const MAX_BATCH: usize = 64;
/// Entries submitted to Raft and not yet answered, by default (`RaftTuning::in_flight`). One:
/// everything that arrives while an entry is committed becomes the next entry. With two, the
/// second entry left with the few writes that came during the first one's fsync, so entries
/// carried half as many writes for about the same cost each. On a quiet 2-core machine, three
/// alternating runs each: one in flight did 1.27-1.50x raw etcd's writes/s at 16 clients on
/// one node against 0.96-1.13x with two; on three nodes 1.02-1.16x against 1.05-1.31x, the
/// same within the noise (BENCHMARKS.md, issue 15, 2026-12-04).
pub(super) const IN_FLIGHT: usize = 1;

/// What a write is answered with: its version and outcome, or Raft's error.
pub(super) type Answer =
    Result<(u64, Outcome), RaftError<NodeId, ClientWriteError<NodeId, NodeAddr>>>;

/// A write waiting to be submitted.
pub(super) struct Waiting {
    pub req: Request,
    pub reply: oneshot::Sender<Answer>,
}

/// Starts the batching task with `in_flight` entries at most; it ends when the returned sender
/// is dropped.
pub(super) fn start(raft: Raft, in_flight: usize) -> mpsc::UnboundedSender<Waiting> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(raft, rx, in_flight));
    tx
}

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<Waiting>, in_flight: usize) {
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        // While every slot is taken, more writes queue up behind `first`.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => group.push(w),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            submit(&raft, group).await;
            drop(slot);
        });
    }
}

/// One entry for `group`; each waiter gets its own answer.
async fn submit(raft: &Raft, group: Vec<Waiting>) {
    let (mut reqs, replies): (Vec<Request>, Vec<oneshot::Sender<Answer>>) =
        group.into_iter().map(|w| (w.req, w.reply)).unzip();
    let payload = match (reqs.pop(), reqs.is_empty()) {
        (Some(only), true) => Payload::One(only),
        (Some(last), false) => {
            reqs.push(last);
            Payload::Batch(Batch { batch: reqs })
        }
        (None, _) => return,
    };
    match raft.client_write(payload).await {
        // A reply whose answer is missing is dropped: its waiter reports the outcome unknown.
        Ok(resp) => {
            for (reply, answer) in replies.into_iter().zip(resp.data.0) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
