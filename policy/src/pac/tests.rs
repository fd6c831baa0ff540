//! Renderer unit tests: settings, mapping, determinism, size budget, shape. What the generated
//! JS answers is checked in a real PAC engine by `policy/tests/pac_*.rs`.

use std::collections::BTreeMap;

use super::*;
use crate::action::Action;
use crate::model::Rule;

fn rule(name: &str, action: &str, destinations: &[&str], ports: &[u16]) -> Rule {
    Rule {
        name: Some(name.into()),
        action: action.parse().expect("action"),
        destinations: destinations
            .iter()
            .map(|d| d.parse().expect("destination"))
            .collect(),
        lists: Vec::new(),
        ports: ports.to_vec(),
    }
}

fn tenant() -> Tenant {
    Tenant {
        id: "acme".into(),
        region: None,
        source_cidrs: Vec::new(),
        session_limit: 10,
        upstreams: BTreeMap::from([("corp".into(), "proxy.corp.example:3128".into())]),
        rules: vec![
            rule(
                "saas",
                "direct",
                &["*.sharepoint.com", "outlook.office365.com"],
                &[],
            ),
            rule(
                "web",
                "upstream:corp",
                &["*-files.sharepoint.com"],
                &[80, 443],
            ),
            rule("nets", "block", &["40.96.0.0/13", "131.253.33.215"], &[]),
        ],
        default_action: Action::Block,
        lists: BTreeMap::new(),
        egress_address: None,
        pac: None,
    }
}

fn settings() -> PacSettings {
    let mut s = PacSettings::with_proxies(["edge-1.example:3128", "edge-2.example:3128"]);
    s.policy_version = 7;
    s
}

fn pac(t: &Tenant, s: &PacSettings) -> Pac {
    render(t, &BTreeMap::new(), s).expect("renders")
}

#[test]
fn same_input_same_bytes() {
    let a = pac(&tenant(), &settings());
    let b = pac(&tenant(), &settings());
    assert_eq!(a, b);
    // Another version changes the header (and the ETag), not the body.
    let mut s = settings();
    s.policy_version = 8;
    let c = pac(&tenant(), &s);
    assert_eq!(a.body_sha256, c.body_sha256);
    assert_ne!(a.sha256, c.sha256);
    assert_eq!(
        a.text.lines().skip(3).collect::<Vec<_>>(),
        c.text.lines().skip(3).collect::<Vec<_>>()
    );
}

#[test]
fn header_names_tenant_version_and_content_hash() {
    let p = pac(&tenant(), &settings());
    let header: Vec<&str> = p.text.lines().take(3).collect();
    assert!(
        header[0].contains("tenant \"acme\", policy version 7"),
        "{}",
        header[0]
    );
    assert!(
        header[1].contains(&format!("sha256:{}", p.body_sha256)),
        "{}",
        header[1]
    );
    let body = p
        .text
        .split_once("\n\n")
        .expect("blank line after the header")
        .1;
    assert_eq!(hex_sha256(body), p.body_sha256);
    assert_eq!(hex_sha256(&p.text), p.sha256);
    assert_eq!((p.tenant.as_str(), p.policy_version), ("acme", 7));
}

#[test]
fn size_budget_is_a_clear_error() {
    let mut s = settings();
    let size = pac(&tenant(), &s).stats.bytes;
    s.max_bytes = size - 1;
    let err = render(&tenant(), &BTreeMap::new(), &s).unwrap_err();
    assert_eq!(
        err,
        PacError::TooLarge {
            size,
            max: size - 1
        }
    );
    assert!(err.to_string().contains(&format!("{size} bytes")), "{err}");
    s.max_bytes = size;
    assert!(render(&tenant(), &BTreeMap::new(), &s).is_ok());
}

