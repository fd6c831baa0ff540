//! Matcher throughput and compile time (issue #8: ≥ 5 M lookups/s on one core, 100,000 rules
//! compiled in < 200 ms).
//!
//! The tenant is the one of the PAC tests — the real Microsoft 365 worldwide list, Google's own
//! services (goog.json minus cloud.json, plus the Workspace host names), a block list, patterns
//! and port-restricted rules — followed by 100,000 synthetic rules of one destination each:
//! 55% exact hosts, 25% `*.suffix`, 5% mid-label globs, 15% CIDRs (/24, /28, /32); a tenth of them
//! restricted to port 443 and a fiftieth to 80 and 8080.
//!
//! Queries (`decide/mix`, interleaved so branch predictors see a realistic spread): 30% vendor
//! hosts derived from the lists' own entries, 15% synthetic exact hits, 12% synthetic
//! `*.suffix` hits two to six labels deep, 5% glob hits, 22% misses (half of them deep), 15% IPv4
//! literals (vendor, synthetic and unlisted), 1% IPv6; one query in ten on port 80 (which the
//! 443-only rules refuse, so it falls through). `decide/<kind>` runs each kind alone,
//! `canon+decide/mix` adds the request-host canonicalisation the edge does first.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall-clock time:
//! on a machine shared with other work, time spent preempted does not count against the matcher,
//! which is what "lookups per second on one core" means.
//!
//! `cargo bench -p breakout-policy --bench matcher`

#[path = "../tests/pac_support/mod.rs"]
mod pac_support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use breakout_policy::{
    canonical_host, Action, Destination, Host, Matcher, NamedList, Rule, Tenant,
};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Criterion measurement: CPU time of the benchmark thread.
struct ThreadCpu;

/// Formats durations like criterion's own wall-clock measurement.
static WALL: WallTime = WallTime;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

type Cpu = Criterion<ThreadCpu>;

/// Synthetic rules, one destination each.
const RULES: usize = 100_000;
/// Queries per kind (before weighting into the mix).
const PER_KIND: usize = 1_000;

/// The shape of synthetic rule `n`.
enum Shape {
    Exact,
    Suffix,
    Glob,
    Cidr,
}

fn shape(n: usize) -> Shape {
    match n % 20 {
        0..=10 => Shape::Exact,
        11..=15 => Shape::Suffix,
        16 => Shape::Glob,
        _ => Shape::Cidr,
    }
}

/// Synthetic rule `n`'s destination, and a host (at the given depth, for suffixes) it matches.
fn synthetic(n: usize, depth: usize) -> (String, String) {
    let corp = n % 997;
    let m = n / 20;
    match shape(n) {
        Shape::Exact => {
            let h = format!("host{n}.app{}.corp{corp}.com", n % 1000);
            (h.clone(), h)
        }
        Shape::Suffix => {
            let front: Vec<String> = (0..depth.max(1)).map(|d| format!("l{d}")).collect();
            let parent = format!("zone{n}.corp{corp}.net");
            (
                format!("*.{parent}"),
                format!("{}.{parent}", front.join(".")),
            )
        }
        Shape::Glob if n % 40 < 20 => (
            format!("api-*.region{n}.cloud{corp}.io"),
            format!("api-eu1.region{n}.cloud{corp}.io"),
        ),
        Shape::Glob => (
            format!("autodiscover.*.tenant{n}.example.net"),
            format!("autodiscover.contoso.tenant{n}.example.net"),
        ),
        Shape::Cidr => match n % 3 {
            0 => (
                format!("10.{}.{}.0/24", m / 256 % 256, m % 256),
                format!("10.{}.{}.77", m / 256 % 256, m % 256),
            ),
            1 => (
                format!(
                    "172.{}.{}.{}/28",
                    16 + m / 4096 % 16,
                    m / 16 % 256,
                    m % 16 * 16
                ),
                format!(
                    "172.{}.{}.{}",
                    16 + m / 4096 % 16,
                    m / 16 % 256,
                    m % 16 * 16 + 5
                ),
            ),
            _ => {
                let h = format!("100.{}.{}.{}", 64 + m / 65536 % 64, m / 256 % 256, m % 256);
                (format!("{h}/32"), h)
            }
        },
    }
}

