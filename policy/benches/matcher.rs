//! Matcher throughput and compile time: the real Microsoft 365 list plus 100,000 synthetic
//! destinations (60% exact hosts, 30% `*.suffix`, 10% patterns) spread over 1,000 rules, a tenth
//! of them restricted to port 443.
//!
//! `cargo bench -p breakout-policy --bench matcher -- --quick`

#[path = "../tests/support/m365.rs"]
mod m365;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use breakout_policy::{canonical_host, Action, Host, Matcher, NamedList, Rule, Tenant};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const RULES: usize = 1_000;
const PER_RULE: usize = 100;

/// Synthetic destination `k` of rule `r`, and a host it matches.
fn synthetic(r: usize, k: usize) -> (String, String) {
    let n = r * PER_RULE + k;
    let corp = n % 997;
    match k % 10 {
        0..=5 => {
            let h = format!("host{n}.app{r}.corp{corp}.com");
            (h.clone(), h)
        }
        6..=8 => (
            format!("*.zone{n}.corp{corp}.net"),
            format!("a.b.zone{n}.corp{corp}.net"),
        ),
        _ => (
            format!("api-*.region{n}.cloud{corp}.io"),
            format!("api-eu1.region{n}.cloud{corp}.io"),
        ),
    }
}

fn synthetic_rules() -> Vec<Rule> {
    (0..RULES)
        .map(|r| Rule {
            name: Some(format!("synthetic-{r}")),
            action: match r % 3 {
                0 => Action::Direct,
                1 => Action::Block,
                _ => Action::Upstream("corp".into()),
            },
            destinations: (0..PER_RULE)
                .map(|k| synthetic(r, k).0.parse().expect("synthetic destination"))
                .collect(),
            lists: Vec::new(),
            ports: if r % 10 == 0 { vec![443] } else { Vec::new() },
        })
        .collect()
}

/// The M365 tenant with the synthetic rules after its two list rules.
fn big_tenant() -> (Tenant, BTreeMap<String, NamedList>) {
    let (mut tenant, shared, _) = m365::tenant();
    tenant.rules.extend(synthetic_rules());
    (tenant, shared)
}

fn hosts(kind: &str) -> Vec<Host<'static>> {
    let step = 7919; // a prime, to spread picks over rules
    let names: Vec<String> = match kind {
        "exact" => (0..512)
            .map(|i| synthetic((i * step) % RULES, (i * 3) % 6).1)
            .collect(),
        "suffix" => (0..512)
            .map(|i| synthetic((i * step) % RULES, 6 + i % 3).1)
            .collect(),
        "pattern" => (0..512)
            .map(|i| synthetic((i * step) % RULES, 9).1)
            .collect(),
        "m365" => [
            "outlook.office365.com",
            "contoso.sharepoint.com",
            "contoso-my.sharepoint.com",
            "autodiscover.contoso.onmicrosoft.com",
            "cdn.odc.officeapps.live.com",
            "teams.microsoft.com",
            "x.teams.cloud.microsoft",
            "login.microsoftonline.com",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        "miss" => (0..512)
            .map(|i| match i % 2 {
                0 => format!("www.unlisted{i}.org"),
                _ => format!("deep.a.b.c.unlisted{i}.example.com"),
            })
            .collect(),
        "ipv4" => (0..512)
            .map(|i| match i % 2 {
                0 => format!("40.96.{}.{}", i % 256, i / 2 % 256),
                _ => format!("192.0.2.{}", i % 256),
            })
            .collect(),
        _ => unreachable!("unknown host kind {kind}"),
    };
    names
        .iter()
        .map(|h| canonical_host(h).expect("bench host").into_owned())
        .collect()
}

fn decide(c: &mut Criterion) {
    let (tenant, shared) = big_tenant();
    let m = Matcher::compile(&tenant, &shared).expect("compiles");
    eprintln!("compiled: {:?}", m.stats());

    let kinds = ["exact", "suffix", "pattern", "m365", "miss", "ipv4"];
    // The mix: every kind interleaved, so branch predictors see a realistic spread.
    let per_kind: Vec<_> = kinds.iter().map(|k| hosts(k)).collect();
    let mut mix = Vec::new();
    for i in 0..512 {
        for hs in &per_kind {
            mix.push(hs[i % hs.len()].clone());
        }
    }

    let mut group = c.benchmark_group("decide");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut run = |name: &str, hs: &[Host<'static>]| {
        group.throughput(Throughput::Elements(hs.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for h in hs {
                    black_box(m.decide(black_box(h), 443));
                }
            })
        });
    };
    run("mix", &mix);
    for (kind, hs) in kinds.iter().zip(&per_kind) {
        run(kind, hs);
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let (tenant, shared) = big_tenant();
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements((RULES * PER_RULE) as u64));
    group.bench_function("m365+100k", |b| {
        // The old matcher is dropped off the clock: on reload the edge drops it elsewhere.
        b.iter_with_large_drop(|| {
            Matcher::compile(black_box(&tenant), black_box(&shared)).expect("compiles")
        })
    });
    group.finish();
}

criterion_group!(benches, decide, compile);
criterion_main!(benches);
