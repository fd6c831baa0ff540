//! Following the store: list the prefix, then watch it from the listed revision. A broken watch
//! resumes from the last revision seen; a compacted revision, or etcd answering with a revision
//! older than one already seen (restored from a backup), means a full reload, logged and
//! counted (`breakout_control_etcd_reloads_total{reason}`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tokio::sync::watch;

use super::layout::{self, BadKey};
use super::Shared;

/// Pause before retrying after etcd could not be reached.
const RETRY: Duration = Duration::from_millis(500);

/// Where a followed watch stopped.
enum Stop {
    /// Watch again from the revision after this one.
    Resume(i64),
    /// List everything again; the reason names the metric label.
    Reload(&'static str),
    /// Asked to stop.
    Done,
}

/// Reads every key under `prefix` and publishes the state; returns the listed revision.
pub(super) async fn list(client: &Client, prefix: &str, shared: &Shared) -> anyhow::Result<i64> {
    let mut kv = client.kv_client();
    let resp = kv
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await?;
    let revision = resp.header().map_or(0, |h| h.revision());
    let mut meta_rev = 0;
    let mut entries = Vec::with_capacity(resp.kvs().len());
    for kv in resp.kvs() {
        let Some(rel) = kv.key().strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        let rel = String::from_utf8_lossy(rel).into_owned();
        if rel == layout::META {
            meta_rev = kv.mod_revision();
        }
        entries.push((rel, kv.value()));
    }
    let (state, bad) = layout::assemble(entries.iter().map(|(k, v)| (k.as_str(), *v)));
    report(shared, prefix, &bad);
    let before = shared.current().revision;
    if revision < before {
        tracing::warn!(
            revision,
            seen = before,
            "etcd's revision went backwards (restored from a backup?): reloaded the whole state"
        );
        shared
            .metrics
            .reloads
            .with_label_values(&["backwards"])
            .inc();
    }
    shared.publish(state.unwrap_or_default(), meta_rev, revision);
    Ok(revision)
}

fn report(shared: &Shared, prefix: &str, bad: &[BadKey]) {
    for b in bad {
        tracing::warn!(key = %format!("{prefix}{}", b.key), reason = %b.reason,
            "skipping an etcd key that does not decode");
        shared.metrics.bad_keys.inc();
    }
}

/// Follows the store until `stop`, from the revision [`list`] returned.
pub(super) async fn follow(
    client: Client,
    prefix: String,
    shared: Arc<Shared>,
    listed: i64,
    mut stop: watch::Receiver<bool>,
) {
    let mut from = listed;
    loop {
        let outcome = tokio::select! {
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => Stop::Done,
            s = watch_from(&client, &prefix, &shared, from) => s,
        };
        match outcome {
            Stop::Done => return,
            Stop::Resume(rev) => {
                from = rev;
                tokio::time::sleep(RETRY).await;
            }
            Stop::Reload(reason) => {
                shared.metrics.reloads.with_label_values(&[reason]).inc();
                tracing::warn!(reason, "reloading the whole state from etcd");
                loop {
                    if *stop.borrow() {
                        return;
                    }
                    match list(&client, &prefix, &shared).await {
                        Ok(rev) => {
                            from = rev;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "listing the etcd store");
                            tokio::time::sleep(RETRY).await;
                        }
                    }
                }
            }
        }
    }
}

/// Watches from `after + 1`, applying each response's events as one published state.
async fn watch_from(client: &Client, prefix: &str, shared: &Shared, after: i64) -> Stop {
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(after + 1)
        .with_progress_notify();
    let mut stream = match client.watch_client().watch(prefix, Some(options)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "starting the etcd watch");
            return Stop::Resume(after);
        }
    };
    let mut seen = after;
    loop {
        let resp = match stream.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return Stop::Resume(seen),
            Err(e) => {
                tracing::debug!(error = %e, "the etcd watch broke; resuming");
                return Stop::Resume(seen);
            }
        };
        if resp.compact_revision() > 0 {
            tracing::warn!(
                compacted = resp.compact_revision(),
                wanted = seen + 1,
                "etcd compacted the revisions this instance had not seen yet"
            );
            return Stop::Reload("compacted");
        }
        if resp.canceled() {
            tracing::warn!(reason = resp.cancel_reason(), "etcd cancelled the watch");
            return Stop::Reload("stream");
        }
        let header_rev = resp.header().map_or(seen, |h| h.revision());
        if header_rev < seen {
            return Stop::Reload("backwards");
        }
        if resp.events().is_empty() {
            continue;
        }
        let started = Instant::now();
        let current = shared.current();
        let mut state = (*current.state).clone();
        let mut meta_rev = current.meta_rev;
        let mut bad = Vec::new();
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let Some(rel) = kv.key().strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            let rel = String::from_utf8_lossy(rel);
            let value = match event.event_type() {
                EventType::Put => Some(kv.value()),
                EventType::Delete => None,
            };
            if let Err(b) = layout::apply_key(&mut state, &rel, value) {
                bad.push(b);
            }
            if rel == layout::META {
                meta_rev = kv.mod_revision();
            }
            seen = seen.max(kv.mod_revision());
        }
        report(shared, prefix, &bad);
        shared.publish(state, meta_rev, seen);
        tracing::trace!(
            events = resp.events().len(),
            revision = seen,
            apply_us = started.elapsed().as_micros(),
            "followed an etcd watch response"
        );
    }
}
