//! The matcher against the real Microsoft 365 worldwide endpoint list. Every host asserted here is
//! chosen from what `tests/fixtures/m365-worldwide-endpoints.json` actually contains.

#[path = "support/m365.rs"]
mod m365;

use breakout_policy::validate::validate;
use breakout_policy::{canonical_host, Action, Destination, Matcher, RegionPolicy, SCHEMA_VERSION};

fn matcher() -> Matcher {
    let (tenant, shared, _) = m365::tenant();
    Matcher::compile(&tenant, &shared).expect("the M365 tenant compiles")
}

/// (action, rule label, matching entry) for `host:443`.
fn decide(m: &Matcher, host: &str) -> (Action, String, Option<String>) {
    let e = m.explain(host, 443).expect("valid host");
    (e.action, e.rule_label, e.entry)
}

fn direct(entry: &str) -> (Action, String, Option<String>) {
    (
        Action::Direct,
        m365::OPTIMIZE_ALLOW.into(),
        Some(entry.into()),
    )
}

fn upstream(entry: &str) -> (Action, String, Option<String>) {
    (
        Action::Upstream("corp".into()),
        m365::DEFAULT.into(),
        Some(entry.into()),
    )
}

fn default() -> (Action, String, Option<String>) {
    (Action::Block, "default".into(), None)
}

#[test]
fn the_tenant_built_from_the_list_validates() {
    let (tenant, shared, _) = m365::tenant();
    let policy = RegionPolicy {
        schema: SCHEMA_VERSION,
        version: 1,
        region: "eu-west".into(),
        tenants: vec![tenant.into()],
        lists: shared,
        foreign_sources: Default::default(),
        out_of_service: Vec::new(),
    };
    validate(&policy).expect("valid");
}

#[test]
fn optimize_and_allow_hosts_go_direct() {
    let m = matcher();
    // Exchange Optimize (set 1), exact.
    assert_eq!(
        decide(&m, "outlook.office365.com"),
        direct("outlook.office365.com")
    );
    assert_eq!(
        decide(&m, "Outlook.Office365.com."),
        direct("outlook.office365.com")
    );
    // SharePoint Optimize (set 31): `*.sharepoint.com`, strict subdomains only.
    assert_eq!(
        decide(&m, "contoso.sharepoint.com"),
        direct("*.sharepoint.com")
    );
    assert_eq!(
        decide(&m, "contoso-my.sharepoint.com"),
        direct("*.sharepoint.com")
    );
    assert_eq!(decide(&m, "sharepoint.com"), default());
    // Teams Allow (set 12): both the apex and its subdomains are listed.
    assert_eq!(
        decide(&m, "teams.microsoft.com"),
        direct("teams.microsoft.com")
    );
    assert_eq!(
        decide(&m, "x.teams.microsoft.com"),
        direct("*.teams.microsoft.com")
    );
}

#[test]
fn wildcard_patterns_from_the_list_match_within_one_label() {
    let m = matcher();
    // `autodiscover.*.onmicrosoft.com` (set 8) beats `*.onmicrosoft.com` (set 78).
    let autodiscover = decide(&m, "autodiscover.contoso.onmicrosoft.com");
    assert_eq!(autodiscover, upstream("autodiscover.*.onmicrosoft.com"));
    assert_eq!(
        decide(&m, "contoso.onmicrosoft.com"),
        upstream("*.onmicrosoft.com")
    );
    // `*cdn.onenote.net` (set 51): zero or more characters, one label.
    assert_eq!(decide(&m, "cdn.onenote.net"), upstream("*cdn.onenote.net"));
    assert_eq!(decide(&m, "xcdn.onenote.net"), upstream("*cdn.onenote.net"));
    assert_eq!(decide(&m, "a.xcdn.onenote.net"), default());
}

#[test]
fn look_alike_hosts_get_the_default() {
    let m = matcher();
    for host in [
        "fakeoffice.com",
        "fakesharepoint.com",
        "sharepoint.com.evil.example",
        "office.com",
    ] {
        assert_eq!(decide(&m, host), default(), "{host}");
    }
}

#[test]
fn the_more_specific_entry_wins_across_categories() {
    let m = matcher();
    // Default exact entries (sets 91, 160) under the Allow wildcard `*.officeapps.live.com`.
    let cdn = decide(&m, "cdn.odc.officeapps.live.com");
    assert_eq!(cdn, upstream("cdn.odc.officeapps.live.com"));
    assert_eq!(
        decide(&m, "cdn.uci.officeapps.live.com"),
        upstream("cdn.uci.officeapps.live.com")
    );
    assert_eq!(
        decide(&m, "word-edit.officeapps.live.com"),
        direct("*.officeapps.live.com")
    );
    // And the other way round: Allow entries under Default wildcards.
    assert_eq!(
        decide(&m, "graph.microsoft.com"),
        direct("graph.microsoft.com")
    );
    assert_eq!(
        decide(&m, "docs.microsoft.com"),
        upstream("docs.microsoft.com")
    );
    assert_eq!(
        decide(&m, "anything.microsoft.com"),
        upstream("*.microsoft.com")
    );
    assert_eq!(
        decide(&m, "x.teams.cloud.microsoft"),
        direct("*.teams.cloud.microsoft")
    );
    assert_eq!(
        decide(&m, "word.cloud.microsoft"),
        upstream("*.cloud.microsoft")
    );
    let mx = decide(&m, "contoso-com.mail.protection.outlook.com");
    assert_eq!(mx, direct("*.mail.protection.outlook.com"));
    assert_eq!(
        decide(&m, "eur.protection.outlook.com"),
        direct("*.protection.outlook.com")
    );
    assert_eq!(
        decide(&m, "attachments.outlook.com"),
        upstream("*.outlook.com")
    );
}

#[test]
fn listed_ipv4_ranges_go_direct_and_ipv6_takes_the_default() {
    let m = matcher();
    assert_eq!(decide(&m, "40.96.1.2"), direct("40.96.0.0/13"));
    assert_eq!(decide(&m, "52.112.10.20"), direct("52.112.0.0/14"));
    assert_eq!(decide(&m, "131.253.33.215"), direct("131.253.33.215"));
    assert_eq!(decide(&m, "131.253.33.216"), default());
    assert_eq!(decide(&m, "8.8.8.8"), default());
    // 2603:1006::/40 is in set 1, but IPv6 destinations are never matched.
    assert_eq!(decide(&m, "[2603:1006::1]"), default());
}

#[test]
fn every_listed_host_decides_by_its_category() {
    let (_, _, lists) = m365::tenant();
    let m = matcher();
    // No URL is listed in both groups (checked against the fixture), so each exact entry must
    // decide by its own list.
    for (list, action) in [
        (&lists.optimize_allow, Action::Direct),
        (&lists.default, Action::Upstream("corp".into())),
    ] {
        for entry in list.entries.iter() {
            let probe = match entry {
                Destination::Exact(h) => h.clone(),
                Destination::Suffix(p) => format!("probe.{p}"),
                Destination::Pattern(p) => p.replace('*', "x"),
                Destination::Cidr(net) => net.addr().to_string(),
            };
            let host = canonical_host(&probe).expect("probe host");
            assert_eq!(
                m.decide(&host, 443).action,
                &action,
                "{probe} (from {entry})"
            );
        }
    }
}

#[test]
fn udp_only_sets_are_reported_not_dropped_silently() {
    let (_, _, lists) = m365::tenant();
    // Set 11: Teams media, UDP 3478-3481 only.
    assert_eq!(lists.udp_only, vec![11]);
}
