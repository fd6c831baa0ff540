//! Shared by `pac_*.rs` and `benches/pac.rs` (included with `#[path]`): the tenant built from the
//! real vendor lists, the request list that probes it, and the pacparser runner.
#![allow(dead_code, unused_imports)]

#[path = "../support/m365.rs"]
pub mod m365;
pub mod requests;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use breakout_policy::pac::{render, Oracle, Pac, PacSettings};
use breakout_policy::{Action, Destination, NamedList, Rule, Tenant};
use ipnet::Ipv4Net;

pub use requests::{requests, Request};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
pub const EVALUATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/pac/evaluate.py");
/// pacparser is installed into Debian's Python, not whatever `python3` is first on the PATH.
pub const PYTHON: &str = "/usr/bin/python3";
const INSTALL: &str = "pacparser is required for the PAC tests: install it with \
    `apt-get install -y python3-pacparser` (Debian's package, imported by /usr/bin/python3; \
    .ci/run installs it)";

pub const GOOGLE: &str = "google-services";
pub const BLOCKLIST: &str = "blocklist";

/// Google's own services: goog.json minus cloud.json (IPv4), as a minimal set of networks.
pub fn google_prefixes() -> Vec<Ipv4Net> {
    let read = |name: &str| -> Vec<Ipv4Net> {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("read fixture");
        let v: serde_json::Value = serde_json::from_str(&text).expect("parse fixture");
        v["prefixes"]
            .as_array()
            .expect("prefixes")
            .iter()
            .filter_map(|p| p["ipv4Prefix"].as_str())
            .map(|p| p.parse().expect("IPv4 prefix"))
            .collect()
    };
    let cloud = read("google-cloud.json");
    let mut out = Vec::new();
    for net in read("google-goog.json") {
        subtract(net, &cloud, &mut out);
    }
    Ipv4Net::aggregate(&out)
}

/// `net` minus every network in `cloud` (CIDRs either nest or are disjoint).
fn subtract(net: Ipv4Net, cloud: &[Ipv4Net], out: &mut Vec<Ipv4Net>) {
    if cloud.iter().any(|c| c.contains(&net)) {
        return;
    }
    if !cloud.iter().any(|c| net.contains(c)) {
        out.push(net);
        return;
    }
    for half in net
        .subnets(net.prefix_len() + 1)
        .expect("a shorter prefix splits")
    {
        subtract(half, cloud, out);
    }
}

fn dests(entries: &[&str]) -> Vec<Destination> {
    entries
        .iter()
        .map(|d| d.parse().expect("destination"))
        .collect()
}

fn rule(name: &str, action: &str, destinations: &[&str], lists: &[&str], ports: &[u16]) -> Rule {
    Rule {
        name: Some(name.into()),
        action: action.parse().expect("action"),
        destinations: dests(destinations),
        lists: lists.iter().map(|l| l.to_string()).collect(),
        ports: ports.to_vec(),
    }
}

/// The M365 tenant (`support/m365.rs`) grown into a realistic one: a block list first, the two
/// M365 list rules, Google (goog minus cloud, plus Workspace host names), patterns for a second
/// upstream, and port-restricted rules on names and networks.
pub fn tenant() -> (Tenant, BTreeMap<String, NamedList>) {
    let (mut t, mut shared, _) = m365::tenant();
    let google: Vec<Destination> = dests(&[
        "google.com",
        "*.google.com",
        "*.googleapis.com",
        "*.gstatic.com",
        "[*].googleusercontent.com",
        "*.googlevideo.com",
    ])
    .into_iter()
    .chain(google_prefixes().into_iter().map(Destination::Cidr))
    .collect();
    shared.insert(GOOGLE.into(), NamedList::new(google));
    t.lists.insert(
        BLOCKLIST.into(),
        NamedList::new(dests(&[
            "*.doubleclick.net",
            "tracker.example.com",
            "*.bad.sharepoint.com",
        ])),
    );
    t.upstreams
        .insert("partner".into(), "partner-proxy.example:8080".into());
    let mut rules = vec![
        rule(
            "blocklist",
            "block",
            &["198.51.100.0/24"],
            &[BLOCKLIST],
            &[],
        ),
        rule(
            "smtp-via-corp",
            "upstream:corp",
            &["smtp.office365.com", "*.mail.protection.outlook.com"],
            &[],
            &[25, 587],
        ),
    ];
    rules.append(&mut t.rules);
    rules.extend([
        rule("google", "direct", &[], &[GOOGLE], &[]),
        rule(
            "partner-patterns",
            "upstream:partner",
            &[
                "*-files.sharepoint.com",
                "api-*.eu.contoso.example",
                "a*b*c.patterns.example",
                "ab*ba.overlap.example",
                "prefix.*.com",
                "*x.ab.com",
            ],
            &[],
            &[],
        ),
        rule(
            "plain-http-blocked",
            "block",
            &["*.legacy.example", "40.96.0.0/16"],
            &[],
            &[80],
        ),
        rule(
            "dev-portal",
            "direct",
            &["portal.contoso.example"],
            &[],
            &[8443],
        ),
    ]);
    t.rules = rules;
    (t, shared)
}

