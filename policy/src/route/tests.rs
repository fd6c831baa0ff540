//! The route and its explanation: what the proxy does, explain says.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};

use super::*;
use crate::canon::canonical_host;
use crate::guard::GuardOptions;

/// acme: `saas.example` direct, `bad.example` blocked, `lab.example` to parent `lab` (on
/// loopback), everything else to parent `corp` (on a private address).
fn router(egress: Option<&str>) -> Router {
    let mut t = json!({
        "id": "acme",
        "source_cidrs": ["10.0.0.0/8"],
        "session_limit": 10,
        "upstreams": {"corp": "10.1.2.3:3128", "lab": "127.0.0.1:8080"},
        "default_action": "upstream:corp",
        "rules": [
            {"name": "saas", "action": "direct", "destinations": ["saas.example", "127.0.0.1", "10.9.9.9"]},
            {"name": "deny", "action": "block", "destinations": ["bad.example"]},
            {"name": "lab", "action": "upstream:lab", "destinations": ["lab.example"]},
        ],
    });
    if let Some(e) = egress {
        t["egress_address"] = json!(e);
    }
    let tenant: Tenant = serde_json::from_value(t).expect("tenant");
    Router::compile(&tenant, &BTreeMap::new()).expect("compiles")
}

fn route_of<'r>(r: &'r Router, host: &str) -> Routed<'r> {
    r.route(&canonical_host(host).expect("host"), 443)
}

#[test]
fn routes_name_their_parent_proxy_resolved_at_compile_time() {
    let r = router(None);
    assert_eq!(route_of(&r, "saas.example").route, Route::Direct);
    assert_eq!(route_of(&r, "bad.example").route, Route::Block);
    let Route::Upstream(p) = route_of(&r, "other.example").route else {
        panic!("default is upstream");
    };
    assert_eq!(
        (p.name(), p.to_string().as_str()),
        ("corp", "10.1.2.3:3128")
    );
    assert_eq!(route_of(&r, "other.example").rule, None);
    let Route::Upstream(p) = route_of(&r, "lab.example").route else {
        panic!("lab is upstream");
    };
    assert_eq!(p.name(), "lab");
}

#[test]
fn an_unknown_parent_proxy_is_a_compile_error() {
    let t: Tenant = serde_json::from_value(json!({
        "id": "acme", "source_cidrs": ["10.0.0.0/8"], "session_limit": 1,
        "rules": [{"action": "upstream:nope", "destinations": ["x.example"]}],
    }))
    .expect("tenant");
    let e = Router::compile(&t, &BTreeMap::new()).expect_err("unknown parent");
    assert_eq!(e.field, "rules[0].action");
}

fn explain(r: &Router, host: &str, opts: &GuardOptions, res: Resolution<'_>) -> Value {
    let listeners: Vec<SocketAddr> = vec!["127.0.0.1:3128".parse().expect("listener")];
    let cx = ExplainContext {
        guard: opts,
        connect_ports: Some(&[443]),
        listeners: &listeners,
    };
    let (host, port) = host
        .rsplit_once(':')
        .map_or((host, 443), |(h, p)| (h, p.parse().expect("port")));
    let e = r.explain("acme", host, port, &cx, res).expect("explains");
    serde_json::to_value(e).expect("json")
}

#[test]
fn a_loopback_literal_is_refused_as_the_proxy_refuses_it_and_says_how_a_lab_allows_it() {
    let r = router(None);
    let strict = GuardOptions::default();
    let e = explain(&r, "127.0.0.1", &strict, Resolution::NotResolved);
    assert_eq!(e["action"], "direct", "{e}");
    assert_eq!(e["rule_label"], "saas", "{e}");
    assert_eq!(e["decision"], "refused", "{e}");
    assert_eq!(e["reason"], "destination_ip_prohibited", "{e}");
    assert_eq!(e["guard"]["status"], "refused", "{e}");
    assert_eq!(e["guard"]["addresses"][0]["class"], "loopback", "{e}");
    let note = e["guard"]["note"].as_str().expect("note");
    assert!(note.contains("allow_private_destinations"), "{e}");
    let lab = GuardOptions::allow_private(true);
    let e = explain(&r, "10.9.9.9", &lab, Resolution::NotResolved);
    assert_eq!(
        (e["decision"].as_str(), e["reason"].as_str()),
        (Some("direct"), None),
        "{e}"
    );
}

