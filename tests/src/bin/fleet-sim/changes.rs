//! The measured changes: one tenant's rules at a time, then template changes that touch 90% of
//! tenants. Each is timed from its acknowledgement to the apply of every edge it concerns.
//!
//! The acknowledgement is that of the attempt that applied the write: a write tried again (after
//! a 503 or a lost answer) is timed from the answer to the attempt that applied it. When the
//! answer is a replay (the write was applied by an earlier attempt whose answer was lost, at a
//! moment unknown here), the change is awaited like the others but left out of the figures, and
//! counted as untimed, so that a late acknowledgement never shortens them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::api::{Api, Written};
use crate::fleet::Fleet;
use crate::populate::{self, Shape};
use crate::probe::{self, mib};
use crate::stats::{median_usize, percentile};

/// Sorted figures of one kind of change.
pub struct Changes {
    /// Per change: until the last concerned edge applied it (rules in ms, templates in s).
    pub all: Vec<f64>,
    /// The median change's encoded size, in bytes.
    pub update_bytes: usize,
    /// Changes acknowledged only by a replay, awaited but not in `all` (see the module's doc).
    pub untimed: usize,
}

/// `, N more untimed (…)` when some were.
fn untimed_note(untimed: usize) -> String {
    if untimed == 0 {
        return String::new();
    }
    format!("; {untimed} more untimed (acknowledged by a replay of an earlier attempt)")
}

/// `writes` one-tenant rule changes, one at a time, each awaited on every edge of the tenant's
/// region.
pub fn rules(
    fleet: &Fleet,
    api: &mut Api<'_>,
    shape: Shape,
    writes: usize,
    epoch: Instant,
    converge: Duration,
) -> Result<Changes> {
    let mut rule_ms = Vec::new();
    let mut rule_edge_ms = Vec::new();
    let mut rule_sizes = Vec::new();
    let mut untimed = 0;
    // (ms, region) of each timed write: which regions the slowest were in.
    let mut by_region = Vec::new();
    // Per timed write: when it was acknowledged and how long each node's edges took.
    let mut timeline = Vec::new();
    // Where in the phase each slow write fell: whether they line up with something periodic.
    let phase_us = epoch.elapsed().as_micros() as u64;
    for w in 0..writes {
        let i = (w * 7919 + 13) % shape.tenants;
        let region = populate::region_of(i, shape.regions);
        let before = fleet.edges[region].version.load(Ordering::Acquire);
        let body = serde_json::to_string(&populate::rules(i, w as u64 + 1))?;
        let path = format!("/v1/tenants/{}/rules", populate::tenant_id(i));
        let written = api.write("PUT", &path, &body)?;
        let v = written.version;
        let from_us = written.acked.duration_since(epoch).as_micros() as u64;
        let mut per_edge = fleet.wait_applied(|r| r == region, v, from_us, converge)?;
        if let Some(s) = fleet.size(region, (before, v)) {
            rule_sizes.push(s);
        }
        if written.replayed {
            untimed += 1;
            continue;
        }
        let all = per_edge.iter().copied().fold(0.0, f64::max);
        let place = (w + 1, from_us.saturating_sub(phase_us) as f64 / 1e6);
        timeline.push(Slow::of(fleet, region, &written, from_us, all, place));
        per_edge.sort_by(f64::total_cmp);
        rule_ms.push(all);
        by_region.push((all, region));
        rule_edge_ms.extend(per_edge);
    }
    rule_ms.sort_by(f64::total_cmp);
    rule_edge_ms.sort_by(f64::total_cmp);
    let rule_update = median_usize(rule_sizes);
    println!(
        "rule change ({} writes, one tenant each; ack → every edge of its region applied): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; per edge p50 {:.1} p99 {:.1} ms; update {} bytes{}",
        rule_ms.len(),
        percentile(&rule_ms, 0.5),
        percentile(&rule_ms, 0.99),
        percentile(&rule_ms, 1.0),
        percentile(&rule_edge_ms, 0.5),
        percentile(&rule_edge_ms, 0.99),
        rule_update,
        untimed_note(untimed)
    );
    by_region.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = by_region
        .iter()
        .take(3)
        .map(|(ms, r)| {
            let lists = populate::region_blocklists(*r, shape);
            format!("{ms:.0} ms in region {r} ({lists} tenants with a blocklist)")
        })
        .collect();
    println!("rule change, slowest: {}", slowest.join(", "));
    let phase_s = (epoch.elapsed().as_micros() as u64).saturating_sub(phase_us) as f64 / 1e6;
    println!("rule change, phase: {writes} writes in {phase_s:.1} s");
    let p50 = percentile(&rule_ms, 0.5);
    for slow in timeline.iter().filter(|s| s.ms > (2.0 * p50).max(100.0)) {
        println!("rule change, slow write: {slow}");
    }
    Ok(Changes {
        all: rule_ms,
        update_bytes: rule_update,
        untimed,
    })
}

