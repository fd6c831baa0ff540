//! PAC generation time for the Microsoft 365 + Google tenant of the PAC tests, and the input of
//! the pacparser benchmark (`deploy/bench/pac.sh`).
//!
//! `cargo bench -p breakout-policy --bench pac -- --quick` measures `pac::render`.
//! `BREAKOUT_PAC_WRITE=DIR cargo bench -p breakout-policy --bench pac` instead writes, and exits:
//! - `DIR/ours.pac`: the tenant's generated PAC;
//! - `DIR/requests.tsv`: the requests of `policy/tests/pac_pacparser.rs` (`URL<TAB>HOST`);
//! - `DIR/targets.json`: the same destinations grouped by PAC result, in the order a
//!   Get-PacFile-style script tests them, for `tests/pac/bench.py` to build the OR-chain PAC.

#[path = "../tests/pac_support/mod.rs"]
mod pac_support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use breakout_policy::pac::{render, PacSettings, DIRECT};
use breakout_policy::{Destination, NamedList, Tenant};
use criterion::{criterion_group, Criterion};
use serde_json::json;

fn bench_render(c: &mut Criterion) {
    let (tenant, shared) = pac_support::tenant();
    let settings = pac_support::settings();
    c.bench_function("pac::render M365 + Google", |b| {
        b.iter(|| render(black_box(&tenant), &shared, &settings).expect("renders"))
    });
}

criterion_group!(benches, bench_render);

fn main() {
    if let Some(dir) = std::env::var_os("BREAKOUT_PAC_WRITE") {
        write_inputs(Path::new(&dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

fn write_inputs(dir: &Path) {
    let (tenant, shared) = pac_support::tenant();
    let settings = pac_support::settings();
    let pac = render(&tenant, &shared, &settings).expect("renders");
    let reqs = pac_support::requests(&tenant, &shared, &settings);
    let lines: String = reqs
        .iter()
        .map(|r| format!("{}\t{}\n", r.url, r.host))
        .collect();
    let targets = targets(&tenant, &shared, &settings);
    std::fs::create_dir_all(dir).expect("create the output directory");
    std::fs::write(dir.join("ours.pac"), &pac.text).expect("write ours.pac");
    std::fs::write(dir.join("requests.tsv"), lines).expect("write requests.tsv");
    let text = serde_json::to_string_pretty(&targets).expect("JSON");
    std::fs::write(dir.join("targets.json"), text).expect("write targets.json");
    println!(
        "wrote {} ({} bytes, {:?}), {} requests and targets.json",
        dir.join("ours.pac").display(),
        pac.stats.bytes,
        pac.stats,
        reqs.len()
    );
}

/// The tenant's destinations grouped by PAC result, as Microsoft's Get-PacFile groups its list:
/// `DIRECT` exceptions first, then the other non-edge targets (the tenant's proxy), then the
/// edge; what matches nothing gets `default`. Ports and precedence are lost in this shape.
fn targets(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
    settings: &PacSettings,
) -> serde_json::Value {
    let edge = settings.edge_result();
    let mut groups: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let mut add = |result: String, d: &Destination| {
        let i = match groups.iter().position(|g| g.0 == result) {
            Some(i) => i,
            None => {
                groups.push((result, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        match d {
            Destination::Cidr(net) => groups[i].2.push(net.to_string()),
            other => groups[i].1.push(other.to_string()),
        }
    };
    for d in &settings.direct_exceptions {
        add(DIRECT.to_string(), d);
    }
    for rule in &tenant.rules {
        let result = settings.result_for(&rule.action);
        let lists = rule
            .lists
            .iter()
            .filter_map(|n| tenant.lists.get(n).or_else(|| shared.get(n)));
        for d in rule
            .destinations
            .iter()
            .chain(lists.flat_map(|l| l.entries.iter()))
        {
            add(result.clone(), d);
        }
    }
    // Stable: DIRECT, then other targets in first-use order, the edge last.
    groups.sort_by_key(|g| match g.0.as_str() {
        DIRECT => 0,
        r if r == edge => 2,
        _ => 1,
    });
    json!({
        "default": settings.result_for(&tenant.default_action),
        "targets": groups
            .into_iter()
            .map(|(result, hosts, networks)| json!({
                "result": result,
                "hosts": hosts,
                "networks": networks,
            }))
            .collect::<Vec<_>>(),
    })
}