/// Two edges, the corporate proxy known to the browser (`partner` stays behind the edge) and
/// some internal exceptions, one of them under a listed wildcard (`*.sharepoint.com`).
pub fn settings() -> PacSettings {
    let mut s = PacSettings::with_proxies([
        "edge-1.eu-west.breakout.example:3128",
        "edge-2.eu-west.breakout.example:3128",
    ]);
    s.upstream_proxies
        .insert("corp".into(), vec!["proxy.contoso.example:3128".into()]);
    s.direct_exceptions = dests(&[
        "contoso.local",
        "*.contoso.local",
        "*.corp.contoso.com",
        "*.onprem.sharepoint.com",
        "100.64.0.0/10",
    ]);
    s.policy_version = 42;
    s
}

/// The same tenant with every rule's action replaced by an upstream of its own (and the default
/// too), each mapped to a distinct proxy: the PAC's answer then names the rule that decided, so
/// the comparison checks precedence itself, not just the coarser edge/proxy/DIRECT split.
pub fn probe(tenant: &Tenant, settings: &PacSettings) -> (Tenant, PacSettings) {
    let mut t = tenant.clone();
    let mut s = settings.clone();
    s.upstream_proxies.clear();
    for (i, r) in t.rules.iter_mut().enumerate() {
        let name = format!("rule-{i}");
        r.action = Action::Upstream(name.clone());
        let proxy = format!("rule-{i}.probe.example:{}", 10000 + i);
        t.upstreams.insert(name.clone(), proxy.clone());
        s.upstream_proxies.insert(name, vec![proxy]);
    }
    t.default_action = Action::Upstream("default".into());
    t.upstreams
        .insert("default".into(), "default.probe.example:9999".into());
    s.upstream_proxies
        .insert("default".into(), vec!["default.probe.example:9999".into()]);
    (t, s)
}

/// Renders the PAC, evaluates every request with pacparser and asserts each answer equals the
/// [`Oracle`]'s (`Matcher::decide` through the documented mapping). `resolved` stands for what
/// `dnsResolve` returns for a host (only used with `ip_rules`). Returns the PAC.
pub fn check(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
    settings: &PacSettings,
    reqs: &[Request],
    resolved: impl Fn(&str) -> Option<Ipv4Addr>,
) -> Pac {
    let pac = render(tenant, shared, settings).expect("renders");
    let oracle = Oracle::new(tenant, shared, settings).expect("oracle compiles");
    let (got, dir) = pacparser(&pac.text, reqs);
    let mut bad = Vec::new();
    for (r, got) in reqs.iter().zip(&got) {
        let want = oracle.find_proxy(&r.url, &r.host, resolved(&r.host));
        if *got != want {
            let why = oracle
                .matcher()
                .explain(&r.host, r.port())
                .map(|e| format!("{} via {:?}", e.rule_label, e.entry))
                .unwrap_or_else(|e| e.to_string());
            bad.push(format!(
                "{} (host {:?}): pacparser {got:?}, expected {want:?} [matcher: {why}]",
                r.url, r.host
            ));
        }
    }
    if !bad.is_empty() {
        let kept = dir.keep();
        panic!(
            "{} of {} requests disagree (PAC and requests kept in {}):\n{}",
            bad.len(),
            reqs.len(),
            kept.display(),
            bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    pac
}

/// Runs `tests/pac/evaluate.py` on `pac` and the requests; one answer per request. Fails (never
/// skips) when pacparser is missing.
pub fn pacparser(pac: &str, reqs: &[Request]) -> (Vec<String>, TempDir) {
    let dir = TempDir::new();
    let pac_path = dir.path.join("tenant.pac");
    let req_path = dir.path.join("requests.tsv");
    std::fs::write(&pac_path, pac).expect("write the PAC");
    let lines: String = reqs
        .iter()
        .map(|r| format!("{}\t{}\n", r.url, r.host))
        .collect();
    std::fs::write(&req_path, lines).expect("write the requests");
    let out = Command::new(PYTHON)
        .arg(EVALUATE)
        .arg(&pac_path)
        .arg(&req_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} ({e}); {INSTALL}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("{INSTALL}\n{stderr}"),
        _ => panic!("evaluate.py failed ({}): {stderr}", out.status),
    }
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .expect("ASCII answers")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        answers.len(),
        reqs.len(),
        "one answer per request; {stderr}"
    );
    (answers, dir)
}

/// A scratch directory removed on drop (unless kept for a failure report).
pub struct TempDir {
    pub path: PathBuf,
    keep: bool,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new() -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("breakout-pac-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir { path, keep: false }
    }

    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
