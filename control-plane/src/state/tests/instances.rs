//! Microsoft 365 instances within a template (issue 13, item 3): each instance fetched,
//! versioned and guarded on its own; a subscription takes its own instance's sets only; a
//! subscription naming what the template does not hold is refused with the valid names; log
//! entries written before instances were versioned apart read as Worldwide.

use super::contracts::*;
use super::*;
use crate::contracts::TemplateItem;
use crate::state::{region_policy_at, Fetched};
use crate::state::{ApproveTemplate, RecordTemplate, SetSubscription};
use crate::templates::m365::instance_template;
use crate::templates::select::Subscription;
use crate::templates::TemplateContent;

const M365: &str = include_str!("../../../../tests/fixtures/m365-worldwide-endpoints.json");
const ITEM: TemplateItem = TemplateItem::Microsoft365;

/// The fixture as `instance` publishes it: China's hosts under `.cn` instead of `.com`.
fn answer(instance: &str, version: &str) -> TemplateContent {
    let json = match instance {
        "China" => M365.replace(".com\"", ".cn\""),
        _ => M365.to_string(),
    };
    instance_template(&json, version, instance).expect("fixture")
}

fn record(instance: Option<&str>, content: Option<TemplateContent>, version: &str) -> Command {
    Command::RecordTemplate(RecordTemplate {
        item: ITEM,
        fetched: Fetched {
            source_version: version.into(),
            fetched_at_ms: 1,
            error: content.is_none().then(|| "EOF while parsing".into()),
            content,
            instance: instance.map(str::to_string),
        },
        max_shrink_percent: 20,
    })
}

fn ids_of(state: &State, prefix: &str) -> usize {
    let rec = &state.templates[&ITEM];
    let live = rec.live_version().expect("live");
    live.content
        .sets
        .iter()
        .filter(|s| s.id.starts_with(prefix))
        .count()
}

/// `--template-m365-instance China` alone saw the version string Worldwide had recorded and
/// never fetched China's endpoints: versions were recorded without their instance.
#[test]
fn china_polled_alone_is_due_though_worldwide_recorded_the_same_version_string() {
    let mut log = Log::new();
    // An entry written before instances were versioned apart: Worldwide's.
    log.ok(record(
        None,
        Some(answer("Worldwide", "2025010100")),
        "2025010100",
    ));
    let rec = &log.state.templates[&ITEM];
    assert!(rec.seen(Some("Worldwide"), "2025010100"));
    assert!(
        !rec.seen(Some("China"), "2025010100"),
        "China was never fetched"
    );
    log.ok(record(
        Some("China"),
        Some(answer("China", "2025010100")),
        "2025010100",
    ));
    let rec = &log.state.templates[&ITEM];
    assert!(rec.seen(Some("China"), "2025010100"));
    assert_eq!(rec.live, Some(1));
    let worldwide = ids_of(&log.state, "m365:");
    assert!(worldwide > 0 && ids_of(&log.state, "m365-China:") == worldwide);
}

/// A new version of one instance replaces that instance's sets only; a vendor version with
/// unchanged content is noted (not fetched again) without a new template version; a shrunk
/// instance is held, naming its instance, and approving it keeps the other instance.
#[test]
fn each_instance_is_versioned_and_guarded_on_its_own() {
    let mut log = Log::new();
    log.ok(record(
        Some("Worldwide"),
        Some(answer("Worldwide", "1")),
        "1",
    ));
    log.ok(record(Some("China"), Some(answer("China", "1")), "1"));
    let before = ids_of(&log.state, "m365:");
    log.ok(record(
        Some("Worldwide"),
        Some(answer("Worldwide", "2")),
        "2",
    ));
    let rec = &log.state.templates[&ITEM];
    assert_eq!(rec.versions.len(), 2, "the same content is no new version");
    assert!(
        rec.seen(Some("Worldwide"), "2"),
        "but version 2 is not fetched again"
    );
    assert!(rec.seen(Some("China"), "1"));

    let mut shrunk = answer("China", "2");
    shrunk.sets.truncate(3);
    log.ok(record(Some("China"), Some(shrunk), "2"));
    let rec = &log.state.templates[&ITEM];
    assert_eq!(rec.live, Some(1), "the last good version stays live");
    let held = &rec.quarantine[0];
    assert!(
        held.reason.starts_with("shrunk") && held.reason.ends_with("(instance China)"),
        "{}",
        held.reason
    );
    let id = held.id;
    log.ok(Command::ApproveTemplate(ApproveTemplate {
        item: ITEM,
        candidate: id,
    }));
    assert_eq!(ids_of(&log.state, "m365-China:"), 3);
    assert_eq!(ids_of(&log.state, "m365:"), before, "Worldwide untouched");
    let live = log.state.templates[&ITEM].live_version().expect("live");
    assert_eq!(live.content.source_version, "China=2;Worldwide=1");
}

