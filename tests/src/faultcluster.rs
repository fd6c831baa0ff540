//! A control-plane cluster whose nodes reach each other only through a [`Net`] of fault relays,
//! a register workload recorded into a [`History`], and what the fault tests read afterwards.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api_conn::ApiConn;
use crate::control::{Cluster, ControlNode, ADMIN_TOKEN};
use crate::faultnet::{Net, TcpRelay};
use crate::history::{audit_of, Audit, History, Kind, Outcome};
use crate::wait::poll_until;

/// Nodes behind relays: node `id` advertises its relays, and the relays know its process.
pub struct FaultCluster {
    pub net: Net,
    pub cluster: Cluster,
    _relays: Vec<(TcpRelay, TcpRelay)>,
}

impl FaultCluster {
    pub fn start(n: u64) -> FaultCluster {
        let net = Net::new();
        let mut nodes: Vec<ControlNode> = Vec::new();
        let mut relays = Vec::new();
        for id in 1..=n {
            let (api, raft) = (net.tcp_relay(id), net.tcp_relay(id));
            let args = [
                "--advertise-api".to_string(),
                api.addr.to_string(),
                "--advertise-raft".to_string(),
                raft.addr.to_string(),
            ];
            let node = ControlNode::start_with(id, id != 1, &[], &args);
            api.target(node.api);
            raft.target(node.raft);
            net.register(node.pid().expect("running"), id);
            if id == 1 {
                let started =
                    poll_until(Duration::from_secs(30), || leader_seen_by(&node).is_some());
                assert!(started, "node 1 never led: {}", node.stderr());
            } else {
                nodes[0]
                    .ctl(&[
                        "cluster",
                        "add-node",
                        &id.to_string(),
                        &api.addr.to_string(),
                    ])
                    .expect_ok("add-node");
            }
            nodes.push(node);
            relays.push((api, raft));
        }
        let cluster = Cluster { nodes };
        cluster.wait_voters(n as usize);
        FaultCluster {
            net,
            cluster,
            _relays: relays,
        }
    }

    pub fn node(&self, id: u64) -> &ControlNode {
        &self.cluster.nodes[(id - 1) as usize]
    }

    pub fn ids(&self) -> Vec<u64> {
        self.cluster.nodes.iter().map(|n| n.id).collect()
    }

    /// SIGKILL then restart node `id` on the same data dir (its relays keep their addresses).
    pub fn restart(&mut self, id: u64) {
        let node = &mut self.cluster.nodes[(id - 1) as usize];
        node.kill9();
        node.restart();
        self.net.register(node.pid().expect("running"), id);
    }

    /// The leader as node `id` sees it.
    pub fn leader_seen_by(&self, id: u64) -> Option<u64> {
        leader_seen_by(self.node(id))
    }

    /// Waits until every node in `ids` names the same leader, itself one of `ids`.
    pub fn wait_agreed_leader(&self, ids: &[u64], timeout: Duration) -> u64 {
        let mut found = None;
        let ok = poll_until(timeout, || {
            let seen: Vec<Option<u64>> = ids.iter().map(|i| self.leader_seen_by(*i)).collect();
            found = seen[0].filter(|l| ids.contains(l) && seen.iter().all(|s| *s == Some(*l)));
            found.is_some()
        });
        assert!(
            ok,
            "nodes {ids:?} never agreed on a leader among themselves"
        );
        found.expect("found")
    }

    /// Waits until every node has applied at least `version`.
    pub fn wait_applied(&self, version: u64, timeout: Duration) {
        for node in &self.cluster.nodes {
            let ok = poll_until(timeout, || applied(node).is_some_and(|v| v >= version));
            assert!(
                ok,
                "node {} stayed behind version {version}: {:?}",
                node.id,
                applied(node)
            );
        }
    }

    /// Every node's whole audit log (its local view).
    pub fn audits(&self) -> Vec<(u64, Audit)> {
        self.cluster
            .nodes
            .iter()
            .map(|n| (n.id, audit_log(n)))
            .collect()
    }
}

