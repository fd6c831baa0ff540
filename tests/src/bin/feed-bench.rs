//! What one control-plane node spends building the regions' content for a new version, in one
//! process and without the network: the fleet simulator's state (`fleet-sim/populate.rs`),
//! then the builds a one-tenant rule change and a template change touching 90% of tenants
//! cause (`RegionFeeds::get` and the update frame from the version before), timed apart from
//! everything else the fleet benchmark measures. Sized by `TENANTS` (100000), `REGIONS` (20),
//! `RULE_WRITES` (10), `TEMPLATE_WRITES` (2); `RULE_REGION` puts every rule change in one region. Ends with
//! `feed-bench: tenants=M rule_build_ms=X template_build_s=Y` (medians).

// The simulator's own state builder; what it has for the simulator alone goes unused here.
#[allow(dead_code)]
#[path = "fleet-sim/populate.rs"]
mod populate;
#[allow(dead_code)]
#[path = "fleet-sim/stats.rs"]
mod stats;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use breakout_control::contracts::TemplateItem;
use breakout_control::distribute::feed::{Built, RegionFeeds};
use breakout_control::state::{
    apply, Command, Outcome, Request, RollbackTemplate, State, TenantPatch, UpdateTenant,
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write(state: &mut State, command: Command) -> Result<()> {
    let req = Request {
        actor: "feed-bench".into(),
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        command,
    };
    let index = state.version + 1;
    match apply(state, index, &req) {
        Outcome::Done { .. } => Ok(()),
        other => bail!("a write: {other:?}"),
    }
}

/// Builds `regions` at the state's version, each with its update from what was built before;
/// the milliseconds it took and the update bytes per region.
fn build(
    feeds: &RegionFeeds,
    state: &State,
    regions: &[String],
    before: &[Arc<Built>],
) -> (f64, Vec<usize>) {
    let t = Instant::now();
    let sizes = regions
        .iter()
        .zip(before)
        .map(|(r, prev)| {
            let built = feeds.get(state, r);
            built.update_frame(prev).map_or(usize::MAX, |b| b.len())
        })
        .collect();
    (t.elapsed().as_secs_f64() * 1e3, sizes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    stats::percentile(&v, 0.5)
}

fn main() -> Result<()> {
    let shape = populate::Shape {
        tenants: env("TENANTS", 100_000),
        regions: env("REGIONS", 20),
    };
    let t = Instant::now();
    let mut state = populate::build(shape)?;
    println!(
        "populate: {} tenants in {} regions in {:.1} s",
        shape.tenants,
        shape.regions,
        t.elapsed().as_secs_f64()
    );
    let regions: Vec<String> = (0..shape.regions).map(populate::region_name).collect();
    let feeds = RegionFeeds::default();
    let t = Instant::now();
    let mut current: Vec<Arc<Built>> = regions.iter().map(|r| feeds.get(&state, r)).collect();
    println!(
        "first build of every region: {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let mut rule_ms = Vec::new();
    // `RULE_REGION`: every rule change in that region (region 10 holds half of the tenants
    // with 1,000-entry blocklists: the slowest writes of the fleet benchmark).
    let rule_region: Option<usize> = std::env::var("RULE_REGION")
        .ok()
        .and_then(|v| v.parse().ok());
    for w in 0..env("RULE_WRITES", 10) {
        let i = match rule_region {
            Some(r) => (r + shape.regions * (w * 7919 + 13)) % shape.tenants,
            None => (w * 7919 + 13) % shape.tenants,
        };
        let r = populate::region_of(i, shape.regions);
        let patch = TenantPatch {
            rules: Some(populate::rules(i, w as u64 + 1)),
            ..TenantPatch::default()
        };
        write(
            &mut state,
            Command::UpdateTenant(UpdateTenant {
                id: populate::tenant_id(i),
                if_match: None,
                patch,
            }),
        )?;
        let (ms, sizes) = build(&feeds, &state, &regions[r..=r], &current[r..=r]);
        println!(
            "rule change {w}: region {r} built in {ms:.1} ms, update {} bytes",
            sizes[0]
        );
        rule_ms.push(ms);
        current = regions.iter().map(|r| feeds.get(&state, r)).collect();
    }

    let mut template_ms = Vec::new();
    for w in 0..env("TEMPLATE_WRITES", 2) {
        let to = if w % 2 == 0 { 0 } else { 1 };
        write(
            &mut state,
            Command::RollbackTemplate(RollbackTemplate {
                item: TemplateItem::Microsoft365,
                to,
            }),
        )?;
        let (ms, sizes) = build(&feeds, &state, &regions, &current);
        let mut sizes = sizes;
        sizes.sort_unstable();
        println!(
            "template change {w}: {} regions built in {ms:.0} ms, median update {} bytes",
            regions.len(),
            sizes[sizes.len() / 2]
        );
        template_ms.push(ms);
        current = regions.iter().map(|r| feeds.get(&state, r)).collect();
    }
    println!(
        "feed-bench: tenants={} rule_build_ms={:.1} template_build_s={:.2}",
        shape.tenants,
        median(rule_ms),
        median(template_ms) / 1e3
    );
    Ok(())
}
