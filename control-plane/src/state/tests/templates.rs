//! Templates in the store: versions, the guard's quarantine, approve/reject/rollback, and
//! subscriptions reaching what edges are given.

use super::contracts::*;
use super::*;
use crate::contracts::TemplateItem;
use crate::state::{region_policy_at, Fetched};
use crate::state::{
    ApproveTemplate, RecordTemplate, RejectTemplate, RollbackTemplate, SetSubscription,
    WithdrawTemplate,
};
use crate::templates::m365::template;
use crate::templates::select::Subscription;
use crate::templates::TemplateContent;

const M365: &str = include_str!("../../../../tests/fixtures/m365-worldwide-endpoints.json");
const ITEM: TemplateItem = TemplateItem::Microsoft365;

fn fetched(content: Option<TemplateContent>, source_version: &str) -> Command {
    Command::RecordTemplate(RecordTemplate {
        item: ITEM,
        fetched: Fetched {
            source_version: source_version.into(),
            fetched_at_ms: 1,
            error: content.is_none().then(|| "EOF while parsing".into()),
            content,
            instance: None,
        },
        max_shrink_percent: 20,
    })
}

fn v1() -> TemplateContent {
    template(M365, "2025010100").expect("fixture")
}

/// v1 with one host added to set 1.
fn v2() -> TemplateContent {
    let mut c = v1();
    c.source_version = "2025020100".into();
    c.sets[0].hosts.push("new.outlook.example".into());
    TemplateContent::new(ITEM, c.source_version, c.sets)
}

fn live(state: &State) -> u32 {
    state.templates[&ITEM].live.expect("a live version")
}

#[test]
fn a_changed_fetch_is_a_new_live_version_with_its_diff() {
    let mut log = Log::new();
    log.ok(fetched(Some(v1()), "2025010100"));
    assert_eq!(live(&log.state), 0);
    // The same content again (another vendor version) is no new version.
    log.ok(fetched(Some(v1()), "2025010101"));
    assert_eq!(log.state.templates[&ITEM].versions.len(), 1);
    log.ok(fetched(Some(v2()), "2025020100"));
    let rec = &log.state.templates[&ITEM];
    assert_eq!(rec.live, Some(1));
    let d = rec.versions[1].diff.as_ref().expect("a diff");
    assert_eq!(d.sets[0].added_hosts, ["new.outlook.example"]);
    assert!(rec.seen(None, "2025020100"));
}

#[test]
fn corrupted_truncated_and_shrunk_fetches_are_quarantined_and_audited() {
    let mut log = Log::new();
    log.ok(fetched(Some(v1()), "1"));
    log.ok(fetched(None, "2"));
    let mut half = v1();
    half.sets.truncate(half.sets.len() / 3);
    log.ok(fetched(Some(half), "3"));
    let rec = &log.state.templates[&ITEM];
    assert_eq!(rec.live, Some(0), "the last good version stays live");
    assert_eq!(rec.quarantine.len(), 2);
    assert!(rec.quarantine[0].reason.starts_with("unparsable"));
    assert!(rec.quarantine[1].reason.starts_with("shrunk"));
    let held: Vec<&str> = log
        .state
        .audit
        .iter()
        .filter(|e| e.action == "template.quarantine")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(
        held,
        [
            "template/microsoft365/candidate/1",
            "template/microsoft365/candidate/2"
        ]
    );
    // The unparsable one can only be rejected; the shrunk one is approved.
    log.rejected(
        Command::ApproveTemplate(ApproveTemplate {
            item: ITEM,
            candidate: 1,
        }),
        RejectKind::Invalid,
    );
    log.ok(Command::RejectTemplate(RejectTemplate {
        item: ITEM,
        candidate: 1,
    }));
    log.ok(Command::ApproveTemplate(ApproveTemplate {
        item: ITEM,
        candidate: 2,
    }));
    let rec = &log.state.templates[&ITEM];
    assert!(rec.quarantine.is_empty());
    assert_eq!(rec.live, Some(3));
    assert_eq!(rec.versions[1].approved_by.as_deref(), Some("operator"));
}

