//! [`EtcdStore`]: the [`Store`] kept in an existing etcd cluster (issue 15).
//!
//! ```text
//!  API write ──▶ write: apply (crate::state::apply) to the followed state ──▶ etcd txn
//!    (group      (if meta's mod revision is still the one read: put/delete changed keys)
//!     commit: the writes that waited, applied in order, go in one transaction)
//!  etcd ──list, then watch from the listed revision──▶ follow ──▶ published state ──▶ readers
//!  etcd election on a lease ──▶ elect ──▶ status().leader (singleton work)
//! ```
//!
//! Every instance is equal for the API: any of them writes. The state an instance serves is the
//! one it follows from etcd, never one it computed: a write returns once the follower has seen
//! its revision. The key layout is in [`layout`].

mod elect;
mod endpoints;
mod follow;
pub mod layout;
mod metrics;
mod write;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use tokio::sync::watch;

pub use self::metrics::EtcdMetrics;
use super::{
    Applied, BoxFuture, ClusterStatus, Consistency, NodeAddr, NodeStatus, Store, StoreError,
};
use crate::state::{Request, State};

/// Calls retried while the member picked cannot be reached (two probe periods: by then the
/// member is out of the channel, `endpoints`).
const NOT_SENT_RETRIES: usize = 8;
/// How long a linearizable read waits for this instance to catch up with etcd.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// The lease of an instance's election candidacy and membership key: the singleton moves this
/// long after its holder dies at the latest.
pub const SESSION_TTL_S: i64 = 3;

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// `http://host:port` or `https://host:port` (with TLS).
    pub endpoints: Vec<String>,
    /// Every key of the store lives under it (default `/breakout/`).
    pub prefix: String,
    pub node_id: u64,
    /// This instance's API address (what other instances relay edge reports to).
    pub api: String,
    pub tls: Option<EtcdTls>,
    /// etcd user and password (etcd's auth).
    pub user: Option<(String, String)>,
}

/// TLS towards etcd: PEM bytes.
#[derive(Clone, Default)]
pub struct EtcdTls {
    pub ca: Option<Vec<u8>>,
    /// Client certificate chain and key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for EtcdTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdTls")
            .field("ca", &self.ca.is_some())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

/// What this instance has followed from etcd.
#[derive(Clone, Debug, Default)]
pub(crate) struct Followed {
    pub state: Arc<State>,
    /// Mod revision of `meta` in `state` (0: none yet).
    pub meta_rev: i64,
    /// The etcd revision `state` reflects.
    pub revision: i64,
}

/// The followed state and the channels it is published on.
pub(crate) struct Shared {
    followed: watch::Sender<Followed>,
    version: watch::Sender<u64>,
    /// The highest version ever published here: edges never see a lower one.
    floor: Mutex<u64>,
    metrics: EtcdMetrics,
}

impl Shared {
    fn current(&self) -> Followed {
        self.followed.borrow().clone()
    }

    fn floor(&self) -> MutexGuard<'_, u64> {
        self.floor.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes a state followed from etcd. A state whose version is below what was published
    /// before (etcd restored from a backup) is published one above it instead.
    fn publish(&self, mut state: State, meta_rev: i64, revision: i64) {
        let mut floor = self.floor();
        if state.version < *floor {
            tracing::warn!(
                etcd_version = state.version,
                floor = *floor,
                "the store's version went backwards; serving it as a newer version"
            );
            state.version = *floor + 1;
        }
        *floor = state.version;
        let version = state.version;
        self.followed.send_replace(Followed {
            state: Arc::new(state),
            meta_rev,
            revision,
        });
        drop(floor);
        self.version.send_if_modified(|v| {
            let changed = *v != version;
            *v = version;
            changed
        });
    }

    /// Waits until the followed state reflects `meta_rev` (or later).
    async fn caught_up(&self, meta_rev: i64, timeout: Duration) -> Result<Followed, StoreError> {
        let mut rx = self.followed.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|f| f.meta_rev >= meta_rev)).await;
        match waited {
            Ok(Ok(f)) => Ok(f.clone()),
            Ok(Err(_)) => Err(StoreError::Fatal("the etcd follower stopped".into())),
            Err(_) => Err(StoreError::Unavailable(format!(
                "not caught up with etcd (revision {meta_rev}) within {timeout:?}"
            ))),
        }
    }
}

/// A control-plane instance on etcd.
pub struct EtcdStore {
    client: Client,
    prefix: String,
    node_id: u64,
    shared: Arc<Shared>,
    election: Arc<elect::Election>,
    /// Writes to group-commit (`write`): one etcd transaction at a time from this instance
    /// (they would conflict with each other anyway), carrying every write that waited.
    writes: tokio::sync::mpsc::UnboundedSender<write::Waiting>,
    stop: watch::Sender<bool>,
}