#[test]
fn action_mapping() {
    let mut s = settings();
    let edges = "PROXY edge-1.example:3128; PROXY edge-2.example:3128";
    assert_eq!(s.edge_result(), edges);
    assert_eq!(s.result_for(&Action::Direct), edges);
    assert_eq!(s.result_for(&Action::Block), edges);
    assert_eq!(s.result_for(&Action::Upstream("corp".into())), edges);
    s.upstream_proxies.insert(
        "corp".into(),
        vec![
            "proxy.corp.example:3128".into(),
            "[2001:db8::1]:8080".into(),
        ],
    );
    assert_eq!(
        s.result_for(&Action::Upstream("corp".into())),
        "PROXY proxy.corp.example:3128; PROXY [2001:db8::1]:8080"
    );
    assert!(pac(&tenant(), &s).text.contains(
        "var RESULTS = [\"PROXY edge-1.example:3128; PROXY edge-2.example:3128\", \
         \"PROXY proxy.corp.example:3128; PROXY [2001:db8::1]:8080\"];"
    ));
}

#[test]
fn invalid_settings_name_the_field() {
    let t = tenant();
    let field = |s: &PacSettings| match render(&t, &BTreeMap::new(), s) {
        Err(PacError::Settings(e)) => e.field,
        other => panic!("expected a settings error, got {other:?}"),
    };
    assert_eq!(field(&PacSettings::default()), "proxies");
    for bad in [
        "edge",
        "edge:0",
        "edge:65536",
        "Edge.example:1",
        "a b:1",
        "e\";x:1",
        "::1:80",
    ] {
        let s = PacSettings::with_proxies(["ok.example:1", bad]);
        assert_eq!(field(&s), "proxies[1]", "{bad}");
    }
    let mut s = settings();
    s.upstream_proxies
        .insert("nope".into(), vec!["p.example:1".into()]);
    assert_eq!(field(&s), "upstream_proxies[nope]");
    let mut s = settings();
    s.upstream_proxies.insert("corp".into(), Vec::new());
    assert_eq!(field(&s), "upstream_proxies[corp]");
    let mut s = settings();
    s.direct_exceptions = vec![crate::Destination::Pattern("a.*".into())];
    assert_eq!(field(&s), "direct_exceptions");
}

#[test]
fn tenant_errors_are_the_matchers() {
    let mut t = tenant();
    t.rules[0].lists.push("missing".into());
    let err = render(&t, &BTreeMap::new(), &settings()).unwrap_err();
    let want = Matcher::compile(&t, &BTreeMap::new()).unwrap_err();
    assert_eq!(err, PacError::Policy(want));
}

