//! The sessions chart: a bounded in-memory time series per (region, tenant) of the session
//! reports this node already receives (the leader's usage), sampled every [`STEP`], and the
//! SVG polyline that draws it. Soft state: a restart (or a new leader) starts it again; the
//! other nodes' consoles show the leader's ([`super::usage`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::distribute::leases::RegionUsage;

/// How often usage is sampled.
pub const STEP: Duration = Duration::from_secs(10);
/// Samples kept per series (3 hours at [`STEP`]).
pub const KEEP: usize = 1080;
/// Series kept at most: memory stays bounded with any number of tenants.
pub const MAX_SERIES: usize = 20_000;

/// One sample: when (ms since the epoch), sessions open, the limit, refusals at the grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub at_ms: u64,
    pub sessions: u64,
    pub limit: u32,
    pub refused: u64,
}

/// Every series, by (region, tenant).
#[derive(Default)]
pub struct Series {
    by_key: BTreeMap<(Arc<str>, Arc<str>), VecDeque<Point>>,
}

impl Series {
    /// Adds one sample per usage row; series whose tenant no longer reports are dropped once
    /// their newest sample is older than the window.
    pub fn record(&mut self, at_ms: u64, usage: &[RegionUsage]) {
        for u in usage {
            let key = (u.region.clone(), u.tenant.clone());
            if !self.by_key.contains_key(&key) && self.by_key.len() >= MAX_SERIES {
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

    /// The series of `tenant`, per region.
    pub fn of_tenant(&self, tenant: &str) -> Vec<(String, Vec<Point>)> {
        self.by_key
            .iter()
            .filter(|((_, t), _)| **t == *tenant)
            .map(|((r, _), s)| (r.to_string(), s.iter().copied().collect()))
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

    #[test]
    fn bounded_per_series_and_per_tenant() {
        let mut s = Series::default();
        for i in 0..(KEEP as u64 + 5) {
            s.record(i * 10_000, &[usage("acme", i), usage("other", 1)]);
        }
        let acme = s.of_tenant("acme");
        assert_eq!(acme.len(), 1);
        assert_eq!(acme[0].1.len(), KEEP);
        assert_eq!(acme[0].1.last().map(|p| p.sessions), Some(KEEP as u64 + 4));
        assert!(s.of_tenant("nobody").is_empty());
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