#[test]
fn a_fetch_of_one_instance_holds_only_its_sets() {
    let mut log = Log::new();
    let msg = log.rejected(
        record(Some("China"), Some(answer("Worldwide", "1")), "1"),
        RejectKind::Invalid,
    );
    assert!(msg.contains("is not of instance China"), "{msg}");
}

fn sub(instance: Option<&str>, groups: &[&str]) -> Subscription {
    Subscription {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        categories: Vec::new(),
        required_only: false,
        action: Action::Direct,
        add: Vec::new(),
        exclude: Vec::new(),
        pin: None,
        instance: instance.map(str::to_string),
    }
}

fn subscribe(s: Subscription) -> Command {
    Command::SetSubscription(SetSubscription {
        tenant: "acme".into(),
        item: ITEM,
        subscription: Some(s),
    })
}

fn served(state: &State) -> Vec<String> {
    let p = region_policy_at(state, "tokyo", day("2025-01-15"));
    let t = p.tenants.iter().find(|t| t.id == "acme").expect("served");
    let lists = t.lists.iter().filter(|(n, _)| n.starts_with("template-"));
    lists
        .flat_map(|(_, l)| l.entries.iter().map(|d| d.to_string()))
        .collect()
}

/// `--group Exchange` sent the Worldwide, China and USGov Exchange hosts all direct; a group
/// that does not exist (`m365-China`) was accepted and compiled to nothing.
#[test]
fn a_subscription_takes_its_instance_only_and_names_what_exists() {
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    log.ok(record(
        Some("Worldwide"),
        Some(answer("Worldwide", "1")),
        "1",
    ));
    log.ok(record(Some("China"), Some(answer("China", "1")), "1"));
    in_service(&mut log, "acme", 20_000);

    log.ok(subscribe(sub(Some("China"), &["Exchange"])));
    let entries = served(&log.state);
    assert!(entries.iter().any(|e| e.ends_with(".cn")), "{entries:?}");
    assert!(
        !entries.iter().any(|e| e.ends_with(".com")),
        "no Worldwide host: {entries:?}"
    );
    log.ok(subscribe(sub(None, &["Exchange"])));
    let entries = served(&log.state);
    assert!(entries.contains(&"outlook.office365.com".to_string()));
    assert!(!entries.iter().any(|e| e.ends_with(".cn")), "{entries:?}");

    let msg = log.rejected(subscribe(sub(None, &["m365-China"])), RejectKind::Invalid);
    assert!(
        msg.contains(
            "has no group \"m365-China\"; its groups: Common, Exchange, SharePoint, Skype"
        ),
        "{msg}"
    );
    let msg = log.rejected(subscribe(sub(Some("USGovDoD"), &[])), RejectKind::Invalid);
    assert!(
        msg.contains("holds no sets of instance USGovDoD; it holds: China, Worldwide"),
        "{msg}"
    );
    let mut bad = sub(Some("China"), &[]);
    bad.categories = vec![crate::templates::Category::new("Optimise")];
    let msg = log.rejected(subscribe(bad), RejectKind::Invalid);
    assert!(
        msg.contains("has no category \"Optimise\"; its categories: Optimize, Allow, Default"),
        "{msg}"
    );
}

/// Entries written before: a fetch and a subscription without an instance (Worldwide), as JSON.
#[test]
fn old_log_entries_without_an_instance_read_as_worldwide() {
    let content = serde_json::to_value(answer("Worldwide", "2025010100")).expect("json");
    let old_fetch = serde_json::json!({ "op": "record_template", "item": "microsoft365",
        "fetched": { "source_version": "2025010100", "fetched_at_ms": 1, "content": content },
        "max_shrink_percent": 20 });
    let old_sub = serde_json::json!({ "op": "set_subscription", "tenant": "acme",
        "item": "microsoft365", "subscription": { "groups": ["Exchange"], "action": "direct" } });
    let mut log = Log::with_acme();
    log.on("2025-01-15");
    in_service(&mut log, "acme", 20_000);
    for entry in [old_fetch, old_sub] {
        let command: Command = serde_json::from_value(entry).expect("an old entry reads");
        log.ok(command);
    }
    assert!(log.state.templates[&ITEM].seen(Some("Worldwide"), "2025010100"));
    assert!(served(&log.state).contains(&"outlook.office365.com".to_string()));
    // And a Google fetch is still written as before (no instance key).
    let f = Fetched {
        source_version: "1".into(),
        fetched_at_ms: 1,
        content: None,
        error: Some("x".into()),
        instance: None,
    };
    let text = serde_json::to_string(&f).expect("json");
    assert!(!text.contains("instance"), "{text}");
}
