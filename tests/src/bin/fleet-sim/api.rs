//! The simulator's calls on the control plane's HTTP API, each tried again through elections,
//! overload and lost connections as [`Policy`] says (bounded, with jitter), then failed with an
//! error naming the call and its last answer.
//!
//! Writes are safe to try again: each carries an `Idempotency-Key`, the same on every attempt
//! (docs/api.md, "Retries and Idempotency-Key"), so a write whose answer was lost after it was
//! sent (a timeout, a reset, a 503 `outcome unknown` after a missed commit deadline, a leader
//! that died between commit and answer) is applied once, and a later attempt gets the first
//! answer again, marked `Idempotent-Replayed: true`. That also covers `ApiConn`'s own single
//! resend on a broken kept-alive connection.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::Ipv4Addr;
#[cfg(test)]
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use breakout_tests::api_conn::ApiConn;
use breakout_tests::control::{Cluster, ADMIN_TOKEN};
use breakout_tests::raw::RawResponse;
use serde_json::Value;

use crate::retry::{Attempt, Next, Policy};

/// A client of one node's API that moves to the cluster's leader after a transient failure.
pub struct Api<'a> {
    cluster: Option<&'a Cluster>,
    /// The node called (an index into the cluster; 0 without one).
    node: usize,
    conn: ApiConn,
    policy: Policy,
}

/// An acknowledged call.
pub struct Answer {
    pub body: String,
    /// When the acknowledged attempt's answer was read.
    pub acked: Instant,
    /// The answer repeats the one to an earlier attempt, which applied the write (at a moment
    /// this client does not know): `Idempotent-Replayed: true`.
    pub replayed: bool,
}

/// An acknowledged write.
pub struct Written {
    /// The store version the write made.
    pub version: u64,
    /// When its acknowledgement was read.
    pub acked: Instant,
    /// Applied by an earlier attempt whose answer was lost (see [`Answer::replayed`]): `acked`
    /// is later than the apply by an unknown amount, so it times nothing.
    pub replayed: bool,
}

impl<'a> Api<'a> {
    /// Calls the cluster's leader (found as [`leader`] does), and after a transient failure
    /// whichever node leads then: a follower would forward a write, but the hop would be timed
    /// too, and an import's dump sent twice.
    pub fn on_leader(cluster: &'a Cluster, policy: Policy) -> Result<Api<'a>> {
        let node = leader(cluster, policy)?;
        Ok(Api {
            cluster: Some(cluster),
            node,
            conn: ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[node].api),
            policy,
        })
    }

