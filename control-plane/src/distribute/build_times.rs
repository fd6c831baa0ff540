//! `breakout_control_region_build_seconds{plan}`: how long this node's builds of a region's
//! policy take, by how the build was made: `parts` (from the served cache: a write's usual
//! build, in proportion to what changed) or `whole` (from the state alone: a session that read
//! an older state than the cache's). A rule change reaches a region's edges no sooner than its
//! build, so this is the part of a write's latency an operator can see grow with the fleet
//! (docs/operations.md). Versions that left a region's content as it was are not builds and are
//! not counted.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, HistogramVec, Registry};

/// The histogram, one series per plan.
#[derive(Clone)]
pub struct BuildTimes {
    parts: Histogram,
    whole: Histogram,
}

/// How a build was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildPlan {
    Parts,
    Whole,
}

impl BuildTimes {
    /// The histogram registered in `registry` (the node's `/metrics`).
    pub fn register(registry: &Registry) -> Result<BuildTimes, prometheus::Error> {
        let family = HistogramVec::new(
            HistogramOpts::new(
                "breakout_control_region_build_seconds",
                "Builds of a region's policy on this node for a new store version, by plan: \
                 from the served cache (parts) or from the state whole",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
            &["plan"],
        )?;
        registry.register(Box::new(family.clone()))?;
        Ok(BuildTimes {
            parts: family.get_metric_with_label_values(&["parts"])?,
            whole: family.get_metric_with_label_values(&["whole"])?,
        })
    }

    /// Records one build.
    pub fn observe(&self, plan: BuildPlan, took: Duration) {
        let h = match plan {
            BuildPlan::Parts => &self.parts,
            BuildPlan::Whole => &self.whole,
        };
        h.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_plans_are_exported_and_observed_apart() {
        let registry = Registry::new();
        let times = BuildTimes::register(&registry).expect("register");
        times.observe(BuildPlan::Parts, Duration::from_millis(3));
        times.observe(BuildPlan::Parts, Duration::from_millis(30));
        times.observe(BuildPlan::Whole, Duration::from_millis(300));
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("text");
        for line in [
            "breakout_control_region_build_seconds_count{plan=\"parts\"} 2",
            "breakout_control_region_build_seconds_bucket{plan=\"parts\",le=\"0.005\"} 1",
            "breakout_control_region_build_seconds_count{plan=\"whole\"} 1",
            "breakout_control_region_build_seconds_bucket{plan=\"whole\",le=\"0.2\"} 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
