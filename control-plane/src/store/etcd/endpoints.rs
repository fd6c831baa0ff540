//! Keeps dead etcd members out of the client's balanced channel.
//!
//! etcd-client balances requests over every `--etcd-endpoints` URL and keeps picking a member
//! that is down: each request routed there fails with a connection error (etcd-client issue
//! #39), which broke writes, watches and the election session one call in three while one
//! member of three was down. Every [`PROBE`] this task tries a TCP connection to each member:
//! one that does not answer is removed from the channel, and added back once it answers again.
//! While no member answers, all stay (there is nothing better to try).

use std::collections::BTreeSet;
use std::time::Duration;

use etcd_client::Client;
use tokio::sync::watch;

/// How often members are probed.
pub(super) const PROBE: Duration = Duration::from_millis(500);
/// How long a probe waits for a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// `host:port` of an `http://` or `https://` URL (a path is ignored).
pub(super) fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then_some(host)
}

/// Which members to take out and put back, given which answer now and which are out.
pub(super) fn changes(
    endpoints: &[String],
    alive: &BTreeSet<String>,
    out: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    if alive.is_empty() {
        // Nothing answers: keep (or put back) everything.
        return (Vec::new(), out.iter().cloned().collect());
    }
    let remove = endpoints
        .iter()
        .filter(|e| !alive.contains(*e) && !out.contains(*e))
        .cloned()
        .collect();
    let add = out.iter().filter(|e| alive.contains(*e)).cloned().collect();
    (remove, add)
}

async fn answers(url: &str) -> bool {
    let Some(addr) = authority(url) else {
        return true; // not ours to judge: leave it to etcd-client
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Probes the members until `stop`. With one endpoint there is nothing to balance: it returns.
pub(super) async fn watch_members(
    client: Client,
    endpoints: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    if endpoints.len() < 2 {
        return;
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut tick = tokio::time::interval(PROBE);
    loop {
        tokio::select! {
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => return,
            _ = tick.tick() => {}
        }
        let mut alive = BTreeSet::new();
        for e in &endpoints {
            if answers(e).await {
                alive.insert(e.clone());
            }
        }
        let (remove, add) = changes(&endpoints, &alive, &out);
        for e in remove {
            tracing::warn!(endpoint = %e, "etcd member does not answer: no longer sending to it");
            if client.remove_endpoint(&e).await.is_ok() {
                out.insert(e);
            }
        }
        for e in add {
            tracing::info!(endpoint = %e, "etcd member answers again: sending to it");
            if client.add_endpoint(&e).await.is_ok() {
                out.remove(&e);
            }
        }
    }
}

/// Whether `e` failed before the request left this process (no connection to the member), so
/// nothing was sent and the call may be retried on another member without doubt about its
/// outcome.
pub(super) fn not_sent(e: &etcd_client::Error) -> bool {
    let text = e.to_string();
    text.contains("tcp connect error") || text.contains("Connection refused")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dead_members_go_out_and_come_back_and_all_stay_when_none_answers() {
        let all: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (remove, add) = changes(&all, &set(&["a", "c"]), &set(&[]));
        assert_eq!((remove, add), (vec!["b".to_string()], vec![]));
        let (remove, add) = changes(&all, &set(&["a", "b", "c"]), &set(&["b"]));
        assert_eq!((remove, add), (vec![], vec!["b".to_string()]));
        let (remove, add) = changes(&all, &set(&[]), &set(&["b"]));
        assert_eq!((remove, add), (vec![], vec!["b".to_string()]));
        assert_eq!(authority("http://127.0.0.1:2379"), Some("127.0.0.1:2379"));
        assert_eq!(
            authority("https://etcd-0.etcd:2379/"),
            Some("etcd-0.etcd:2379")
        );
        assert_eq!(authority("unix:///x"), None);
    }
}
