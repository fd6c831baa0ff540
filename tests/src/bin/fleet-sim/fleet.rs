//! The simulated edges as one fleet: started on a runtime, and waited on until they serve a
//! version (each edge's apply time kept for the latency figures).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use breakout_edge::sync::{self, SyncConfig};
use breakout_tests::control::{dev_ca, Cluster, ADMIN_TOKEN};
use tokio::runtime::Runtime;

use crate::populate::{self, Shape};
use crate::probe::{mib, rss};
use crate::sim_edge::{RegionBook, SimEdge, Traffic};
use crate::stats::median_usize;

pub struct Fleet {
    pub edges: Vec<Arc<SimEdge>>,
    pub books: Vec<Arc<RegionBook>>,
    pub traffic: Arc<Traffic>,
    pub regions: usize,
    /// When the first edge was spawned (the connect phase's start).
    pub started: Instant,
}

impl Fleet {
    /// Spawns `edges_n` edges on `runtime`, spread round-robin over the regions, each given the
    /// nodes in `order` (indices into the cluster, the leader first: so every edge starts on it
    /// and a leader kill moves all of them at once). Apply times count from `epoch`.
    ///
    /// Edges start `wave` at a time, each wave once the one before is configured (within
    /// `limit`): a simulated edge holds its snapshot frame whole while it arrives, and a
    /// thousand edges taking a 100,000-tenant region's (≈ 9 MiB) side by side held 15 GB in
    /// this one process. Real edges hold theirs on their own machines.
    pub fn start(
        runtime: &Runtime,
        cluster: &Cluster,
        order: &[usize],
        shape: Shape,
        (edges_n, wave): (usize, usize),
        epoch: Instant,
        limit: Duration,
    ) -> Result<Fleet> {
        let traffic = Arc::new(Traffic::default());
        let books: Vec<Arc<RegionBook>> = (0..shape.regions).map(|_| Arc::default()).collect();
        let targets: Vec<String> = order
            .iter()
            .map(|&i| cluster.nodes[i].edge.to_string())
            .collect();
        let mut edges = Vec::new();
        let client = {
            let cfg = SyncConfig {
                control_plane: targets.clone(),
                region: populate::region_name(0),
                node_id: "sim".into(),
                ca_file: dev_ca().ca(),
                token: ADMIN_TOKEN.into(),
            };
            sync::prepare(&cfg)?
        };
        let started = Instant::now();
        for k in 0..edges_n {
            let region = k % shape.regions;
            let edge = Arc::new(SimEdge::new(
                k,
                Arc::clone(&books[region]),
                Arc::clone(&traffic),
                epoch,
            ));
            let cfg = SyncConfig {
                control_plane: targets.clone(),
                region: populate::region_name(region),
                node_id: format!("sim-{k:04}"),
                ca_file: dev_ca().ca(),
                token: ADMIN_TOKEN.into(),
            };
            runtime.spawn(sync::run_node(cfg, client.clone(), Arc::clone(&edge)));
            edges.push(edge);
            if edges.len() % wave.max(1) == 0 && edges.len() < edges_n {
                wait_configured(&edges, started + limit)?;
            }
        }
        Ok(Fleet {
            edges,
            books,
            traffic,
            regions: shape.regions,
            started,
        })
    }

    /// Waits until every edge of the regions `region` picks serves `version` or newer; then
    /// each such edge's time from `from_us` to its apply, in ms. Only regions whose content
    /// changed at `version` may be picked: the others' edges are sent nothing and keep the
    /// version they have (they count as current through it on the control plane).
    pub fn wait_applied(
        &self,
        region: impl Fn(usize) -> bool,
        version: u64,
        from_us: u64,
        limit: Duration,
    ) -> Result<Vec<f64>> {
        let until = Instant::now() + limit;
        let edges: Vec<&Arc<SimEdge>> = self
            .edges
            .iter()
            .filter(|e| region(e.id % self.regions))
            .collect();
        let behind = || {
            edges
                .iter()
                .filter(|e| e.version.load(Ordering::Acquire) < version)
                .count()
        };
        let what = format!("version {version}");
        let late = || {
            describe(edges.iter().copied(), |e| {
                e.version.load(Ordering::Acquire) < version
            })
        };
        if let Err(behind) = poll(&what, until, Duration::from_millis(1), behind, late) {
            let late = late();
            bail!("{behind} edges never reached version {version} in {limit:?}: {late}");
        }
        Ok(edges
            .iter()
            .map(|e| e.applied_us.load(Ordering::Acquire).saturating_sub(from_us) as f64 / 1e3)
            .collect())
    }

