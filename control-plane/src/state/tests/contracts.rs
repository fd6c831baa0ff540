//! Contracts through `apply`: decided on the request's day, stored, audited; refusals change
//! nothing; what edges are given follows the contracts.

use chrono::NaiveDate;

use super::*;
use crate::contracts::{
    capacities, Attributes, ContractKind, ContractOrder, ContractRequest, EndRequest, Fees,
    OptionKind, PriceBook, TemplateItem,
};
use crate::state::{next_policy_change, region_policy_at};
use crate::state::{ContractChange, DeleteTenant, SetPriceBook, WithdrawTemplate};

pub(super) fn day(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

pub(super) fn contract(tenant: &str, request: ContractRequest) -> Command {
    Command::Contract(ContractChange {
        tenant: tenant.into(),
        request,
    })
}

pub(super) fn backbone() -> ContractRequest {
    ContractRequest::SetAttributes {
        attributes: Attributes {
            private_backbone: true,
            internet_access_contract_date: None,
        },
    }
}

pub(super) fn order(kind: ContractKind) -> ContractOrder {
    ContractOrder {
        kind,
        item: None,
        plan: None,
        capacity: None,
        region: None,
        billing_start: None,
        options: Vec::new(),
    }
}

pub(super) fn add_template(item: TemplateItem) -> ContractRequest {
    let order = ContractOrder {
        item: Some(item),
        ..order(ContractKind::ListTemplate)
    };
    ContractRequest::AddContract { order }
}

pub(super) fn add_bypass(capacity: u32) -> ContractRequest {
    let order = ContractOrder {
        capacity: Some(capacity),
        ..order(ContractKind::CloudBypass)
    };
    ContractRequest::AddContract { order }
}

pub(super) fn change(id: &str, capacity: u32, effective: &str) -> ContractRequest {
    ContractRequest::ChangeCapacity {
        contract: id.into(),
        capacity,
        effective: Some(day(effective)),
    }
}

/// `id` in tokyo gets a private backbone, an m365 template (c1) and a cloud bypass (c2).
pub(super) fn in_service(log: &mut Log, id: &str, capacity: u32) {
    log.ok(contract(id, backbone()));
    log.ok(contract(id, add_template(TemplateItem::Microsoft365)));
    log.ok(contract(id, add_bypass(capacity)));
}

pub(super) fn limit(n: u32) -> TenantPatch {
    TenantPatch {
        session_limit: Some(n),
        ..TenantPatch::default()
    }
}

pub(super) fn price_book() -> PriceBook {
    let fees = |monthly| Fees {
        initial: 0,
        monthly,
        one_time: 0,
    };
    PriceBook {
        list_template: TemplateItem::ALL
            .iter()
            .map(|i| (*i, fees(1_000)))
            .collect(),
        cloud_bypass: capacities().map(|c| (c, fees(u64::from(c)))).collect(),
        external_integration: fees(500),
        options: OptionKind::ALL
            .iter()
            .map(|k| (*k, Fees::default()))
            .collect(),
    }
}

#[test]
fn contract_writes_are_decided_on_the_requests_day_and_audited() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 40_000);
    let held = &log.state.contracts["acme"];
    assert_eq!(held.contracts[1].term.applied, day("2025-01-15"));
    assert_eq!(held.contracts[1].created_version, 6);
    let audited: Vec<_> = log
        .state
        .audit
        .iter()
        .skip(3)
        .map(|e| (e.action.as_str(), e.target.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        audited,
        [
            ("tenant.attributes", "tenant/acme/attributes", "ok"),
            ("contract.add", "tenant/acme/contracts", "ok"),
            ("contract.add", "tenant/acme/contracts", "ok"),
        ]
    );
}

#[test]
fn a_refused_contract_request_changes_only_the_version_and_the_audit_log() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 40_000);
    let before = content(&log.state);
    let msg = log.rejected(
        contract("acme", change("c2", 400_000, "2025-02-01")),
        RejectKind::Conflict,
    );
    assert_eq!(
        msg,
        "art. 9: capacity may change only within the same plan (plan 1 → plan 2 refused)"
    );
    assert_eq!(content(&log.state), before);
    let last = log.state.audit.last().expect("audited");
    assert_eq!(
        (last.action.as_str(), last.result.as_str()),
        ("contract.capacity", msg.as_str())
    );

    let msg = log.rejected(contract("ghost", backbone()), RejectKind::NotFound);
    assert_eq!(msg, "tenant ghost does not exist");
    assert_eq!(content(&log.state), before);
}