/// `writes` template changes touching 90% of tenants: live version 1 → 0 → 1 … They change
/// every region with a subscriber (all of them, unless a region is tiny). The leader's (pid
/// `leader_pid`) peak memory is sampled for a second after each.
pub fn templates(
    fleet: &Fleet,
    api: &mut Api<'_>,
    shape: Shape,
    writes: usize,
    epoch: Instant,
    converge: Duration,
    leader_pid: u32,
) -> Result<Changes> {
    let touched = |r: usize| populate::region_subscribes(r, shape);
    let touched_edges = fleet
        .edges
        .iter()
        .filter(|e| touched(e.id % shape.regions))
        .count();
    let mut tpl_s = Vec::new();
    let mut tpl_edge_ms = Vec::new();
    let mut tpl_sizes = Vec::new();
    let mut tpl_peak = 0u64;
    let mut untimed = 0;
    for w in 0..writes {
        let to = if w % 2 == 0 { 0 } else { 1 };
        let body = json!({ "to": to }).to_string();
        let written = api.write("POST", "/v1/templates/microsoft365/rollback", &body)?;
        let v = written.version;
        let from_us = written.acked.duration_since(epoch).as_micros() as u64;
        let sampler =
            std::thread::spawn(move || probe::measure(leader_pid, Duration::from_secs(1)));
        let mut per_edge = fleet.wait_applied(touched, v, from_us, converge)?;
        tpl_peak = tpl_peak.max(sampler.join().map_or(0, |(_, p)| p));
        tpl_sizes.push(fleet.change_size(v));
        if written.replayed {
            untimed += 1;
            continue;
        }
        per_edge.sort_by(f64::total_cmp);
        tpl_s.push(per_edge.last().copied().unwrap_or(0.0) / 1e3);
        tpl_edge_ms.extend(per_edge);
    }
    tpl_s.sort_by(f64::total_cmp);
    tpl_edge_ms.sort_by(f64::total_cmp);
    let tpl_update = median_usize(tpl_sizes);
    println!(
        "template change ({} writes, 90% of tenants; ack → all {touched_edges} edges of the \
         regions it changes applied): \
         median {:.2} s, max {:.2} s; per edge p50 {:.0} ms p99 {:.0} ms; change {:.2} MiB \
         per region (median); leader peak RSS {:.0} MiB{}",
        tpl_s.len(),
        percentile(&tpl_s, 0.5),
        percentile(&tpl_s, 1.0),
        percentile(&tpl_edge_ms, 0.5),
        percentile(&tpl_edge_ms, 0.99),
        mib(tpl_update as u64),
        mib(tpl_peak),
        untimed_note(untimed)
    );
    Ok(Changes {
        all: tpl_s,
        update_bytes: tpl_update,
        untimed,
    })
}

/// When a write was acknowledged and how long the edges of its region took, per node: whether
/// a slow write was slow everywhere (the commit or the leader) or behind one node, and at what
/// moment (to line up with a profile taken with `perf record -k CLOCK_REALTIME`).
struct Slow {
    ms: f64,
    /// Which write of the phase (from 1), and its acknowledgement's time after the phase began.
    place: (usize, f64),
    after_s: f64,
    unix_ms: u128,
    by_node: Vec<(String, f64)>,
}

impl Slow {
    fn of(
        fleet: &Fleet,
        region: usize,
        written: &Written,
        from_us: u64,
        ms: f64,
        place: (usize, f64),
    ) -> Slow {
        let ago = written.acked.elapsed();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(ago);
        let mut by_node: BTreeMap<String, f64> = BTreeMap::new();
        for e in fleet
            .edges
            .iter()
            .filter(|e| e.id % fleet.regions == region)
        {
            let took = e.applied_us.load(Ordering::Acquire).saturating_sub(from_us) as f64 / 1e3;
            let node = e.node().unwrap_or_else(|| "none".into());
            let slowest = by_node.entry(node).or_default();
            *slowest = slowest.max(took);
        }
        Slow {
            ms,
            place,
            after_s: from_us as f64 / 1e6,
            unix_ms: unix.as_millis(),
            by_node: by_node.into_iter().collect(),
        }
    }
}

impl std::fmt::Display for Slow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes: Vec<String> = self
            .by_node
            .iter()
            .map(|(node, ms)| format!("{node} {ms:.0} ms"))
            .collect();
        write!(
            f,
            "{:.0} ms, write {} acknowledged {:.3} s into the phase, {:.3} s into the run (unix {} ms); \
             slowest edge by node: {}",
            self.ms,
            self.place.0,
            self.place.1,
            self.after_s,
            self.unix_ms,
            nodes.join(", ")
        )
    }
}
