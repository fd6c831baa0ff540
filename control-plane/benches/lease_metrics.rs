//! The leader's per (region, tenant) lease gauges at scrape time: what one `/metrics` page
//! costs it with `TENANTS` tenants over `REGIONS` regions (three gauges each).
//!
//! `cargo bench -p breakout-control --bench lease_metrics` times, `RUNS` times each and
//! alternating, the anchor (the gauges as registered `IntGaugeVec`s, as the leader had them
//! before: `Registry::gather` and `TextEncoder`) and `leases::encode_usage` over the same
//! table, and prints the median milliseconds per page of each, their ratio and the page's size.
//! Both write the same samples; the bench checks that the pages hold the same lines.

use std::sync::Arc;
use std::time::Instant;

use breakout_control::distribute::leases::{encode_usage, RegionUsage};
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

mod common;

use common::{env, median};

/// The gauges as registered vectors, set from `usage` (what each round did).
fn registered(usage: &[RegionUsage]) -> Registry {
    let registry = Registry::new();
    let gauges = [
        ("breakout_control_region_sessions", "sessions"),
        ("breakout_control_region_limit", "limit"),
        ("breakout_control_region_granted", "granted"),
    ]
    .map(|(name, help)| {
        let g = IntGaugeVec::new(Opts::new(name, help), &["region", "tenant"]).expect("gauge");
        registry.register(Box::new(g.clone())).expect("register");
        g
    });
    for u in usage {
        let labels = [&*u.region, &*u.tenant];
        let values = [u.sessions as i64, i64::from(u.limit), u.granted as i64];
        for (g, v) in gauges.iter().zip(values) {
            g.with_label_values(&labels).set(v);
        }
    }
    registry
}

/// A page's sample lines, sorted (the two encoders order them differently).
fn samples(page: &[u8]) -> Vec<&str> {
    let mut lines: Vec<&str> = std::str::from_utf8(page)
        .expect("utf-8")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    lines.sort_unstable();
    lines
}

fn main() {
    let (tenants, regions, runs) = (env("TENANTS", 100_000), env("REGIONS", 20), env("RUNS", 5));
    let region_ids: Vec<Arc<str>> = (0..regions)
        .map(|r| Arc::from(format!("region-{r:02}")))
        .collect();
    let usage: Vec<RegionUsage> = (0..tenants)
        .map(|t| RegionUsage {
            region: Arc::clone(&region_ids[t % regions]),
            tenant: Arc::from(format!("tenant-{t:06}")),
            limit: 1_000,
            sessions: (t % 10) as u64,
            granted: (t % 100) as u64,
            ..RegionUsage::default()
        })
        .collect();
    let registry = registered(&usage);
    let (mut anchor, mut table) = (Vec::new(), Vec::new());
    let (mut anchor_page, mut table_page) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        anchor_page.clear();
        TextEncoder::new()
            .encode(&registry.gather(), &mut anchor_page)
            .expect("encode");
        anchor.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        table_page.clear();
        encode_usage(&usage, &mut table_page);
        table.push(started.elapsed().as_secs_f64() * 1e3);
    }
    assert_eq!(
        samples(&anchor_page),
        samples(&table_page),
        "the same samples"
    );
    let (anchor, table) = (median(anchor), median(table));
    println!(
        "lease_metrics: tenants={tenants} regions={regions} runs={runs} page_bytes={} \
         registered_ms={anchor:.1} table_ms={table:.1} ratio={:.3}",
        table_page.len(),
        table / anchor
    );
}
