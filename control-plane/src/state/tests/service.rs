//! What edges are given as contracts, caps and days change: the operator's cap, contracts
//! ending, the state's day and ticks, and PAC settings that need the PAC option.

use super::contracts::*;
use super::*;
use crate::contracts::{ContractRequest, EndRequest, OptionKind};
use crate::state::{next_policy_change, region_policy_at};

fn cap(n: Option<u32>) -> TenantPatch {
    TenantPatch {
        session_cap: Some(n),
        ..TenantPatch::default()
    }
}

fn served_limits(state: &State, date: &str) -> Vec<(String, u32)> {
    region_policy_at(state, "tokyo", day(date))
        .tenants
        .iter()
        .map(|t| (t.id.clone(), t.session_limit))
        .collect()
}

#[test]
fn the_operators_cap_lowers_the_contracted_limit_but_never_raises_it() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    // A cap may be set before any contract; it changes nothing until one gives a limit.
    log.ok(update("acme", None, cap(Some(40))));
    assert_eq!(served_limits(&log.state, "2025-01-15"), []);
    in_service(&mut log, "acme", 20_000);
    assert_eq!(
        served_limits(&log.state, "2025-01-15"),
        [("acme".into(), 40)]
    );
    // Above the item, the item decides; the cap is kept, the free-typed limit still refused.
    log.ok(update("acme", None, cap(Some(50_000))));
    assert_eq!(
        served_limits(&log.state, "2025-01-15"),
        [("acme".into(), 20_000)]
    );
    log.rejected(update("acme", None, limit(40)), RejectKind::Conflict);
    // Removing it (`null`) gives the item back.
    log.ok(update("acme", None, cap(Some(7))));
    log.ok(update("acme", None, cap(None)));
    assert_eq!(log.state.tenants["acme"].session_cap, None);
    assert_eq!(
        served_limits(&log.state, "2025-01-15"),
        [("acme".into(), 20_000)]
    );
    // JSON: absent leaves it, null removes it, a number sets it.
    let parse = |s: &str| serde_json::from_str::<TenantPatch>(s).expect("a patch");
    assert_eq!(parse("{}").session_cap, None);
    assert_eq!(parse(r#"{"session_cap": null}"#).session_cap, Some(None));
    assert_eq!(parse(r#"{"session_cap": 40}"#).session_cap, Some(Some(40)));
    let round_trip = serde_json::to_string(&cap(None)).expect("json");
    assert_eq!(parse(&round_trip), cap(None));
}

#[test]
fn cancelled_and_ending_contracts_leave_service_on_their_end_day() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    log.on("2025-01-15");
    in_service(&mut log, "acme", 20_000);
    in_service(&mut log, "beta", 40_000);
    // acme cancels its bypass (ends Feb 14, notice + 30 days); beta's template ends Mar 31.
    log.ok(contract(
        "acme",
        ContractRequest::Cancel {
            contract: "c2".into(),
            end: EndRequest::default(),
        },
    ));
    let end = EndRequest {
        requested_end: Some(day("2025-03-31")),
        ..EndRequest::default()
    };
    log.ok(contract(
        "beta",
        ContractRequest::Cancel {
            contract: "c1".into(),
            end,
        },
    ));
    let both = [("acme".to_string(), 20_000), ("beta".to_string(), 40_000)];
    assert_eq!(served_limits(&log.state, "2025-02-13"), both);
    assert_eq!(
        served_limits(&log.state, "2025-02-14"),
        [("beta".to_string(), 40_000)]
    );
    assert_eq!(served_limits(&log.state, "2025-03-30"), [both[1].clone()]);
    assert_eq!(served_limits(&log.state, "2025-03-31"), []);
    let next = |d: &str| next_policy_change(&log.state, "tokyo", day(d));
    assert_eq!(next("2025-01-15"), Some(day("2025-02-14")));
    assert_eq!(next("2025-02-14"), Some(day("2025-03-31")));

    // Out of service, each with why: acme has no bypass in force, beta no template.
    let out = |d: &str| -> Vec<(String, String)> {
        crate::state::out_of_service(&log.state, "tokyo", day(d))
            .into_iter()
            .map(|o| (o.tenant, o.reason))
            .collect()
    };
    assert_eq!(out("2025-02-13"), []);
    let no_bypass = "art. 6-1: no cloud-bypass or external-integration contract in force";
    assert_eq!(out("2025-02-14"), [("acme".into(), no_bypass.into())]);
    let no_template = "art. 6-1: no list-template contract in force";
    assert_eq!(
        out("2025-03-31"),
        [
            ("acme".into(), no_bypass.into()),
            ("beta".into(), no_template.into())
        ]
    );
}

#[test]
fn the_log_keeps_its_day_and_a_tick_is_due_only_on_a_change() {
    use crate::state::tick_due;
    use crate::state::Tick;
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 40_000);
    log.ok(contract("acme", change("c2", 120_000, "2025-02-01")));
    assert_eq!(log.state.policy_day(), day("2025-01-15"));
    // Nothing changes before Feb 1.
    assert_eq!(tick_due(&log.state, day("2025-01-15")), None);
    assert_eq!(tick_due(&log.state, day("2025-01-31")), None);
    assert_eq!(
        tick_due(&log.state, day("2025-02-01")),
        Some(day("2025-02-01"))
    );
    // A later day first seen ticks to that day.
    assert_eq!(
        tick_due(&log.state, day("2025-02-03")),
        Some(day("2025-02-03"))
    );
    log.on("2025-02-01");
    log.ok(Command::Tick(Tick {
        day: day("2025-02-01"),
    }));
    assert_eq!(log.state.policy_day(), day("2025-02-01"));
    assert_eq!(tick_due(&log.state, day("2025-02-02")), None);
    // The log's day never goes back: a write stamped earlier (another proposer's clock) or an
    // old tick leaves it.
    log.on("2025-01-31");
    log.ok(Command::Tick(Tick {
        day: day("2025-01-20"),
    }));
    assert_eq!(log.state.policy_day(), day("2025-02-01"));
    let last = log.state.audit.last().expect("audited");
    assert_eq!(
        (last.action.as_str(), last.target.as_str()),
        ("clock.tick", "day/2025-01-20")
    );
}

fn pac(settings: Option<breakout_policy::pac::PacSettings>) -> TenantPatch {
    TenantPatch {
        pac: Some(settings),
        ..TenantPatch::default()
    }
}

#[test]
fn pac_settings_need_the_pac_option_once_contracts_exist() {
    let settings = || Some(breakout_policy::pac::PacSettings::default());
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    // No contracts yet (a test or standalone setup): not restricted.
    log.ok(update("acme", None, pac(settings())));
    in_service(&mut log, "acme", 20_000);
    // Stored from before, but edges get no PAC while the option is not in force (art. 10-3).
    let edges = region_policy_at(&log.state, "tokyo", day("2025-01-15"));
    assert_eq!(edges.tenants.len(), 1);
    assert!(edges.tenants[0].pac.is_none());
    let msg = log.rejected(update("acme", None, pac(settings())), RejectKind::Conflict);
    assert!(
        msg.starts_with("art. 6-4: tenant acme does not hold the pac option"),
        "{msg}"
    );
    log.ok(contract(
        "acme",
        ContractRequest::AddOption {
            kind: OptionKind::Pac,
            billing_start: None,
        },
    ));
    log.ok(update("acme", None, pac(settings())));
    assert!(log.state.tenants["acme"].tenant.pac.is_some());
    let edges = region_policy_at(&log.state, "tokyo", day("2025-01-15"));
    assert!(
        edges.tenants[0].pac.is_some(),
        "the option is in force: edges get the settings"
    );
    // Settings are validated like the rest of the tenant.
    let mut bad = breakout_policy::pac::PacSettings::default();
    bad.upstream_proxies
        .insert("nope".into(), vec!["proxy.example:3128".into()]);
    let msg = log.rejected(update("acme", None, pac(Some(bad))), RejectKind::Invalid);
    assert!(msg.contains("pac.upstream_proxies[nope]"), "{msg}");
    // Removing them is always allowed.
    log.ok(update("acme", None, pac(None)));
    assert!(log.state.tenants["acme"].tenant.pac.is_none());
}