    /// Waits until every edge serves a policy with all its region's tenants (`expected`).
    pub fn wait_loaded(&self, expected: impl Fn(usize) -> usize, limit: Duration) -> Result<()> {
        let until = Instant::now() + limit;
        let short =
            |e: &SimEdge| e.tenants.load(Ordering::Acquire) != expected(e.id % self.regions);
        let late = || describe(self.edges.iter(), |e| short(e));
        poll(
            "their region's tenants",
            until,
            Duration::from_millis(5),
            || self.edges.iter().filter(|e| short(e)).count(),
            late,
        )
        .map_err(|behind| {
            let late = late();
            anyhow!("{behind} edges never got their region's tenants in {limit:?}: {late}")
        })
    }

    /// Waits until every edge has had a grants frame that changed nothing since now (the
    /// allocation settled after the connect: the last edges' first grants, sized before their
    /// region's other edges reported, are cut in the rounds after), until `limit`. Answers how
    /// many edges were still moving when it gave up.
    pub fn wait_grants_still(&self, limit: Duration) -> Result<(), usize> {
        for e in &self.edges {
            e.grants_still.store(false, Ordering::Release);
        }
        let moving = |e: &SimEdge| !e.grants_still.load(Ordering::Acquire);
        poll(
            "a grants frame that changed nothing",
            Instant::now() + limit,
            Duration::from_millis(50),
            || self.edges.iter().filter(|e| moving(e)).count(),
            || describe(self.edges.iter(), moving),
        )
    }

    /// Bytes of the change `(from, to)` as region `r`'s edges got it ((0, to): a snapshot).
    pub fn size(&self, r: usize, key: (u64, u64)) -> Option<usize> {
        self.books[r]
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied()
    }

    /// The median over regions of the change that brought each region to `to`.
    pub fn change_size(&self, to: u64) -> usize {
        let sizes = self.books.iter().filter_map(|b| {
            let s = b.sizes.lock().unwrap_or_else(|e| e.into_inner());
            s.iter().rev().find(|(k, _)| k.1 == to).map(|(_, v)| *v)
        });
        median_usize(sizes.collect())
    }
}

/// Waits until every edge of `edges` has a configuration, until `until`.
fn wait_configured(edges: &[Arc<SimEdge>], until: Instant) -> Result<()> {
    let unconfigured = |e: &SimEdge| !e.configured.load(Ordering::Acquire);
    let late = || describe(edges.iter(), unconfigured);
    let behind = || edges.iter().filter(|e| unconfigured(e)).count();
    poll(
        "a configuration",
        until,
        Duration::from_millis(5),
        behind,
        late,
    )
    .map_err(|behind| {
        let late = late();
        anyhow!(
            "{behind} of the first {} edges never got a configuration: {late}",
            edges.len()
        )
    })
}

/// The first few of `edges` that are `late`, described (for a wait that gave up).
pub fn describe<'a>(
    edges: impl Iterator<Item = &'a Arc<SimEdge>>,
    late: impl Fn(&SimEdge) -> bool,
) -> String {
    let late: Vec<String> = edges
        .filter(|e| late(e))
        .take(5)
        .map(|e| e.describe())
        .collect();
    late.join("; ")
}

/// Reads `behind` (how many edges are not there yet) every `every` until it is 0, or until
/// `until` passes: then the last count. Every [`PROGRESS`] it says on stderr how many are still
/// waiting for `what` and the simulator's memory (a run stopped from outside, e.g. by a memory
/// watchdog, then shows how far it got), and, once only a few are, where they are (`late`): a
/// tail of one or two edges is otherwise seen only in the time it adds.
pub fn poll(
    what: &str,
    until: Instant,
    every: Duration,
    mut behind: impl FnMut() -> usize,
    late: impl Fn() -> String,
) -> Result<(), usize> {
    let start = Instant::now();
    let mut said = start;
    loop {
        let n = behind();
        if n == 0 {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(n);
        }
        if said.elapsed() >= PROGRESS {
            said = Instant::now();
            let few = if n <= FEW {
                format!(": {}", late())
            } else {
                String::new()
            };
            eprintln!(
                "waiting: {n} edges without {what} after {:.0} s; simulator RSS {:.0} MiB{few}",
                start.elapsed().as_secs_f64(),
                mib(rss(std::process::id()))
            );
        }
        std::thread::sleep(every);
    }
}

/// How often a wait says how far it got.
const PROGRESS: Duration = Duration::from_secs(10);

/// At most this many edges still waiting: the progress line describes them.
const FEW: usize = 3;