fn synthetic_rules() -> Vec<Rule> {
    (0..RULES)
        .map(|n| Rule {
            name: (n % 2 == 0).then(|| format!("synthetic-{n}")),
            action: match n % 3 {
                0 => Action::Direct,
                1 => Action::Block,
                _ => Action::Upstream("corp".into()),
            },
            destinations: vec![synthetic(n, 1).0.parse().expect("synthetic destination")],
            lists: Vec::new(),
            ports: match (n % 10, n % 50) {
                (3, _) => vec![443],
                (_, 7) => vec![80, 8080],
                _ => Vec::new(),
            },
        })
        .collect()
}

/// The PAC tests' M365 + Google tenant with the synthetic rules after its own.
fn big_tenant() -> (Tenant, BTreeMap<String, NamedList>) {
    let (mut tenant, shared) = pac_support::tenant();
    tenant.rules.extend(synthetic_rules());
    (tenant, shared)
}

/// Hosts a browser would ask for, derived from the vendor lists' own entries (every exact host,
/// a subdomain of every `*.suffix`, every pattern with its `*` filled in, the second address of
/// every network) plus Google Workspace host names.
fn vendor_hosts(shared: &BTreeMap<String, NamedList>) -> (Vec<String>, Vec<String>) {
    let (mut names, mut ips) = (Vec::new(), Vec::new());
    for list in shared.values() {
        for d in list.entries.iter() {
            match d {
                Destination::Exact(h) => names.push(h.clone()),
                Destination::Suffix(p) => names.push(format!("www.{p}")),
                Destination::Pattern(p) => names.push(p.replace('*', "contoso")),
                Destination::Cidr(net) => {
                    let a = u32::from(net.network()).wrapping_add(1);
                    ips.push(std::net::Ipv4Addr::from(a).to_string())
                }
            }
        }
    }
    names.extend(
        [
            "mail.google.com",
            "docs.google.com",
            "www.googleapis.com",
            "fonts.gstatic.com",
            "lh3.googleusercontent.com",
            "rr3---sn-4g5e6nsz.googlevideo.com",
        ]
        .map(String::from),
    );
    (names, ips)
}

/// `count` picks spread over `0..len` (a prime stride visits every residue).
fn spread(count: usize, len: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| (i * 7919) % len.max(1))
}

/// Synthetic rules of one shape, `count` of them, spread over the whole range.
fn of_shape(count: usize, want: fn(&Shape) -> bool) -> Vec<usize> {
    spread(count * 20, RULES)
        .filter(|&n| want(&shape(n)))
        .take(count)
        .collect()
}

/// The query kinds, each a list of raw host strings.
fn kinds(shared: &BTreeMap<String, NamedList>) -> Vec<(&'static str, usize, Vec<String>)> {
    let (vendor_names, vendor_ips) = vendor_hosts(shared);
    let pick =
        |v: &[String]| -> Vec<String> { spread(PER_KIND, v.len()).map(|i| v[i].clone()).collect() };
    let exact = of_shape(PER_KIND, |s| matches!(s, Shape::Exact));
    let suffix = of_shape(PER_KIND, |s| matches!(s, Shape::Suffix));
    let glob = of_shape(PER_KIND, |s| matches!(s, Shape::Glob));
    let cidr = of_shape(PER_KIND, |s| matches!(s, Shape::Cidr));
    let misses = (0..PER_KIND)
        .map(|i| match i % 4 {
            0 => format!("www.unlisted{i}.org"),
            1 => format!("deep.a.b.c.unlisted{i}.example.com"),
            2 => format!("cdn{i}.static.news-site{i}.co.uk"),
            _ => format!("host{i}x.app{i}.corp{i}.com"),
        })
        .collect();
    let ipv4 = (0..PER_KIND)
        .map(|i| match i % 3 {
            0 => vendor_ips[(i * 31) % vendor_ips.len()].clone(),
            1 => synthetic(cidr[i % cidr.len()], 0).1,
            _ => format!("203.0.{}.{}", i / 256 % 256, i % 256),
        })
        .collect();
    vec![
        // (name, weight in the mix out of 100, hosts)
        ("vendor", 30, pick(&vendor_names)),
        (
            "exact",
            15,
            exact.iter().map(|&n| synthetic(n, 1).1).collect(),
        ),
        (
            "suffix",
            12,
            suffix
                .iter()
                .enumerate()
                .map(|(i, &n)| synthetic(n, 2 + i % 5).1)
                .collect(),
        ),
        ("glob", 5, glob.iter().map(|&n| synthetic(n, 1).1).collect()),
        ("miss", 22, misses),
        ("ipv4", 15, ipv4),
        (
            "ipv6",
            1,
            vec!["[2001:db8::1]".into(), "[2607:f8b0::5]".into()],
        ),
    ]
}