#[test]
fn rollback_makes_a_kept_version_live() {
    let mut log = Log::new();
    log.ok(fetched(Some(v1()), "1"));
    log.ok(fetched(Some(v2()), "2"));
    log.ok(Command::RollbackTemplate(RollbackTemplate {
        item: ITEM,
        to: 0,
    }));
    assert_eq!(live(&log.state), 0);
    log.rejected(
        Command::RollbackTemplate(RollbackTemplate { item: ITEM, to: 9 }),
        RejectKind::NotFound,
    );
}

#[test]
fn history_is_bounded_but_keeps_live_and_pinned_versions() {
    let mut log = Log::new();
    for i in 0..(crate::state::TEMPLATE_HISTORY + 5) {
        let mut c = v1();
        c.sets[0].hosts.push(format!("h{i}.example"));
        log.ok(fetched(
            Some(TemplateContent::new(ITEM, i.to_string(), c.sets)),
            &i.to_string(),
        ));
    }
    let rec = &log.state.templates[&ITEM];
    assert_eq!(rec.versions.len(), crate::state::TEMPLATE_HISTORY);
    assert_eq!(rec.live, rec.versions.last().map(|v| v.number));
}

fn sub() -> Subscription {
    Subscription {
        groups: Vec::new(),
        categories: vec![Category::new("Optimize"), Category::new("Allow")],
        required_only: false,
        action: Action::Direct,
        add: vec!["intranet.example.com".parse().expect("dest")],
        exclude: Vec::new(),
        pin: None,
        instance: None,
    }
}

use crate::templates::Category;

fn subscribe(s: Option<Subscription>) -> Command {
    Command::SetSubscription(SetSubscription {
        tenant: "acme".into(),
        item: ITEM,
        subscription: s,
    })
}

fn served_list(state: &State) -> Option<Vec<String>> {
    let p = region_policy_at(state, "tokyo", day("2025-01-15"));
    let t = p.tenants.iter().find(|t| t.id == "acme")?;
    let l = t.lists.get("template-microsoft365")?;
    Some(l.entries.iter().map(|d| d.to_string()).collect())
}

#[test]
fn a_subscription_needs_its_contract_and_reaches_the_region_policy() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    log.ok(fetched(Some(v1()), "1"));
    let msg = log.rejected(subscribe(Some(sub())), RejectKind::Conflict);
    assert!(msg.contains("art. 2"), "{msg}");
    in_service(&mut log, "acme", 20_000);
    log.ok(subscribe(Some(sub())));
    let entries = served_list(&log.state).expect("served");
    assert!(entries.contains(&"outlook.office365.com".to_string()));
    assert!(
        entries.contains(&"intranet.example.com".to_string()),
        "overrides kept"
    );
    // An update reaches the list; the override survives it.
    log.ok(fetched(Some(v2()), "2"));
    let entries = served_list(&log.state).expect("served");
    assert!(entries.contains(&"new.outlook.example".to_string()));
    assert!(entries.contains(&"intranet.example.com".to_string()));
    // Pinned to version 0: the update is not taken.
    log.ok(subscribe(Some(Subscription {
        pin: Some(0),
        ..sub()
    })));
    let entries = served_list(&log.state).expect("served");
    assert!(!entries.contains(&"new.outlook.example".to_string()));
    log.rejected(
        subscribe(Some(Subscription {
            pin: Some(7),
            ..sub()
        })),
        RejectKind::NotFound,
    );
    log.rejected(
        subscribe(Some(Subscription {
            action: Action::Upstream("nope".into()),
            ..sub()
        })),
        RejectKind::Invalid,
    );
    log.ok(subscribe(None));
    assert_eq!(served_list(&log.state), None);
}

#[test]
fn a_withdrawn_template_leaves_the_policy_and_refuses_subscriptions() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    log.ok(fetched(Some(v1()), "1"));
    in_service(&mut log, "acme", 20_000);
    log.ok(subscribe(Some(sub())));
    assert!(served_list(&log.state).is_some());
    log.ok(Command::WithdrawTemplate(WithdrawTemplate {
        item: ITEM,
        effective: None,
    }));
    assert_eq!(served_list(&log.state), None);
    let msg = log.rejected(subscribe(Some(sub())), RejectKind::Conflict);
    assert!(msg.contains("art. 11") || msg.contains("art. 2"), "{msg}");
}