fn leader_seen_by(node: &ControlNode) -> Option<u64> {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/cluster/status");
    if status != 200 {
        return None;
    }
    serde_json::from_str::<Value>(&body).ok()?["leader"].as_u64()
}

/// The node's applied store version (its stale view).
pub fn applied(node: &ControlNode) -> Option<u64> {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/regions?stale=true");
    (status == 200)
        .then(|| serde_json::from_str::<Value>(&body).ok()?["version"].as_u64())
        .flatten()
}

/// The node's whole audit log, paged through `since`.
pub fn audit_log(node: &ControlNode) -> Audit {
    let mut all = Audit::new();
    let mut since = 0;
    loop {
        let path = format!("/v1/audit?since={since}&limit=1000&stale=true");
        let (status, body) = node.get(ADMIN_TOKEN, &path);
        assert_eq!(status, 200, "node {}: {body}", node.id);
        let v: Value = serde_json::from_str(&body).expect("json");
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let page = audit_of(&items);
        match page.keys().last() {
            Some(last) => since = *last,
            None => return all,
        }
        all.extend(page);
    }
}

/// The tenant whose lists the register workload writes.
pub const REGISTER_TENANT: &str = "hist";

/// Creates region `tokyo` and the workload's tenant through `node`.
pub fn register_tenant(node: &ControlNode) {
    node.ctl(&["region", "create", "tokyo"]).expect_ok("region");
    node.ctl(&[
        "tenant",
        "create",
        REGISTER_TENANT,
        "--region",
        "tokyo",
        "--source-cidr",
        "203.0.113.0/24",
        "--session-limit",
        "10",
    ])
    .expect_ok("tenant");
}

/// Clients writing and reading registers (the workload's lists) until stopped; each client
/// talks to one node, from its own loopback address.
pub struct Workload {
    pub history: Arc<History>,
    stop: Arc<AtomicBool>,
    /// The key set in use: bumped between fault rounds so each key's history stays short.
    generation: Arc<AtomicU64>,
    clients: Vec<JoinHandle<()>>,
    pub acked: Arc<std::sync::Mutex<Vec<(u64, String)>>>,
}

/// Keys per generation.
const KEYS: u64 = 16;

impl Workload {
    /// One client per `(client id, node)`.
    pub fn start(targets: &[(u64, &ControlNode)]) -> Workload {
        Self::start_at(targets, 0)
    }

    /// [`Workload::start`] on the keys of `generation` (a later workload on the same cluster
    /// must not read what an earlier one wrote: each history starts from empty keys).
    pub fn start_at(targets: &[(u64, &ControlNode)], generation: u64) -> Workload {
        let history = Arc::new(History::default());
        let stop = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(generation * 1000));
        let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let values = Arc::new(AtomicU64::new(1));
        let clients = targets
            .iter()
            .map(|(client, node)| {
                let (h, s, g, a, v) = (
                    Arc::clone(&history),
                    Arc::clone(&stop),
                    Arc::clone(&generation),
                    Arc::clone(&acked),
                    Arc::clone(&values),
                );
                let (client, api) = (*client, node.api);
                std::thread::spawn(move || {
                    let src = Ipv4Addr::new(127, 0, 1, client as u8);
                    let mut conn = ApiConn::new(src, api);
                    let mut rng = client.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    while !s.load(Ordering::Relaxed) {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let key = format!("g{}-k{}", g.load(Ordering::Relaxed), rng % KEYS);
                        if rng & 0x100 == 0 {
                            let value = v.fetch_add(1, Ordering::Relaxed);
                            write(&h, &a, &mut conn, client, &key, value);
                        } else {
                            read(&h, &mut conn, client, &key);
                        }
                        // Pacing, not synchronisation: keeps each key's history short enough
                        // for the exhaustive checker.
                        std::thread::sleep(Duration::from_millis(30));
                    }
                })
            })
            .collect();
        Workload {
            history,
            stop,
            generation,
            clients,
            acked,
        }
    }

    /// Moves the clients to fresh keys.
    pub fn next_generation(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops the clients and waits for their last operations.
    pub fn stop(self) -> (Arc<History>, Vec<(u64, String)>) {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.clients {
            let _ = c.join();
        }
        let acked = self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (self.history, acked)
    }
}

