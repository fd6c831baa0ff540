//! The singleton on etcd: each instance keeps a session lease ([`super::SESSION_TTL_S`]),
//! registers itself under `members/<node id>` on it and campaigns through etcd's election API
//! (`election` under the prefix). The elected instance is the one [`crate::store::Store::status`]
//! names as leader, so everything gated on "this node leads" (template polling, quota leases,
//! webhooks, mail) runs there. Its term is the election key's create revision: it grows with
//! every new holder, so the quota allocator of a new holder starts quiet for one lease period
//! (`crate::distribute::leases`), exactly as after a Raft leader change.
//!
//! An instance that cannot renew its lease stops calling itself elected before the lease can
//! have expired in etcd, then starts a new session.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::layout::{ELECTION, MEMBERS};
use super::SESSION_TTL_S;

/// How often the lease is renewed and the election observed.
const TICK: Duration = Duration::from_millis(500);
/// Longest wait for one etcd call of the election (a member that died mid-call never answers).
const CALL: Duration = Duration::from_secs(1);

/// `call`, or an error once it has taken [`CALL`].
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(CALL, call).await {
        Ok(res) => Ok(res?),
        Err(_) => anyhow::bail!("etcd did not answer within {CALL:?}"),
    }
}

/// What an instance advertises (member keys and its candidacy value).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Member {
    id: u64,
    api: String,
}

/// The election as this instance sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct View {
    pub leader: Option<u64>,
    pub term: u64,
    /// Live instances, by id, with their API addresses.
    pub members: Vec<(u64, String)>,
}

pub(super) struct Election {
    me: Member,
    /// `Some(term)` while this instance holds the election on a live lease.
    elected: Mutex<Option<u64>>,
    view: Mutex<View>,
    /// The lease to revoke on shutdown, and a signal once it is revoked.
    lease: Mutex<Option<i64>>,
    resigned: watch::Sender<bool>,
}

impl Election {
    pub(super) fn new(id: u64, api: String) -> Arc<Self> {
        Arc::new(Self {
            me: Member { id, api },
            elected: Mutex::new(None),
            view: Mutex::new(View::default()),
            lease: Mutex::new(None),
            resigned: watch::channel(false).0,
        })
    }

    fn elected(&self) -> MutexGuard<'_, Option<u64>> {
        self.elected.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn term(&self) -> Option<u64> {
        *self.elected()
    }

    /// The observed view, with this instance as leader exactly while it holds the election.
    pub(super) fn view(&self) -> View {
        let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match self.term() {
            Some(term) => {
                view.leader = Some(self.me.id);
                view.term = term;
            }
            None if view.leader == Some(self.me.id) => view.leader = None,
            None => {}
        }
        if !view.members.iter().any(|(id, _)| *id == self.me.id) {
            view.members.push((self.me.id, self.me.api.clone()));
            view.members.sort();
        }
        view
    }

    fn set_elected(&self, term: Option<u64>) {
        let mut e = self.elected();
        if *e != term {
            match term {
                Some(term) => tracing::info!(node_id = self.me.id, term, "elected on etcd"),
                None => tracing::warn!(node_id = self.me.id, "no longer elected on etcd"),
            }
            *e = term;
        }
    }

    /// Waits (at most 2 s) until [`run`] has revoked the session lease after a stop.
    pub(super) async fn resigned(&self) {
        let mut rx = self.resigned.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|r| *r)).await;
    }
}

/// Sessions, one after another, until `stop`.
pub(super) async fn run(
    client: Client,
    prefix: String,
    election: Arc<Election>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = session(&client, &prefix, &election, &mut stop).await {
            tracing::warn!(error = %e, "etcd election session ended");
        }
        election.set_elected(None);
        let lease = election
            .lease
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(id) = lease {
            // Bounded: a call caught on a member that just died must not hold up the next
            // session (the lease then expires by itself).
            let _ = tokio::time::timeout(CALL, client.lease_client().revoke(id)).await;
        }
        if *stop.borrow() {
            election.resigned.send_replace(true);
            return;
        }
        tokio::time::sleep(TICK).await;
    }
}

