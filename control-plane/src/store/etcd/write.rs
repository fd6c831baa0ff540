//! One write: the pure state machine over the followed state, then an etcd transaction that
//! puts exactly the keys it changed if `meta` is still at the revision the state was read at.
//! A lost race retries on the newer state (bounded); the transaction is all or nothing.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::{endpoints, layout, unavailable, EtcdStore, NOT_SENT_RETRIES};
use crate::state::{self, Request, State};
use crate::store::{Applied, StoreError};

/// Attempts before a write that keeps losing to others gives up (cleanly: nothing written).
const ATTEMPTS: usize = 8;
/// How long a write waits for the follower to see a newer state, or its own.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(5);

/// The version a write based on `state` (followed at etcd `revision`) gets: above the state's
/// version and above the revision it was read at, so it follows etcd's order and only
/// increases (equal to etcd's revision while nothing else writes to this etcd).
pub(super) fn next_version(state: &State, revision: i64) -> u64 {
    let revision = u64::try_from(revision).unwrap_or(0);
    state.version.max(revision) + 1
}

pub(super) async fn write(store: &EtcdStore, req: Request) -> Result<Applied, StoreError> {
    let _one = store.write_lock.lock().await;
    let mut kv = store.client.kv_client();
    let meta_key = store.key(layout::META);
    let mut unreached = 0;
    let mut attempt = 0;
    while attempt < ATTEMPTS {
        let base = store.shared.current();
        let mut next = (*base.state).clone();
        let index = next_version(&base.state, base.revision);
        let outcome = state::apply(&mut next, index, &req);
        let change = layout::diff(&base.state, &next)
            .map_err(|e| StoreError::Fatal(format!("encoding the state: {e}")))?;
        let mut ops: Vec<TxnOp> = change
            .puts
            .into_iter()
            .map(|(k, v)| TxnOp::put(store.key(&k), v, None))
            .collect();
        ops.extend(
            change
                .deletes
                .into_iter()
                .map(|k| TxnOp::delete(store.key(&k), None)),
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
            // Serve what etcd holds, not what was computed here: wait for the follower.
            store.shared.caught_up(revision, FOLLOW_TIMEOUT).await?;
            return Ok(Applied {
                version: index,
                outcome,
            });
        }
        attempt += 1;
        store.shared.metrics.conflicts.inc();
        tracing::debug!(
            attempt,
            "etcd write lost a race; retrying on the newer state"
        );
        // Another instance wrote first: retry once this one has followed something newer.
        let newest = store.get_meta().await?;
        let meta_rev = newest.kvs().first().map_or(0, |kv| kv.mod_revision());
        store.shared.caught_up(meta_rev, FOLLOW_TIMEOUT).await?;
    }
    Err(StoreError::Unavailable(format!(
        "the write lost {ATTEMPTS} races with other instances; nothing was written, retry"
    )))
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