fn list_path(key: &str) -> String {
    format!("/v1/tenants/{REGISTER_TENANT}/lists/{key}")
}

/// The list's target in the audit log.
pub fn list_target(key: &str) -> String {
    format!("tenant/{REGISTER_TENANT}/list/{key}")
}

fn write(
    h: &History,
    acked: &std::sync::Mutex<Vec<(u64, String)>>,
    conn: &mut ApiConn,
    client: u64,
    key: &str,
    value: u64,
) {
    let p = h.invoke(client, key, Kind::Write(value));
    let body = format!("[\"v{value}.example\"]");
    let outcome = match conn.send("PUT", &list_path(key), Some(ADMIN_TOKEN), Some(&body)) {
        Ok(r) if r.status == 200 => {
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            match v["version"].as_u64() {
                Some(version) => {
                    acked
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((version, list_target(key)));
                    Outcome::Written { version }
                }
                None => Outcome::Unknown,
            }
        }
        // A refusal decided by the state machine or the API: certainly not applied.
        Ok(r) if matches!(r.status, 400 | 404 | 409 | 412 | 413 | 429) => Outcome::Failed,
        // 503 (no leader, the leader did not answer a forward, a write that timed out) or a
        // lost connection: it may have been applied.
        _ => Outcome::Unknown,
    };
    h.complete(p, outcome);
}

fn read(h: &History, conn: &mut ApiConn, client: u64, key: &str) {
    let p = h.invoke(client, key, Kind::Read);
    let outcome = match conn.send("GET", &list_path(key), Some(ADMIN_TOKEN), None) {
        Ok(r) if r.status == 200 => match value_of(&r.body) {
            Some(v) => Outcome::Read(v),
            None => Outcome::Failed,
        },
        Ok(r) if r.status == 404 => Outcome::Read(0),
        _ => Outcome::Failed,
    };
    h.complete(p, outcome);
}

/// `{"entries": ["v7.example"]}` → 7.
pub fn value_of(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let entry = v["entries"].as_array()?.first()?.as_str()?;
    entry
        .strip_prefix('v')?
        .strip_suffix(".example")?
        .parse()
        .ok()
}

/// Every key's value as `node` holds it locally (`?stale=true`).
pub fn local_values(node: &ControlNode) -> std::collections::BTreeMap<String, u64> {
    let (status, body) = node.get(
        ADMIN_TOKEN,
        &format!("/v1/tenants/{REGISTER_TENANT}/lists?stale=true"),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v.as_object()
        .map(|lists| {
            lists
                .iter()
                .filter_map(|(k, l)| Some((k.clone(), value_of(l.to_string().as_bytes())?)))
                .collect()
        })
        .unwrap_or_default()
}

/// A figure line for docs/reliability.md: appended to `$RELIABILITY_REPORT` if set, and printed.
pub fn report(test: &str, figures: Value) {
    let line = serde_json::json!({ "test": test, "figures": figures }).to_string();
    eprintln!("reliability-figures {line}");
    if let Ok(path) = std::env::var("RELIABILITY_REPORT") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// How long the long-running fault tests run: `FAULT_MINUTES` (default: one round).
pub fn fault_budget() -> Option<Duration> {
    std::env::var("FAULT_MINUTES")
        .ok()
        .and_then(|m| m.parse::<f64>().ok())
        .map(|m| Duration::from_secs_f64(m * 60.0))
}

/// True while another round fits in the budget that started at `started`.
pub fn another_round(started: Instant, rounds: u32) -> bool {
    match fault_budget() {
        None => rounds == 0,
        Some(budget) => rounds == 0 || started.elapsed() < budget,
    }
}