/// One lease: register, campaign, hold; returns when the lease is lost or on `stop`.
async fn session(
    client: &Client,
    prefix: &str,
    election: &Election,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut leases = client.lease_client();
    let lease = bounded(leases.grant(SESSION_TTL_S, None)).await?.id();
    *election.lease.lock().unwrap_or_else(|e| e.into_inner()) = Some(lease);
    let (mut keeper, mut answers) = bounded(leases.keep_alive(lease)).await?;
    let mut renewed = Instant::now();
    // Give up the role well before etcd can expire the lease.
    let give_up = Duration::from_millis(SESSION_TTL_S as u64 * 1000 * 2 / 3);

    let member_key = format!("{prefix}{MEMBERS}{}", election.me.id);
    let value = serde_json::to_vec(&election.me)?;
    let txn = Txn::new()
        .when([Compare::create_revision(
            member_key.clone(),
            CompareOp::Equal,
            0,
        )])
        .and_then([TxnOp::put(
            member_key.clone(),
            value.clone(),
            Some(PutOptions::new().with_lease(lease)),
        )]);
    if !bounded(client.kv_client().txn(txn)).await?.succeeded() {
        anyhow::bail!(
            "another live instance uses node id {} on this etcd prefix; give each instance its \
             own --node-id",
            election.me.id
        );
    }

    let name = format!("{prefix}{ELECTION}");
    let mut elections = client.election_client();
    let campaign = elections.campaign(name, value, lease);
    tokio::pin!(campaign);
    let mut campaigning = true;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => return Ok(()),
            won = &mut campaign, if campaigning => {
                campaigning = false;
                let won = won?;
                let term = won.leader().map_or(0, |l| l.rev());
                election.set_elected(Some(u64::try_from(term).unwrap_or(0)));
            }
            _ = tick.tick() => {
                bounded(keeper.keep_alive()).await?;
                if renewed.elapsed() > give_up {
                    anyhow::bail!("the session lease was not renewed in time");
                }
            }
            answer = answers.message() => match answer? {
                Some(a) if a.ttl() > 0 => renewed = Instant::now(),
                _ => anyhow::bail!("the session lease expired"),
            },
        }
    }
}

/// Keeps the view of the election and the members fresh, until `stop`.
pub(super) async fn observe(
    client: Client,
    prefix: String,
    election: Arc<Election>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => return,
            _ = tick.tick() => {}
        }
        match look(&client, &prefix).await {
            Ok(view) => *election.view.lock().unwrap_or_else(|e| e.into_inner()) = view,
            Err(e) => tracing::debug!(error = %e, "observing the etcd election"),
        }
    }
}

async fn look(client: &Client, prefix: &str) -> anyhow::Result<View> {
    let mut view = View::default();
    let name = format!("{prefix}{ELECTION}");
    match bounded(client.election_client().leader(name)).await {
        Ok(resp) => {
            if let Some(kv) = resp.kv() {
                let leader: Member = serde_json::from_slice(kv.value())?;
                view.leader = Some(leader.id);
                view.term = u64::try_from(kv.create_revision()).unwrap_or(0);
            }
        }
        // "election: no leader" is an error status in etcd's API.
        Err(e) if e.to_string().contains("no leader") => {}
        Err(e) => return Err(e),
    }
    let members = bounded(client.kv_client().get(
        format!("{prefix}{MEMBERS}"),
        Some(GetOptions::new().with_prefix()),
    ))
    .await?;
    for kv in members.kvs() {
        if let Ok(m) = serde_json::from_slice::<Member>(kv.value()) {
            view.members.push((m.id, m.api));
        }
    }
    view.members.sort();
    Ok(view)
}
