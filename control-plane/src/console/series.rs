//! The sessions chart: a bounded in-memory time series per (region, tenant) of the session
//! reports this node already receives (the leader's usage), sampled every [`STEP`], and the
//! SVG polyline that draws it. Soft state: a restart (or a new leader) starts it again; the
//! other nodes' consoles show the leader's ([`super::usage`]).
//!
//! Every sample of a node covers every (region, tenant), so the instants are kept once
//! ([`Series::times`]) and a series keeps *runs*: consecutive samples with the same values are
//! one entry. A steady tenant costs one run whatever the window; at 100,000 tenants a point per
//! series and sample (32 bytes, 1,080 of them in a deque grown to 2,048) was over a gigabyte,
//! so the old cap left most tenants without a chart. Every series gets its first run (the
//! tenants are bounded by the store); past [`MAX_RUNS`] a series that changes gives up its own
//! oldest run, so its chart gets shorter instead of memory growing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::distribute::leases::RegionUsage;

/// How often usage is sampled.
pub const STEP: Duration = Duration::from_secs(10);
/// Samples kept (3 hours at [`STEP`]).
pub const KEEP: usize = 1080;
/// Runs kept over all series before a series that changes gives up its own oldest run (20
/// bytes each, ≈ 80 MB, and a series' deque grows by a quarter): 3,700 series that change at
/// every sample keep the whole window.
pub const MAX_RUNS: usize = 4_000_000;

/// One sample: when (ms since the epoch), sessions open, the limit, refusals at the grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub at_ms: u64,
    pub sessions: u64,
    pub limit: u32,
    pub refused: u64,
}

/// Samples `from..=to` (numbered from a node's first; at one per [`STEP`] a `u32` lasts 1,300
/// years) with the same values, each saturated at `u32::MAX`: 20 bytes.
#[derive(Clone, Copy, Debug)]
struct Run {
    from: u32,
    to: u32,
    sessions: u32,
    refused: u32,
    limit: u32,
}

fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Run {
    fn of(n: u32, u: &RegionUsage) -> Run {
        Run {
            from: n,
            to: n,
            sessions: narrow(u.sessions),
            refused: narrow(u.refused),
            limit: u.limit,
        }
    }

    fn same(&self, other: &Run) -> bool {
        (self.sessions, self.refused, self.limit) == (other.sessions, other.refused, other.limit)
    }
}

/// Every series, by tenant then region.
pub struct Series {
    /// The instants of the last [`KEEP`] samples, oldest first; the first is sample number
    /// `first`.
    times: VecDeque<u64>,
    first: u32,
    /// By (tenant, region): one map, not one per tenant (a tenant is in one region or a few).
    by_key: BTreeMap<(Arc<str>, Arc<str>), VecDeque<Run>>,
    /// Runs kept, and how many before a series gives up its oldest ([`MAX_RUNS`]).
    runs: usize,
    max_runs: usize,
}

impl Default for Series {
    fn default() -> Self {
        Series::with_budget(MAX_RUNS)
    }
}

impl Series {
    fn with_budget(max_runs: usize) -> Self {
        Series {
            times: VecDeque::new(),
            first: 0,
            by_key: BTreeMap::new(),
            runs: 0,
            max_runs,
        }
    }