#[test]
fn settings_deserialize_with_documented_defaults() {
    let s: PacSettings = serde_json::from_str(r#"{"proxies": ["edge.example:3128"]}"#).unwrap();
    assert!(s.plain_hostnames_direct && s.private_ranges_direct && !s.ip_rules);
    assert_eq!(s.max_bytes, 512 * 1024);
    assert!(s.upstream_proxies.is_empty() && s.direct_exceptions.is_empty());
    let s: PacSettings = toml::from_str(
        r#"
        proxies = ["edge-1.example:3128", "edge-2.example:3128"]
        direct_exceptions = ["corp.example", "*.corp.example", "10.0.0.0/8"]
        ip_rules = true
        [upstream_proxies]
        corp = "proxy.corp.example:3128"
        other = ["a.example:1", "b.example:2"]
        "#,
    )
    .unwrap();
    assert_eq!(s.upstream_proxies["corp"], ["proxy.corp.example:3128"]);
    assert_eq!(s.upstream_proxies["other"], ["a.example:1", "b.example:2"]);
    assert_eq!(s.direct_exceptions.len(), 3);
    assert!(s.ip_rules);
    assert!(serde_json::from_str::<PacSettings>(r#"{"proxy": []}"#).is_err());
    assert!(serde_json::from_str::<PacSettings>(r#"{"direct_exceptions": ["a..b"]}"#).is_err());
}

#[test]
fn no_dns_unless_ip_rules() {
    let mut s = settings();
    let text = pac(&tenant(), &s).text;
    assert!(!text.contains("dnsResolve") && !text.contains("isInNet"));
    assert!(!text.contains("IP_RULES"));
    s.ip_rules = true;
    let text = pac(&tenant(), &s).text;
    assert_eq!(text.matches("dnsResolve(").count(), 1);
    assert!(!text.contains("isInNet") && !text.contains("IP_RULES"));
}

#[test]
fn tables_are_keyed_maps_and_patterns_stay_separate() {
    let mut t = tenant();
    t.rules
        .push(rule("multi", "direct", &["a*b*c.example.com"], &[]));
    let p = pac(&t, &settings());
    let t = &p.text;
    // One node per name: [exact, *.name, patterns anchored there]; -1 where there are none.
    assert!(
        t.contains("\n\".outlook.office365.com\": [0, -1],\n"),
        "{t}"
    );
    // The pattern hangs from its anchor: labels, head, tail, glob (0: one star, head and tail
    // decide), port set, result (`corp` is not mapped: the edges, result 0).
    assert!(
        t.contains("\n\".sharepoint.com\": [-1, 0, [[1, \"\", \"-files\", 0, 0, 0]]]"),
        "{t}"
    );
    // Several stars: shExpMatch gets the whole prefix.
    assert!(
        t.contains("\n\".example.com\": [-1, -1, [[1, \"a\", \"c\", \"a*b*c\", -1, 0]]]"),
        "{t}"
    );
    // 40.96.0.0/13 and 131.253.33.215 as sorted ranges (start, candidates; -1 in the gaps).
    assert!(
        t.contains("c: [[677380096,677904384,2214404567,2214404568],\n[0,-1,0,-1]]}"),
        "{t}"
    );
    // shExpMatch only in the pattern branch of the lookup.
    assert_eq!(t.matches("shExpMatch(").count(), 1);
    assert_eq!(
        p.stats,
        PacStats {
            bytes: t.len(),
            exact: 1,
            suffixes: 1,
            patterns: 2,
            anchors: 2,
            networks: 2,
            exceptions: 0,
            results: 1,
        }
    );
}

#[test]
fn nested_networks_flatten_to_ranges_with_fall_through() {
    let mut t = tenant();
    t.rules = vec![
        rule("wide", "direct", &["10.0.0.0/8"], &[]),
        rule("narrow", "upstream:corp", &["10.1.0.0/16"], &[80]),
    ];
    let mut s = settings();
    s.upstream_proxies
        .insert("corp".into(), vec!["p.example:1".into()]);
    s.private_ranges_direct = false;
    let text = pac(&t, &s).text;
    // 10/8 (edges, result 0) up to 10.1/16, then 10.1/16 (port 80 → corp, result 1; else
    // 10/8's edges), then 10/8 again, then nothing from 11.0.0.0.
    assert!(
        text.contains("c: [[167772160,167837696,167903232,184549376],\n[0,[0,1,-1,0],0,-1]]}"),
        "{text}"
    );
}

#[test]
fn port_restricted_candidates_list_their_fall_through() {
    let mut t = tenant();
    t.rules = vec![
        rule("smtp", "upstream:corp", &["mail.example.com"], &[25]),
        rule("any", "direct", &["mail.example.com"], &[]),
        rule("never", "block", &["mail.example.com"], &[]),
        rule("same", "direct", &["web.example.com"], &[80]),
        rule("same-any", "direct", &["web.example.com"], &[]),
    ];
    let mut s = settings();
    s.upstream_proxies
        .insert("corp".into(), vec!["p.example:1".into()]);
    let text = pac(&t, &s).text;
    // [portSet 0 → result 0 (corp), any port → result 1 (edges)]; "never" is unreachable.
    assert!(
        text.contains("\".mail.example.com\": [[0,0,-1,1], -1]"),
        "{text}"
    );
    // Every port gets the same result: just the index.
    assert!(text.contains("\".web.example.com\": [1, -1]"), "{text}");
}

#[test]
fn strings_are_escaped_for_js() {
    assert_eq!(js::string("a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(js::string("</script>\n"), r#""\u003c/script\u003e\u000a""#);
    assert_eq!(js::string("é\u{2028}"), r#""\u00e9\u2028""#);
    let mut t = tenant();
    t.id = "we\"ird\nid".into();
    assert!(pac(&t, &settings()).text.starts_with(
        "// Breakout proxy auto-config for tenant \"we\\\"ird\\u000aid\", policy version 7.\n"
    ));
}
