//! Region-wide capacity under load with real processes: a tenant `acme` held to a session limit
//! by the operator's cap, edges fed by a control plane, clients that keep tunnels open through
//! them, and the leader-kill scenario whose figure (time back to full capacity) the failover test
//! asserts and `failover-capacity-bench` reports.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::control::{Cluster, ControlNode};
use crate::fleet::{put_in_service, serves, synced, write};
use crate::raw::RawConn;
use crate::{metrics, wait_until, EchoServer, Edge, EdgeConfig};

const WRITE: Duration = Duration::from_secs(20);
const CONVERGE: Duration = Duration::from_secs(30);
pub const ACTIVE: &str = "breakout_edge_sessions_active";
pub const LIMIT: &str = "breakout_edge_session_limit";

/// Clients of the leader-kill scenario: on the busy edge (about 40 sessions open) and on the
/// quiet one (about 7); [`churn`].
pub const BUSY_CLIENTS: usize = 60;
pub const QUIET_CLIENTS: usize = 10;

/// The lease period: how long a grant lives in the leader's ledger (`QuotaConfig::ttl_ms`,
/// docs/distribution.md "Session leases").
pub const LEASE: Duration = Duration::from_secs(10);

/// Regions `regions` and tenant `acme` in `regions[0]`, sources 127.0.0.1, in service with a
/// 20,000-session bypass held to `limit` by the operator's cap.
pub fn setup(node: &ControlNode, regions: &[&str], limit: u32) {
    for r in regions {
        write(node, &["region", "create", r], WRITE);
    }
    let limit_arg = limit.to_string();
    let args = [
        "tenant",
        "create",
        "acme",
        "--region",
        regions[0],
        "--source-cidr",
        "127.0.0.1/32",
        "--session-limit",
        &limit_arg,
        "--default-action",
        "direct",
    ];
    write(node, &args, WRITE);
    put_in_service(node, "acme", Some(limit), WRITE);
}

/// An edge `id` of `region` that may tunnel to the echo server, trying `nodes` in this order.
pub fn edge_for(echo: &EchoServer, nodes: &[&ControlNode], region: &str, id: &str) -> Edge {
    let settings = EdgeConfig::default()
        .host("origin.test", "127.0.0.1")
        .connect_port(echo.port())
        .to_settings_toml();
    Edge::start_synced(&settings, &synced(nodes, region, id))
}

/// `acme`'s value of metric `name` on `edge` (0 if absent).
pub fn metric(edge: &Edge, name: &str) -> u64 {
    edge.metric(name, &[("tenant", "acme")]).unwrap_or(0.0) as u64
}

/// `acme`'s (local limit, open sessions) on `edge` from one scrape; `None` if it did not answer.
pub fn limit_and_active(edge: &Edge) -> Option<(u64, u64)> {
    let (status, text) = crate::raw::http_get(edge.admin(), "/metrics").ok()?;
    if status != 200 {
        return None;
    }
    let get = |name| metrics::find(&text, name, &[("tenant", "acme")]).unwrap_or(0.0) as u64;
    Some((get(LIMIT), get(ACTIVE)))
}

/// Opens a tunnel through `edge` to the echo server; `None` if refused.
pub fn tunnel(edge: &Edge, echo: &EchoServer) -> Option<RawConn> {
    let mut c = RawConn::connect_from(Ipv4Addr::LOCALHOST, edge.proxy()).ok()?;
    let resp = c
        .connect_tunnel(&format!("origin.test:{}", echo.port()))
        .ok()?;
    (resp.status == 200).then_some(c)
}

/// Workers keep up to `hold` tunnels each open through `edge`, replacing the oldest, until
/// `stop`.
pub fn hammer(
    edge: &Edge,
    echo: &EchoServer,
    workers: usize,
    hold: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (proxy, port, stop) = (edge.proxy(), echo.port(), Arc::clone(stop));
            std::thread::spawn(move || {
                let target = format!("origin.test:{port}");
                let mut held = VecDeque::new();
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut c) = RawConn::connect_from(Ipv4Addr::LOCALHOST, proxy) else {
                        continue;
                    };
                    match c.connect_tunnel(&target) {
                        Ok(r) if r.status == 200 => {
                            held.push_back(c);
                            if held.len() > hold {
                                held.pop_front();
                            }
                        }
                        // Refused at the limit: pace the retries a little.
                        _ => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        })
        .collect()
}

