//! Writes: the pure state machine over the followed state, then an etcd transaction that puts
//! exactly the keys it changed if `meta` is still at the revision the state was read at. A lost
//! race retries on the newer state (bounded); the transaction is all or nothing.
//!
//! Group commit: one transaction at a time leaves an instance (two of its own would only
//! conflict on `meta`), and every write that arrived meanwhile goes in the next one, applied
//! in arrival order, each at a version of its own (as the Raft store's batches). So concurrent
//! clients share a transaction, its round trip, etcd's fsync and the wait to follow it, instead
//! of queueing behind each other one by one. A batch that etcd refuses as too large is written
//! again one request at a time, so one large request never fails the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use tokio::sync::{mpsc, oneshot};

use super::{endpoints, get_meta, layout, unavailable, Shared, NOT_SENT_RETRIES};
use crate::state::{self, Request, State};
use crate::store::{Applied, StoreError};

/// Attempts before a write that keeps losing to others gives up (cleanly: nothing written).
const ATTEMPTS: usize = 8;
/// How long a write waits for the follower to see a newer state, or its own.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(5);
/// Most requests in one transaction: with the key of the entry, its audit key and `meta`,
/// that stays under etcd's default `--max-txn-ops` (128) for ordinary writes.
pub(super) const MAX_BATCH: usize = 32;

/// The version a write based on `state` (followed at etcd `revision`) gets: above the state's
/// version and above the revision it was read at, so it follows etcd's order and only
/// increases (equal to etcd's revision while nothing else writes to this etcd). A batch's
/// requests take this version and the ones after it.
pub(super) fn next_version(state: &State, revision: i64) -> u64 {
    let revision = u64::try_from(revision).unwrap_or(0);
    state.version.max(revision) + 1
}

/// What the writing task needs of the store.
pub(super) struct Writer {
    pub client: Client,
    pub prefix: String,
    pub shared: Arc<Shared>,
}

/// A write waiting for its transaction.
pub(super) struct Waiting {
    req: Request,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// Starts the writing task; it ends when the returned sender is dropped.
pub(super) fn start(writer: Writer) -> mpsc::UnboundedSender<Waiting> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(writer, rx));
    tx
}

/// One write through the writing task.
pub(super) async fn write(
    writes: &mpsc::UnboundedSender<Waiting>,
    req: Request,
) -> Result<Applied, StoreError> {
    let (reply, answer) = oneshot::channel();
    writes
        .send(Waiting { req, reply })
        .map_err(|_| StoreError::Fatal("the etcd write path stopped".to_string()))?;
    answer.await.map_err(|_| {
        StoreError::Unavailable("the write was dropped (its outcome is unknown)".to_string())
    })?
}

async fn run(writer: Writer, mut rx: mpsc::UnboundedReceiver<Waiting>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => group.push(w),
                Err(_) => break,
            }
        }
        let reqs: Vec<&Request> = group.iter().map(|w| &w.req).collect();
        match writer.commit(&reqs).await {
            Ok(applied) => {
                for (w, a) in group.into_iter().zip(applied) {
                    let _ = w.reply.send(Ok(a));
                }
            }
            // Refused before anything was applied (too large): each on its own.
            Err(StoreError::Invalid(_)) if group.len() > 1 => {
                for w in group {
                    let one = writer.commit(&[&w.req]).await;
                    let one = one.and_then(|a| {
                        a.into_iter()
                            .next()
                            .ok_or_else(|| StoreError::Fatal("a write got no answer".to_string()))
                    });
                    let _ = w.reply.send(one);
                }
            }
            Err(e) => {
                for w in group {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

impl Writer {
    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// `reqs` in one transaction, applied in order: one [`Applied`] each, in the same order.
    async fn commit(&self, reqs: &[&Request]) -> Result<Vec<Applied>, StoreError> {
        let mut kv = self.client.kv_client();
        let meta_key = self.key(layout::META);
        let mut unreached = 0;
        let mut attempt = 0;
        while attempt < ATTEMPTS {
            let started = Instant::now();
            let base = self.shared.current();
            let mut next = (*base.state).clone();
            let first = next_version(&base.state, base.revision);
            let applied: Vec<Applied> = (first..)
                .zip(reqs)
                .map(|(version, req)| Applied {
                    version,
                    outcome: state::apply(&mut next, version, req),
                })
                .collect();
            let change = layout::diff(&base.state, &next)
                .map_err(|e| StoreError::Fatal(format!("encoding the state: {e}")))?;
            let keys = change.puts.len() + change.deletes.len();
            let computed = started.elapsed();
            let mut ops: Vec<TxnOp> = change
                .puts
                .into_iter()
                .map(|(k, v)| TxnOp::put(self.key(&k), v, None))
                .collect();
            ops.extend(
                change
                    .deletes
                    .into_iter()
                    .map(|k| TxnOp::delete(self.key(&k), None)),
            );
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    meta_key.clone(),
                    CompareOp::Equal,
                    base.meta_rev,
                )])
                .and_then(ops);
            // An error here leaves the outcome unknown (etcd may have committed it), unless the
            // member picked could not be reached at all: then nothing was sent; try another.
            let resp = match kv.txn(txn).await {
                Ok(resp) => resp,
                Err(e) if endpoints::not_sent(&e) && unreached < NOT_SENT_RETRIES => {
                    unreached += 1;
                    tokio::time::sleep(endpoints::PROBE / 4).await;
                    continue;
                }
                Err(e) => return Err(refused_or_unknown(e)),
            };
            if resp.succeeded() {
                let revision = resp.header().map_or(0, |h| h.revision());
                let sent = started.elapsed();
                // Serve what etcd holds, not what was computed here: wait for the follower.
                self.shared.caught_up(revision, FOLLOW_TIMEOUT).await?;
                tracing::debug!(
                    requests = reqs.len(),
                    keys,
                    compute_us = computed.as_micros(),
                    txn_us = (sent - computed).as_micros(),
                    follow_us = (started.elapsed() - sent).as_micros(),
                    "etcd write committed"
                );
                return Ok(applied);
            }
            attempt += 1;
            self.shared.metrics.conflicts.inc();
            tracing::debug!(
                attempt,
                "etcd write lost a race; retrying on the newer state"
            );
            // Another instance wrote first: retry once this one has followed something newer.
            let newest = get_meta(&self.client, &self.prefix).await?;
            let meta_rev = newest.kvs().first().map_or(0, |kv| kv.mod_revision());
            self.shared.caught_up(meta_rev, FOLLOW_TIMEOUT).await?;
        }
        Err(StoreError::Unavailable(format!(
            "the write lost {ATTEMPTS} races with other instances; nothing was written, retry"
        )))
    }
}

/// etcd's size limits refuse a write before it is applied: say so, and which knob raises
/// them; any other error leaves the outcome unknown.
fn refused_or_unknown(e: etcd_client::Error) -> StoreError {
    let message = e.to_string();
    if message.contains("too many operations") || message.contains("request is too large") {
        return StoreError::Invalid(format!(
            "etcd refused the write as too large ({message}); nothing was written: raise \
             etcd's --max-txn-ops or --max-request-bytes"
        ));
    }
    unavailable("writing (its outcome is unknown)", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_etcd_and_only_increase() {
        let mut state = State::default();
        assert_eq!(next_version(&state, 0), 1);
        assert_eq!(next_version(&state, 41), 42);
        state.version = 50;
        // A revision behind the state (etcd restored from a backup) never lowers it.
        assert_eq!(next_version(&state, 10), 51);
    }
}
