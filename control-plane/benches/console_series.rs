//! The console's sessions chart at fleet size: what every control-plane node keeps for it once
//! the window is full, with `TENANTS` tenants over `REGIONS` regions, `CHANGING` percent of
//! them with new values at every sample (the rest steady).
//!
//! `cargo bench -p breakout-control --bench console_series` records a whole window
//! (`series::KEEP` samples, one every `series::STEP`) into the anchor (a point per series and
//! sample, at most 20,000 series: how the console kept them before) and into
//! `console::series::Series`, for 0 %, 10 % and 100 % changing, and prints for each the heap
//! bytes kept (a counting allocator), the tenants with a chart, and the median milliseconds per
//! sample. The bench checks that both give the same points for the tenants both keep.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use breakout_control::console::series::{Point, Series, KEEP, STEP};
use breakout_control::distribute::leases::RegionUsage;

mod common;

use common::{env, median};

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The anchor: the console's series before runs (a point per series and sample, the first
/// 20,000 series only).
#[derive(Default)]
struct PointPerSample {
    by_key: BTreeMap<(Arc<str>, Arc<str>), VecDeque<Point>>,
}

impl PointPerSample {
    const MAX_SERIES: usize = 20_000;

    fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
        for u in usage {
            let key = (u.region.clone(), u.tenant.clone());
            if !self.by_key.contains_key(&key) && self.by_key.len() >= Self::MAX_SERIES {
                continue;
            }
            let s = self.by_key.entry(key).or_default();
            if s.len() >= KEEP {
                s.pop_front();
            }
            s.push_back(Point {
                at_ms,
                sessions: u.sessions,
                limit: u.limit,
                refused: u.refused,
            });
        }
        let window = STEP.as_millis() as u64 * KEEP as u64;
        self.by_key
            .retain(|_, s| s.back().is_some_and(|p| p.at_ms + window > at_ms));
    }

    fn of_tenant(&self, tenant: &str) -> Vec<(String, Vec<Point>)> {
        let of = self.by_key.iter().filter(|((_, t), _)| **t == *tenant);
        of.map(|((r, _), s)| (r.to_string(), s.iter().copied().collect()))
            .collect()
    }
}

trait Chart {
    fn record(&mut self, at_ms: u64, usage: &[RegionUsage]);
}

impl Chart for PointPerSample {
    fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
        PointPerSample::record(self, at_ms, usage)
    }
}

impl Chart for Series {
    fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
        Series::record(self, at_ms, usage)
    }
}

/// The leader's usage table at sample `i`: tenant `k` in region `k % regions`; the first
/// `changing` tenants in a hundred have new sessions at every sample.
fn usage_at(table: &mut [RegionUsage], i: u64, changing: usize) {
    for (k, u) in table.iter_mut().enumerate() {
        if k % 100 < changing {
            u.sessions = (i * 7 + k as u64) % 50;
        }
    }
}

/// Records a whole window into `chart`; (heap bytes kept, ms per sample).
fn fill(chart: &mut dyn Chart, table: &mut [RegionUsage], changing: usize) -> (isize, f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut times = Vec::new();
    for i in 0..KEEP as u64 + 10 {
        usage_at(table, i, changing);
        let t = Instant::now();
        chart.record(1_000_000 + i * STEP.as_millis() as u64, table);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (LIVE.load(Ordering::Relaxed) - before, median(times))
}

fn main() {
    let tenants = env("TENANTS", 100_000);
    let regions = env("REGIONS", 20);
    let region_names: Vec<Arc<str>> = (0..regions)
        .map(|r| format!("region-{r:02}").into())
        .collect();
    let mut table: Vec<RegionUsage> = (0..tenants)
        .map(|k| RegionUsage {
            region: region_names[k % regions].clone(),
            tenant: format!("tenant-{k:06}").into(),
            limit: 1_000,
            sessions: 5,
            granted: 1_000,
            refused: 0,
            edges: 50,
        })
        .collect();
    table.sort_by(|a, b| (&a.region, &a.tenant).cmp(&(&b.region, &b.tenant)));
    println!(
        "{tenants} tenants over {regions} regions, {} samples a window",
        KEEP
    );
    for changing in [0, 10, 100] {
        let mut anchor = PointPerSample::default();
        let (anchor_bytes, anchor_ms) = fill(&mut anchor, &mut table, changing);
        let mut series = Series::default();
        let (bytes, ms) = fill(&mut series, &mut table, changing);
        // Each tenant is in one region: a series is a tenant charted.
        let anchor_charted = anchor.by_key.len();
        let charted_now = table
            .iter()
            .filter(|u| !series.of_tenant(&u.tenant).is_empty())
            .count();
        // Wherever the anchor keeps a tenant, the runs give its newest points (all of them
        // within the budget); `window` is how many a changing tenant keeps.
        let mut window = Vec::new();
        for (k, u) in table.iter().enumerate().step_by(97) {
            let (before, now) = (anchor.of_tenant(&u.tenant), series.of_tenant(&u.tenant));
            if before.is_empty() {
                continue;
            }
            let (before, now) = (&before[0].1, &now[0].1);
            assert!(before.ends_with(now), "tenant {}", u.tenant);
            if k % 100 < changing {
                window.push(now.len() as f64);
            } else {
                assert_eq!(now, before, "tenant {}", u.tenant);
            }
        }
        let window = if window.is_empty() {
            KEEP as f64
        } else {
            median(window)
        };
        println!(
            "changing {changing:>3} %: point per sample {:>7.1} MiB, {anchor_charted:>6} tenants charted, \
             {anchor_ms:.1} ms a sample | runs {:>6.1} MiB ({:.3}x), {charted_now:>6} charted \
             (a changing one keeps {window:.0} samples), {ms:.1} ms a sample ({:.2}x)",
            anchor_bytes as f64 / 1048576.0,
            bytes as f64 / 1048576.0,
            bytes as f64 / anchor_bytes as f64,
            ms / anchor_ms,
        );
    }
}