#[test]
fn the_session_limit_is_not_typed_once_a_cloud_bypass_is_held() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    log.ok(update("acme", None, limit(500)));
    in_service(&mut log, "acme", 20_000);
    let msg = log.rejected(update("acme", None, limit(999)), RejectKind::Conflict);
    assert!(
        msg.starts_with("art. 9: tenant acme's session limit follows the capacity item of its cloud-bypass contract c2"),
        "{msg}"
    );
    // Other fields still change.
    let patch = TenantPatch {
        default_action: Some(Action::Block),
        ..TenantPatch::default()
    };
    log.ok(update("acme", None, patch));
}

#[test]
fn a_tenant_is_deleted_only_once_its_contracts_have_ended() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 20_000);
    let delete = || {
        Command::DeleteTenant(DeleteTenant {
            id: "acme".into(),
            if_match: None,
        })
    };
    let msg = log.rejected(delete(), RejectKind::Conflict);
    assert_eq!(
        msg,
        "art. 1: tenant acme still holds c1, c2; end them before deleting the tenant"
    );
    for id in ["c1", "c2"] {
        let end = EndRequest::default();
        log.ok(contract(
            "acme",
            ContractRequest::Cancel {
                contract: id.into(),
                end,
            },
        ));
    }
    log.on("2025-02-13");
    log.rejected(delete(), RejectKind::Conflict);
    log.on("2025-02-14");
    log.ok(delete());
    assert!(!log.state.contracts.contains_key("acme"));
}

#[test]
fn edges_are_given_tenants_in_service_with_the_limit_of_their_item() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    log.ok(create(tenant("gamma", "tokyo", &["10.2.0.0/16"])));
    log.on("2025-01-15");
    in_service(&mut log, "acme", 40_000);
    log.ok(contract(
        "gamma",
        add_template(TemplateItem::GoogleWorkspace),
    ));
    log.ok(contract("acme", change("c2", 120_000, "2025-02-01")));

    let served = |date: &str| -> Vec<(String, u32)> {
        let policy = region_policy_at(&log.state, "tokyo", day(date));
        breakout_policy::validate::validate(&policy).expect("a valid policy");
        assert_eq!(policy.version, log.state.version);
        policy
            .tenants
            .iter()
            .map(|t| (t.id.clone(), t.session_limit))
            .collect()
    };
    assert_eq!(served("2025-01-14"), []);
    assert_eq!(served("2025-01-15"), [("acme".to_string(), 40_000)]);
    assert_eq!(served("2025-02-01"), [("acme".to_string(), 120_000)]);
    assert!(region_policy_at(&log.state, "osaka", day("2025-02-01"))
        .tenants
        .is_empty());
    // The policy changes on Feb 1 with no new version: whoever serves it must look again then.
    let next = |d: &str| next_policy_change(&log.state, "tokyo", day(d));
    assert_eq!(next("2025-01-15"), Some(day("2025-02-01")));
    assert_eq!(next("2025-02-01"), None);
    assert_eq!(
        next_policy_change(&log.state, "osaka", day("2025-01-01")),
        None
    );
    // beta and gamma are named for refusal, each with why.
    let out = crate::state::out_of_service(&log.state, "tokyo", day("2025-02-01"));
    let names: Vec<_> = out.iter().map(|o| o.tenant.as_str()).collect();
    assert_eq!(names, ["beta", "gamma"]);
    assert_eq!(
        out[1].reason,
        "art. 6-1: no cloud-bypass or external-integration contract in force"
    );
}