impl EtcdStore {
    /// Connects, loads the state and starts following it and campaigning for the singleton.
    pub async fn open(cfg: EtcdConfig) -> anyhow::Result<Arc<EtcdStore>> {
        if cfg.endpoints.is_empty() {
            anyhow::bail!("--etcd-endpoints names no endpoint");
        }
        let client = connect(&cfg).await?;
        let metrics = EtcdMetrics::new().context("creating the etcd metrics")?;
        let (followed, _) = watch::channel(Followed::default());
        let (version, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            followed,
            version,
            floor: Mutex::new(0),
            metrics,
        });
        let (stop, _) = watch::channel(false);
        let prefix = cfg.prefix.clone();
        // The first list happens here, so a store that cannot read etcd does not start.
        let listed = follow::list(&client, &prefix, &shared)
            .await
            .context("reading the state from etcd")?;
        tokio::spawn(follow::follow(
            client.clone(),
            prefix.clone(),
            Arc::clone(&shared),
            listed,
            stop.subscribe(),
        ));
        let election = elect::Election::new(cfg.node_id, cfg.api.clone());
        tokio::spawn(elect::run(
            client.clone(),
            prefix.clone(),
            Arc::clone(&election),
            stop.subscribe(),
        ));
        tokio::spawn(endpoints::watch_members(
            client.clone(),
            cfg.endpoints.clone(),
            stop.subscribe(),
        ));
        tokio::spawn(elect::observe(
            client.clone(),
            prefix.clone(),
            Arc::clone(&election),
            stop.subscribe(),
        ));
        tracing::info!(endpoints = ?cfg.endpoints, prefix = %prefix, node_id = cfg.node_id,
            "following the etcd store");
        let writes = write::start(write::Writer {
            client: client.clone(),
            prefix: prefix.clone(),
            shared: Arc::clone(&shared),
        });
        Ok(Arc::new(EtcdStore {
            client,
            prefix,
            node_id: cfg.node_id,
            shared,
            election,
            writes,
            stop,
        }))
    }

    /// The store's metrics (reloads, bad keys, write conflicts); the caller registers them.
    pub fn metrics(&self) -> &EtcdMetrics {
        &self.shared.metrics
    }

    /// The version this instance serves.
    pub fn store_version(&self) -> watch::Ref<'_, u64> {
        self.shared.version.borrow()
    }

    /// The etcd revision the served state reflects.
    pub fn revision(&self) -> i64 {
        self.shared.current().revision
    }

    /// Whether this instance holds the singleton election.
    pub fn is_elected(&self) -> bool {
        self.election.term().is_some()
    }

    /// Stops following and resigns (revoking the session lease, so the singleton moves now).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.election.resigned().await;
    }

    async fn get_meta(&self) -> Result<etcd_client::GetResponse, StoreError> {
        get_meta(&self.client, &self.prefix).await
    }
}

/// A linearizable get of `meta`, tried again on another member while the one picked could not
/// be reached (nothing was sent).
async fn get_meta(client: &Client, prefix: &str) -> Result<etcd_client::GetResponse, StoreError> {
    let mut kv = client.kv_client();
    let key = format!("{prefix}{}", layout::META);
    let mut tries = 0;
    loop {
        match kv.get(key.as_str(), None).await {
            Ok(resp) => return Ok(resp),
            Err(e) if endpoints::not_sent(&e) && tries < NOT_SENT_RETRIES => {
                tries += 1;
                tokio::time::sleep(endpoints::PROBE / 4).await;
            }
            Err(e) => return Err(unavailable("reading meta", e)),
        }
    }
}

async fn connect(cfg: &EtcdConfig) -> anyhow::Result<Client> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
        .with_keep_alive_while_idle(true);
    if let Some((user, password)) = &cfg.user {
        options = options.with_user(user.clone(), password.clone());
    }
    if let Some(tls) = &cfg.tls {
        let mut t = TlsOptions::new();
        if let Some(ca) = &tls.ca {
            t = t.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &tls.identity {
            t = t.identity(Identity::from_pem(cert, key));
        }
        options = options.with_tls(t);
    }
    Client::connect(&cfg.endpoints, Some(options))
        .await
        .with_context(|| format!("connecting to etcd at {}", cfg.endpoints.join(",")))
}

/// etcd could not serve a call.
fn unavailable(what: &str, e: etcd_client::Error) -> StoreError {
    StoreError::Unavailable(format!("etcd: {what}: {e}"))
}

impl Store for EtcdStore {
    fn write(&self, req: Request) -> BoxFuture<'_, Result<Applied, StoreError>> {
        Box::pin(write::write(&self.writes, req))
    }

    fn read(&self, consistency: Consistency) -> BoxFuture<'_, Result<Arc<State>, StoreError>> {
        Box::pin(async move {
            if consistency == Consistency::Stale {
                return Ok(self.shared.current().state);
            }
            // A linearizable get of `meta` tells the newest write; serve once it is followed.
            let resp = self.get_meta().await?;
            let meta_rev = resp.kvs().first().map_or(0, |kv| kv.mod_revision());
            Ok(self.shared.caught_up(meta_rev, READ_TIMEOUT).await?.state)
        })
    }

    fn status(&self) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move {
            let view = self.election.view();
            let followed = self.shared.current();
            let applied = Some(followed.state.version);
            let nodes = view
                .members
                .iter()
                .map(|(id, api)| NodeStatus {
                    id: *id,
                    addr: NodeAddr {
                        api: api.clone(),
                        raft: String::new(),
                    },
                    role: if Some(*id) == view.leader {
                        "leader"
                    } else {
                        "follower"
                    }
                    .into(),
                    matched: None,
                    lag: None,
                })
                .collect();
            Ok(ClusterStatus {
                node_id: self.node_id,
                leader: view.leader,
                term: view.term,
                last_log_index: applied,
                last_applied: applied,
                nodes,
                stopped: None,
            })
        })
    }

    fn add_node(
        &self,
        _id: u64,
        _addr: NodeAddr,
    ) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async { Err(no_membership()) })
    }

    fn remove_node(&self, _id: u64) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async { Err(no_membership()) })
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }
}

fn no_membership() -> StoreError {
    StoreError::Invalid(
        "this control plane keeps its state in etcd (--store etcd): it has no Raft membership \
         to change; start or stop instances against the same etcd, and change etcd's own \
         members with etcdctl member add/remove"
            .into(),
    )
}