    /// Adds one sample of every usage row; series with no sample left in the window are dropped.
    pub fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
        let n = self.first + self.times.len() as u32;
        self.times.push_back(at_ms);
        for u in usage {
            self.sample(n, u);
        }
        if self.times.len() > KEEP {
            self.times.pop_front();
            self.first += 1;
            let first = self.first;
            let mut dropped = 0;
            self.by_key.retain(|_, runs| {
                while runs.front().is_some_and(|r| r.to < first) {
                    runs.pop_front();
                    dropped += 1;
                }
                !runs.is_empty()
            });
            self.runs -= dropped;
        }
    }

    fn sample(&mut self, n: u32, u: &RegionUsage) {
        let run = Run::of(n, u);
        let runs = self
            .by_key
            .entry((u.tenant.clone(), u.region.clone()))
            .or_default();
        if let Some(last) = runs.back_mut().filter(|r| r.to + 1 == n && r.same(&run)) {
            last.to = n;
            return;
        }
        if self.runs >= self.max_runs && !runs.is_empty() {
            runs.pop_front();
            self.runs -= 1;
        } else if runs.len() == runs.capacity() {
            // A quarter more, not double: a busy series' slack stays small.
            runs.reserve_exact(runs.len() / 4 + 1);
        }
        runs.push_back(run);
        self.runs += 1;
    }

    /// The series of `tenant`, per region (in region order), a point per sample.
    pub fn of_tenant(&self, tenant: &str) -> Vec<(String, Vec<Point>)> {
        let from = (Arc::<str>::from(tenant), Arc::<str>::from(""));
        self.by_key
            .range(from..)
            .take_while(|((t, _), _)| **t == *tenant)
            .map(|((_, region), runs)| (region.to_string(), self.points(runs)))
            .collect()
    }

    fn points(&self, runs: &VecDeque<Run>) -> Vec<Point> {
        runs.iter()
            .flat_map(|r| {
                (r.from.max(self.first)..=r.to).filter_map(move |n| {
                    Some(Point {
                        at_ms: *self.times.get((n - self.first) as usize)?,
                        sessions: u64::from(r.sessions),
                        limit: r.limit,
                        refused: u64::from(r.refused),
                    })
                })
            })
            .collect()
    }
}

/// A chart's geometry: the polyline of sessions and the height of the limit line, in a
/// `width` × `height` box (y grows downwards); the scale's top is the limit or the peak.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub points: String,
    pub limit_y: f64,
    pub top: u64,
    pub last: u64,
    pub limit: u32,
    pub peak: u64,
    pub refused: u64,
    pub samples: usize,
}