#[test]
fn a_name_is_checked_after_resolution_unless_resolved_here() {
    let r = router(None);
    let o = GuardOptions::default();
    let e = explain(&r, "saas.example", &o, Resolution::NotResolved);
    assert_eq!(e["decision"], "direct", "{e}");
    assert_eq!(e["guard"]["status"], "after_resolution", "{e}");
    assert!(
        e["guard"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("resolves")),
        "{e}"
    );

    let internal: Vec<IpAddr> = vec!["169.254.169.254".parse().expect("ip")];
    let e = explain(&r, "saas.example", &o, Resolution::Resolved(&internal));
    assert_eq!(e["decision"], "refused", "{e}");
    assert_eq!(e["guard"]["addresses"][0]["class"], "metadata", "{e}");

    let mixed: Vec<IpAddr> = vec![
        "10.0.0.1".parse().expect("a"),
        "13.107.6.152".parse().expect("b"),
    ];
    let e = explain(&r, "saas.example", &o, Resolution::Resolved(&mixed));
    assert_eq!(
        (e["decision"].as_str(), e["guard"]["status"].as_str()),
        (Some("direct"), Some("allowed")),
        "{e}"
    );
    assert_eq!(e["guard"]["addresses"][0]["verdict"], "prohibited", "{e}");
    assert_eq!(e["guard"]["addresses"][1]["verdict"], "allowed", "{e}");

    let e = explain(
        &r,
        "saas.example",
        &o,
        Resolution::Failed("saas.example has no address"),
    );
    assert_eq!(
        (e["decision"].as_str(), e["reason"].as_str()),
        (Some("error"), Some("dns_error")),
        "{e}"
    );
}

#[test]
fn upstream_routes_check_the_parent_proxy_not_the_destination() {
    let r = router(None);
    let o = GuardOptions::default();
    let e = explain(&r, "other.example", &o, Resolution::NotResolved);
    assert_eq!(e["decision"], "upstream", "{e}");
    assert_eq!(e["parent_proxy"], "corp (10.1.2.3:3128)", "{e}");
    assert_eq!(e["guard"]["checks"], "parent_proxy", "{e}");
    assert_eq!(
        e["guard"]["status"], "allowed",
        "a parent proxy may be private: {e}"
    );
    let e = explain(&r, "lab.example", &o, Resolution::NotResolved);
    assert_eq!(
        e["decision"], "refused",
        "a parent on loopback needs allow_private: {e}"
    );
}

#[test]
fn block_needs_no_guard_and_loops_and_ports_are_reported() {
    let r = router(None);
    let lab = GuardOptions::allow_private(true);
    let e = explain(&r, "bad.example", &lab, Resolution::NotResolved);
    assert_eq!(
        (e["decision"].as_str(), e["reason"].as_str()),
        (Some("block"), Some("blocked_by_rule")),
        "{e}"
    );
    assert_eq!(e["guard"]["status"], "not_applicable", "{e}");
    let e = explain(&r, "127.0.0.1:3128", &lab, Resolution::NotResolved);
    assert_eq!(
        (e["decision"].as_str(), e["reason"].as_str()),
        (Some("refused"), Some("proxy_loop")),
        "{e}"
    );
    assert_eq!(e["connect_port_allowed"], false, "{e}");
}

#[test]
fn ipv6_only_names_are_unusable_from_an_egress_address() {
    let r = router(Some("192.0.2.10"));
    let v6: Vec<IpAddr> = vec!["2606:4700::1111".parse().expect("ip")];
    let e = explain(
        &r,
        "saas.example",
        &GuardOptions::default(),
        Resolution::Resolved(&v6),
    );
    assert_eq!(
        (e["decision"].as_str(), e["reason"].as_str()),
        (Some("error"), Some("dns_error")),
        "{e}"
    );
    assert_eq!(e["guard"]["addresses"][0]["verdict"], "unusable", "{e}");
}