#[test]
fn withdrawal_ends_every_tenants_contracts_for_the_item_and_is_recorded() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    log.on("2025-01-15");
    in_service(&mut log, "acme", 20_000);
    in_service(&mut log, "beta", 20_000);
    log.ok(contract(
        "beta",
        add_template(TemplateItem::GoogleWorkspace),
    ));
    let withdraw = |effective: &str| {
        Command::WithdrawTemplate(WithdrawTemplate {
            item: TemplateItem::Microsoft365,
            effective: Some(day(effective)),
        })
    };
    let msg = log.rejected(withdraw("2025-01-14"), RejectKind::Invalid);
    assert!(
        msg.starts_with("art. 11: effective: 2025-01-14 is in the past"),
        "{msg}"
    );
    log.ok(withdraw("2025-03-01"));
    for id in ["acme", "beta"] {
        let c1 = &log.state.contracts[id].contracts[0];
        assert_eq!(
            (c1.term.effective_end, c1.term.provider_fault),
            (Some(day("2025-03-01")), true)
        );
    }
    assert_eq!(
        log.state.withdrawn[&TemplateItem::Microsoft365],
        day("2025-03-01")
    );
    let served: Vec<String> = region_policy_at(&log.state, "tokyo", day("2025-03-01"))
        .tenants
        .into_iter()
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(
        served,
        ["beta"],
        "acme has no template left; beta has google-workspace"
    );
    let msg = log.rejected(withdraw("2025-04-01"), RejectKind::Conflict);
    assert_eq!(
        msg,
        "art. 11: template microsoft365 is already withdrawn from 2025-03-01"
    );
    let last = log.state.audit.last().expect("audited");
    assert_eq!(
        (last.action.as_str(), last.target.as_str()),
        ("template.withdraw", "template/microsoft365")
    );
}

#[test]
fn price_books_are_kept_by_the_day_they_apply_from() {
    let mut log = Log::new();
    log.on("2025-01-15");
    let set = |effective_from: Option<&str>, prices: PriceBook| {
        Command::SetPriceBook(SetPriceBook {
            effective_from: effective_from.map(day),
            prices,
        })
    };
    let v = log.ok(set(None, price_book()));
    log.ok(set(Some("2025-04-01"), price_book()));
    let days: Vec<_> = log
        .state
        .price_books
        .keys()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(days, ["2025-01-15", "2025-04-01"]);
    assert_eq!(log.state.price_books[&day("2025-01-15")].version, v);

    let msg = log.rejected(set(Some("2025-01-14"), price_book()), RejectKind::Invalid);
    assert!(
        msg.starts_with("art. 13: effective_from: 2025-01-14 is in the past"),
        "{msg}"
    );
    let mut partial = price_book();
    partial.options.remove(&OptionKind::Pac);
    let msg = log.rejected(set(None, partial), RejectKind::Invalid);
    assert_eq!(msg, "annex 1: options: no fees for pac");
    assert_eq!(log.state.price_books.len(), 2);
}

#[test]
fn contract_state_and_commands_survive_a_json_round_trip() {
    // Snapshots and log entries are JSON: dates and enum keys must come back as they went.
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 40_000);
    log.ok(Command::SetPriceBook(SetPriceBook {
        effective_from: None,
        prices: price_book(),
    }));
    let withdraw = Command::WithdrawTemplate(WithdrawTemplate {
        item: TemplateItem::AzureExpressroute,
        effective: Some(day("2025-06-30")),
    });
    log.ok(withdraw.clone());
    let text = serde_json::to_string(&log.state).expect("serialize");
    let back: State = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, log.state);
    let order = ContractOrder {
        billing_start: Some(day("2025-02-01")),
        options: vec![OptionKind::InitialSetup, OptionKind::Pac],
        plan: Some(1),
        ..order(ContractKind::CloudBypass)
    };
    let end = EndRequest {
        requested_end: Some(day("2025-06-30")),
        provider_fault: true,
        stop_options: true,
    };
    let commands = [
        contract("acme", change("c2", 120_000, "2025-02-01")),
        contract("acme", ContractRequest::AddContract { order }),
        contract(
            "acme",
            ContractRequest::Cancel {
                contract: "c2".into(),
                end: end.clone(),
            },
        ),
        contract(
            "acme",
            ContractRequest::StopOption {
                kind: OptionKind::Pac,
                end,
            },
        ),
        contract(
            "acme",
            ContractRequest::AddOption {
                kind: OptionKind::Pac,
                billing_start: Some(day("2025-03-01")),
            },
        ),
        Command::SetPriceBook(SetPriceBook {
            effective_from: Some(day("2025-04-01")),
            prices: price_book(),
        }),
        withdraw,
    ];
    // Every command is an internally tagged enum: serde buffers its fields before reading them.
    for c in commands {
        let text = serde_json::to_string(&c).expect("serialize");
        assert_eq!(
            serde_json::from_str::<Command>(&text).expect("deserialize"),
            c
        );
    }
    // A state written before contracts existed still reads.
    let old: State =
        serde_json::from_str(r#"{"version":3,"regions":{},"tenants":{},"tokens":{},"audit":[]}"#)
            .expect("an old snapshot");
    assert!(old.contracts.is_empty() && old.price_books.is_empty());
}