/// Clients that come and go: each of `workers` opens a tunnel through `edge`, holds it for a
/// while (50–1000 ms), closes it and pauses (0–500 ms) before the next one, until `stop`; a
/// refused client pauses too. Only the first `enabled` workers run (the others wait), so the
/// demand can be moved between edges. 30 running workers ask for about 20 sessions, varying
/// from one report to the next as under real load.
pub fn churn(
    edge: &Edge,
    echo: &EchoServer,
    workers: usize,
    enabled: &Arc<AtomicUsize>,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    (0..workers)
        .map(|i| {
            let (proxy, port) = (edge.proxy(), echo.port());
            let (enabled, stop) = (Arc::clone(enabled), Arc::clone(stop));
            std::thread::spawn(move || {
                let target = format!("origin.test:{port}");
                let mut rng = Lcg(i as u64 + u64::from(proxy.port()) * 1_000);
                while !stop.load(Ordering::Relaxed) {
                    if i >= enabled.load(Ordering::Relaxed) {
                        pause(&stop, 50);
                        continue;
                    }
                    let Ok(mut c) = RawConn::connect_from(Ipv4Addr::LOCALHOST, proxy) else {
                        continue;
                    };
                    if matches!(c.connect_tunnel(&target), Ok(r) if r.status == 200) {
                        pause(&stop, 50 + rng.below(950));
                    }
                    drop(c);
                    pause(&stop, rng.below(500));
                }
            })
        })
        .collect()
}

/// Waits `ms` (the clients' think time, not synchronisation), returning early on `stop`.
fn pause(stop: &AtomicBool, ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
    }
}

/// A tiny deterministic generator for the clients' timings.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Where the edges of the leader-kill scenario are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Both to followers: only the leader changes.
    Followers,
    /// The second (busy before the kill) to the leader: it also loses its connection and
    /// reconnects to a follower, and the budget it holds can only move once it has.
    OneOnLeader,
}

/// What a leader kill under load did to the region's capacity (the sum of the edges' local
/// limits, sampled about every 20 ms).
#[derive(Clone, Debug)]
pub struct FailoverFigures {
    /// Session-seconds of the limit not granted in the window before the kill: the allocator
    /// moving budget as the demand moved between edges (a lowered grant is only given elsewhere
    /// once acknowledged), with no leader change.
    pub ordinary_lost: f64,
    /// The same in the window after the kill.
    pub lost: f64,
    /// From the SIGKILL until the limits summed to the limit again after the dip (a stretch
    /// below the limit) that lost most after the kill: zero if there was none, `None` if it was
    /// still open at the end of the window.
    pub to_full: Option<Duration>,
    /// How long that dip lasted.
    pub worst_dip: Duration,
    /// The lowest sum of the edges' limits after the kill.
    pub min_limits: u64,
    /// The sum of the edges' limits at the kill (the first sample after it): below the limit
    /// when part of the budget was moving between the edges (a lowered grant acknowledged, the
    /// raised one not yet held).
    pub at_kill: u64,
    /// The highest sum of the edges' open sessions (before and after the kill).
    pub peak_active: u64,
    /// Samples after the kill.
    pub samples: usize,
    /// After the kill: (ms since the kill, sum of limits) wherever the sum changed.
    pub changes: Vec<(u64, u64)>,
}

/// A stretch of samples below the limit.
#[derive(Clone, Copy, Debug, Default)]
struct Dip {
    start_ms: u64,
    end_ms: u64,
    /// Still below the limit at the last sample.
    open: bool,
    /// Session-milliseconds of the limit not granted.
    lost: u64,
}

/// The dips of `series` ((ms, sum of limits) samples in time order) below `limit`; each sample
/// counts until the next one.
fn dips(series: &[(u64, u64)], limit: u64) -> Vec<Dip> {
    let mut out = Vec::new();
    let mut open: Option<Dip> = None;
    for (i, &(at, sum)) in series.iter().enumerate() {
        let next = series.get(i + 1).map_or(at, |n| n.0);
        match (sum < limit, open.as_mut()) {
            (true, None) => {
                open = Some(Dip {
                    start_ms: at,
                    lost: (limit - sum) * (next - at),
                    ..Dip::default()
                })
            }
            (true, Some(d)) => d.lost += (limit - sum) * (next - at),
            (false, Some(d)) => {
                d.end_ms = at;
                out.push(*d);
                open = None;
            }
            (false, None) => {}
        }
    }
    if let (Some(mut d), Some(&(last, _))) = (open, series.last()) {
        (d.end_ms, d.open) = (last, true);
        out.push(d);
    }
    out
}