    /// Calls `to` alone.
    #[cfg(test)]
    pub fn fixed(to: SocketAddr, policy: Policy) -> Api<'static> {
        Api {
            cluster: None,
            node: 0,
            conn: ApiConn::new(Ipv4Addr::LOCALHOST, to),
            policy,
        }
    }

    /// The node called last (an index into the cluster).
    pub fn node(&self) -> usize {
        self.node
    }

    /// `method path` (with a JSON `body`) as the operator, until it is answered 2xx, answered
    /// finally, or [`Policy::budget`] runs out.
    pub fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Answer> {
        let key = (method != "GET").then(idempotency_key);
        let headers: Vec<(&str, &str)> = key.iter().map(|k| ("Idempotency-Key", &k[..])).collect();
        let started = Instant::now();
        // The answer to the attempt before (what a give-up names).
        let mut before = String::new();
        for n in 0.. {
            if n > 0 && started.elapsed() > self.policy.budget {
                // The leader lookup after the last wait took the rest of the budget.
                bail!(
                    "{method} {path}: still failing after {n} attempts in {:.1} s (no leader \
                     found in time to try again); last: {before}",
                    started.elapsed().as_secs_f64()
                );
            }
            let result = self
                .conn
                .send_with(method, path, Some(ADMIN_TOKEN), &headers, body);
            let acked = Instant::now();
            let attempt = match &result {
                Ok(r) => Attempt::Answered {
                    status: r.status,
                    retry_after: r.header("retry-after"),
                },
                Err(e) => Attempt::Unanswered(e.kind()),
            };
            let next = self.policy.next(attempt, n, started.elapsed(), jitter());
            let last = || describe(&result);
            match next {
                Next::Done => {
                    let r = result.context("a 2xx is an answer")?;
                    return Ok(Answer {
                        body: r.body_text(),
                        acked,
                        replayed: r
                            .header("idempotent-replayed")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
                    });
                }
                Next::Fail => bail!("{method} {path}: {} (not retried)", last()),
                Next::GiveUp => bail!(
                    "{method} {path}: still failing after {} attempts in {:.1} s; last: {}",
                    n + 1,
                    started.elapsed().as_secs_f64(),
                    last()
                ),
                Next::Retry(wait) => {
                    before = last();
                    eprintln!(
                        "fleet-sim: {method} {path}: {before}; again in {} ms",
                        wait.as_millis()
                    );
                    std::thread::sleep(wait);
                    if !matches!(attempt, Attempt::Answered { status: 429, .. }) {
                        self.follow_leader();
                    }
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// One write; its version, from the answer's `version`.
    pub fn write(&mut self, method: &str, path: &str, body: &str) -> Result<Written> {
        let a = self.call(method, path, Some(body))?;
        let v: Value = serde_json::from_str(&a.body)
            .with_context(|| format!("{method} {path}: the answer {:?}", a.body))?;
        let version = v["version"]
            .as_u64()
            .with_context(|| format!("{method} {path}: no version in {:?}", a.body))?;
        Ok(Written {
            version,
            acked: a.acked,
            replayed: a.replayed,
        })
    }

    /// Moves to the node that leads now, if one does and it is another.
    fn follow_leader(&mut self) {
        let Some(cluster) = self.cluster else { return };
        if let Ok(i) = lookup(cluster) {
            if i != self.node {
                self.node = i;
                self.conn = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[i].api);
            }
        }
    }
}

/// Replaces the store's content with `dump` (`POST /v1/store/import?replace=true`): one
/// keyed write, so an import that committed after its answer was lost is not applied twice.
pub fn import(api: &mut Api<'_>, dump: Vec<u8>) -> Result<Written> {
    let body = String::from_utf8(dump)?;
    api.write("POST", "/v1/store/import?replace=true", &body)
}

/// The index of the node every running node's `/v1/cluster/status` names as the leader,
/// asked again with backoff until `policy.budget` runs out (an election on a loaded machine
/// can take seconds).
pub fn leader(cluster: &Cluster, policy: Policy) -> Result<usize> {
    let started = Instant::now();
    for n in 0.. {
        let why = match lookup(cluster) {
            Ok(i) => return Ok(i),
            Err(why) => why,
        };
        let wait = policy.backoff(n, jitter());
        if started.elapsed() + wait > policy.budget {
            bail!(
                "no leader among the running nodes after {} lookups in {:.1} s; last: {why}",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(wait);
    }
    unreachable!("the loop returns")
}

/// The leader as the first running node that names a running one; else what each said.
fn lookup(cluster: &Cluster) -> Result<usize, String> {
    let mut said = Vec::new();
    for n in cluster.nodes.iter().filter(|n| n.is_running()) {
        let (status, body) = n.get(ADMIN_TOKEN, "/v1/cluster/status");
        let named = (status == 200)
            .then(|| serde_json::from_str::<Value>(&body).ok())
            .flatten()
            .and_then(|v| v.get("leader")?.as_u64());
        let found = named.and_then(|id| {
            cluster
                .nodes
                .iter()
                .position(|m| m.id == id && m.is_running())
        });
        match found {
            Some(i) => return Ok(i),
            None => said.push(format!("node {}: {status} {}", n.id, body.trim())),
        }
    }
    Err(said.join("; "))
}

fn describe(result: &io::Result<RawResponse>) -> String {
    match result {
        Ok(r) => format!("{} {}", r.status, r.body_text().trim()),
        Err(e) => format!("no answer ({:?}: {e})", e.kind()),
    }
}

/// A uniform draw from [0, 1), from std's randomly seeded hash keys (no dependency for it).
pub fn jitter() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// A fresh key for one write (unique and unguessable enough for a benchmark's own writes).
fn idempotency_key() -> String {
    format!("fleet-sim-{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests;