/// Draws `points` (oldest first).
pub fn chart(points: &[Point], width: u32, height: u32) -> Chart {
    let last = points.last().copied();
    let limit = last.map_or(0, |p| p.limit);
    let peak = points.iter().map(|p| p.sessions).max().unwrap_or(0);
    let top = peak.max(u64::from(limit)).max(1);
    let y = |v: u64| f64::from(height) * (1.0 - v as f64 / top as f64);
    let n = points.len();
    let x = |i: usize| match n {
        0 | 1 => f64::from(width),
        _ => f64::from(width) * i as f64 / (n - 1) as f64,
    };
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&format!("{:.1},{:.1}", x(i), y(p.sessions)));
    }
    if n == 1 {
        line = format!("0,{0:.1} {1},{0:.1}", y(points[0].sessions), width);
    }
    Chart {
        width,
        height,
        points: line,
        limit_y: y(u64::from(limit)),
        top,
        last: last.map_or(0, |p| p.sessions),
        limit,
        peak,
        refused: last.map_or(0, |p| p.refused),
        samples: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(tenant: &str, sessions: u64) -> RegionUsage {
        RegionUsage {
            region: "tokyo".into(),
            tenant: tenant.into(),
            limit: 100,
            sessions,
            granted: 100,
            refused: 0,
            edges: 1,
        }
    }

    fn at(tenant: &str, region: &str, sessions: u64) -> RegionUsage {
        RegionUsage {
            region: region.into(),
            ..usage(tenant, sessions)
        }
    }

    /// A point per series and sample, the last [`KEEP`] samples: what [`Series`] stands for.
    #[derive(Default)]
    struct Model {
        times: VecDeque<u64>,
        points: BTreeMap<(String, String), Vec<Point>>,
    }

    impl Model {
        fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
            self.times.push_back(at_ms);
            if self.times.len() > KEEP {
                self.times.pop_front();
            }
            let oldest = self.times[0];
            for u in usage {
                let key = (u.tenant.to_string(), u.region.to_string());
                self.points.entry(key).or_default().push(Point {
                    at_ms,
                    sessions: u.sessions,
                    limit: u.limit,
                    refused: u.refused,
                });
            }
            for points in self.points.values_mut() {
                points.retain(|p| p.at_ms >= oldest);
            }
            self.points.retain(|_, p| !p.is_empty());
        }

        fn of_tenant(&self, tenant: &str) -> Vec<(String, Vec<Point>)> {
            let of = self.points.iter().filter(|((t, _), _)| t == tenant);
            of.map(|((_, r), p)| (r.clone(), p.clone())).collect()
        }
    }

    #[test]
    fn a_steady_series_is_one_run_and_every_point_of_the_window() {
        let mut s = Series::default();
        for i in 0..(KEEP as u64 + 5) {
            s.record(i * 10_000, &[usage("acme", i), usage("other", 1)]);
        }
        let acme = s.of_tenant("acme");
        assert_eq!(acme.len(), 1);
        assert_eq!(acme[0].1.len(), KEEP);
        assert_eq!(acme[0].1.last().map(|p| p.sessions), Some(KEEP as u64 + 4));
        let other = s.of_tenant("other");
        assert_eq!(other[0].1.len(), KEEP);
        assert_eq!(other[0].1[0].at_ms, 5 * 10_000);
        // acme changed at every sample: KEEP runs; other never did: one.
        assert_eq!(s.runs, KEEP + 1);
        assert!(s.of_tenant("nobody").is_empty());
    }

    /// Changes, gaps, regions coming and going, past the window: the same points as a point
    /// per sample.
    #[test]
    fn runs_give_the_points_a_sample_each_would() {
        let (mut s, mut m) = (Series::default(), Model::default());
        let mut x: u64 = 7;
        for i in 0..(KEEP as u64 * 2 + 30) {
            let mut rows = Vec::new();
            for (k, (tenant, region)) in [("a", "tokyo"), ("a", "osaka"), ("b", "tokyo")]
                .into_iter()
                .enumerate()
            {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let roll = (x >> 33) % 10;
                // Region osaka leaves for good after the first window.
                if roll == 0 || (k == 1 && i > KEEP as u64) {
                    continue;
                }
                rows.push(at(tenant, region, u64::from(roll < 4) * (x >> 60)));
            }
            s.record(1_000 + i * 10_000, &rows);
            m.record(1_000 + i * 10_000, &rows);
            for t in ["a", "b", "c"] {
                assert_eq!(s.of_tenant(t), m.of_tenant(t), "sample {i}, tenant {t}");
            }
        }
        assert_eq!(s.of_tenant("a").len(), 1, "osaka left the window");
        let kept: usize = s.by_key.values().map(VecDeque::len).sum();
        assert_eq!(s.runs, kept);
    }

    /// Past the budget a changing series drops its own oldest run; a new series still starts.
    #[test]
    fn past_the_budget_a_changing_series_gets_shorter() {
        let mut s = Series::with_budget(10);
        for i in 0..20 {
            s.record(i * 10_000, &[usage("busy", i), usage("steady", 1)]);
        }
        assert_eq!(s.runs, 10);
        let busy = &s.of_tenant("busy")[0].1;
        assert_eq!(busy.len(), 9);
        assert_eq!(busy.last().map(|p| p.sessions), Some(19));
        assert_eq!(s.of_tenant("steady")[0].1.len(), 20);
        s.record(20 * 10_000, &[usage("new", 1)]);
        assert_eq!(s.of_tenant("new")[0].1.len(), 1);
        assert_eq!(s.runs, 11);
    }

    #[test]
    fn the_chart_scales_to_the_limit_or_the_peak() {
        let p = |sessions| Point {
            at_ms: 0,
            sessions,
            limit: 100,
            refused: 0,
        };
        let c = chart(&[p(0), p(50), p(100)], 200, 100);
        assert_eq!(c.points, "0.0,100.0 100.0,50.0 200.0,0.0");
        assert_eq!(c.limit_y, 0.0);
        let c = chart(&[p(200)], 200, 100);
        assert_eq!((c.top, c.limit_y), (200, 50.0));
        assert_eq!(chart(&[], 200, 100).points, "");
    }
}