/// Three control-plane nodes, tenant `acme` with `limit` in `tokyo`, two edges placed as
/// `placement` says, clients coming and going on both ([`churn`]), more than the limit
/// together. The demand moves to the second edge and the edges' limits are sampled for
/// `window`: the baseline, where budget moves between edges with no leader change. Then the
/// demand moves back to the first edge as the leader is SIGKILLed, and the limits are sampled
/// for `window` again (which should reach well past the old leader's longest lease).
pub fn leader_kill_under_load(
    limit: u32,
    window: Duration,
    placement: Placement,
) -> FailoverFigures {
    let echo = EchoServer::start();
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_leader(CONVERGE);
    let f: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    setup(&cluster.nodes[leader], &["tokyo"], limit);
    let edges = {
        let n = &cluster.nodes;
        let first = [&n[f[0]], &n[f[1]], &n[leader]];
        let second = match placement {
            Placement::OneOnLeader => [&n[leader], &n[f[0]], &n[f[1]]],
            Placement::Followers => [&n[f[1]], &n[f[0]], &n[leader]],
        };
        Arc::new([
            edge_for(&echo, &first, "tokyo", "tk-1"),
            edge_for(&echo, &second, "tokyo", "tk-2"),
        ])
    };
    for e in edges.iter() {
        wait_until(CONVERGE, "the edge serves acme with a grant", || {
            serves(e, "acme") && metric(e, LIMIT) > 0
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let enabled = [BUSY_CLIENTS, QUIET_CLIENTS].map(|n| Arc::new(AtomicUsize::new(n)));
    let mut workers = Vec::new();
    for (e, on) in edges.iter().zip(&enabled) {
        workers.extend(churn(e, &echo, BUSY_CLIENTS, on, &stop));
    }
    let sums = || -> Option<(u64, u64)> {
        let mut s = (0, 0);
        for e in edges.iter() {
            let (l, a) = limit_and_active(e)?;
            s = (s.0 + l, s.1 + a);
        }
        Some(s)
    };
    let shift = |busy: usize| {
        for (i, on) in enabled.iter().enumerate() {
            let n = if i == busy {
                BUSY_CLIENTS
            } else {
                QUIET_CLIENTS
            };
            on.store(n, Ordering::Relaxed);
        }
    };
    let mut peak_active = 0;
    wait_until(
        Duration::from_secs(60),
        "the region's capacity is fully granted under load",
        || {
            sums().is_some_and(|(l, a)| {
                peak_active = peak_active.max(a);
                l == u64::from(limit)
            })
        },
    );
    let mut sample = |window: Duration| {
        let start = Instant::now();
        let mut series = Vec::new();
        while start.elapsed() < window {
            if let Some((l, a)) = sums() {
                peak_active = peak_active.max(a);
                series.push((start.elapsed().as_millis() as u64, l));
            }
            // The sampling period, not synchronisation.
            std::thread::sleep(Duration::from_millis(20));
        }
        series
    };
    shift(1);
    let before = sample(window);
    cluster.nodes[leader].kill9();
    shift(0);
    let after = sample(window);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let limit = u64::from(limit);
    let seconds = |d: &[Dip]| d.iter().map(|d| d.lost).sum::<u64>() as f64 / 1_000.0;
    let after_dips = dips(&after, limit);
    let worst = after_dips.iter().max_by_key(|d| d.lost);
    let to_full = match worst {
        None => Some(Duration::ZERO),
        Some(d) if d.open => None,
        Some(d) => Some(Duration::from_millis(d.end_ms)),
    };
    let mut changes: Vec<(u64, u64)> = Vec::new();
    for &(at, l) in &after {
        if changes.last().map(|c| c.1) != Some(l) {
            changes.push((at, l));
        }
    }
    FailoverFigures {
        ordinary_lost: seconds(&dips(&before, limit)),
        lost: seconds(&after_dips),
        to_full,
        worst_dip: worst.map_or(Duration::ZERO, |d| {
            Duration::from_millis(d.end_ms - d.start_ms)
        }),
        min_limits: after.iter().map(|s| s.1).min().unwrap_or(0),
        at_kill: after.first().map_or(0, |s| s.1),
        peak_active,
        samples: after.len(),
        changes,
    }
}