/// 100 queries per round, each kind by its weight, interleaved; then shuffled deterministically.
fn mix(kinds: &[(&str, usize, Vec<String>)]) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for round in 0..PER_KIND / 10 {
        for (_, weight, hosts) in kinds {
            for j in 0..*weight {
                out.push(hosts[(round * weight + j) % hosts.len()].clone());
            }
        }
    }
    // A fixed LCG Fisher–Yates, so every run sees the same order.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.swap(i, (state >> 33) as usize % (i + 1));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, h)| (h, if i % 10 == 0 { 80 } else { 443 }))
        .collect()
}

fn canonical(hosts: &[(String, u16)]) -> Vec<(Host<'static>, u16)> {
    hosts
        .iter()
        .map(|(h, p)| (canonical_host(h).expect("bench host").into_owned(), *p))
        .collect()
}

fn decide(c: &mut Cpu) {
    let (tenant, shared) = big_tenant();
    let m = Matcher::compile(&tenant, &shared).expect("compiles");
    eprintln!("compiled: {:?}", m.stats());
    let kinds = kinds(&shared);
    let mix = mix(&kinds);
    let hits = canonical(&mix)
        .iter()
        .filter(|(h, p)| m.decide(h, *p).rule.is_some())
        .count();
    eprintln!("mix: {} queries, {hits} decided by a rule", mix.len());
    if std::env::var_os("BREAKOUT_MATCHER_DUMP").is_some() {
        dump(&m, &kinds);
        return;
    }

    let mut group = c.benchmark_group("decide");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut run = |name: &str, hs: &[(Host<'static>, u16)]| {
        group.throughput(Throughput::Elements(hs.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for (h, p) in hs {
                    black_box(m.decide(black_box(h), *p));
                }
            })
        });
    };
    run("mix", &canonical(&mix));
    for (kind, _, hosts) in &kinds {
        let hs: Vec<_> = hosts.iter().map(|h| (h.clone(), 443)).collect();
        run(kind, &canonical(&hs));
    }
    group.finish();

    // What the edge does per request: canonicalise the host it was sent, then decide.
    let mut group = c.benchmark_group("canon+decide");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("mix", |b| {
        b.iter(|| {
            for (h, p) in &mix {
                if let Ok(host) = canonical_host(black_box(h)) {
                    black_box(m.decide(&host, *p));
                }
            }
        })
    });
    group.finish();
}

/// `BREAKOUT_MATCHER_DUMP=1`: print every query's decision on several ports instead of timing,
/// to compare two builds of the matcher (`diff` the outputs).
fn dump(m: &Matcher, kinds: &[(&str, usize, Vec<String>)]) {
    for (_, _, hosts) in kinds {
        for h in hosts {
            let host = canonical_host(h).expect("bench host");
            for port in [443, 80, 8080, 25] {
                let d = m.decide(&host, port);
                println!("{h}:{port} {:?} {:?}", d.rule, d.action);
            }
        }
    }
}

fn compile(c: &mut Cpu) {
    let (tenant, shared) = big_tenant();
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(RULES as u64));
    group.bench_function("m365+google+100k-rules", |b| {
        // The old matcher is dropped off the clock: on reload the edge drops it elsewhere.
        b.iter_with_large_drop(|| {
            Matcher::compile(black_box(&tenant), black_box(&shared)).expect("compiles")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = decide, compile
}
criterion_main!(benches);
