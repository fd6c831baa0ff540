//! What is due to whom, and the business-day hold, against a memory store. The SMTP
//! conversation itself is tested end to end (tests/tests/templates.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use breakout_policy::{Action, Tenant};
use chrono::Utc;

use super::*;
use crate::state::{TemplateRecord, TemplateVersion, TenantRecord};
use crate::store::memory::MemoryStore;
use crate::store::NodeAddr;
use crate::templates::model::test_set;
use crate::templates::select::Subscription;
use crate::templates::TemplateContent;

const ITEM: TemplateItem = TemplateItem::Microsoft365;

fn content(hosts: &[&str]) -> TemplateContent {
    let set = test_set("m365:1", "Exchange", "Optimize", hosts);
    TemplateContent::new(ITEM, "2026112400".into(), vec![set])
}

fn version(number: u32, c: TemplateContent) -> TemplateVersion {
    TemplateVersion {
        number,
        hash: c.hash(),
        fetched_at_ms: 0,
        recorded_version: u64::from(number) + 1,
        diff: None,
        approved_by: None,
        content: c,
    }
}

fn sub(pin: Option<u32>) -> Subscription {
    Subscription {
        groups: Vec::new(),
        categories: Vec::new(),
        required_only: false,
        action: Action::Direct,
        add: Vec::new(),
        exclude: Vec::new(),
        pin,
        instance: None,
    }
}

fn tenant(id: &str, contact: Option<&str>) -> TenantRecord {
    TenantRecord {
        tenant: Tenant {
            id: id.into(),
            region: Some("tokyo".into()),
            source_cidrs: Vec::new(),
            session_limit: 10,
            upstreams: BTreeMap::new(),
            rules: Vec::new(),
            default_action: Action::Block,
            lists: BTreeMap::new(),
            egress_address: None,
            pac: None,
        },
        created_version: 1,
        changed_version: 1,
        session_cap: None,
        ops_contact: contact.map(str::to_string),
        notify_business_days: false,
    }
}

/// Template v0 → v1 live (one host added), told about v0; `acme` (contact), `pinned` (contact,
/// pinned), `quiet` (no contact) subscribed.
fn state() -> State {
    let mut s = State::default();
    let record = TemplateRecord {
        versions: vec![
            version(0, content(&["a.example.com"])),
            version(1, content(&["a.example.com", "b.example.com"])),
        ],
        live: Some(1),
        quarantine: Vec::new(),
        next: 2,
        checked: Default::default(),
    };
    s.templates.insert(ITEM, Arc::new(record));
    s.notified.insert(ITEM, 0);
    for (id, contact, pin) in [
        ("acme", Some("ops@acme.example"), None),
        ("pinned", Some("ops@pinned.example"), Some(0)),
        ("quiet", None, None),
    ] {
        s.tenants.insert(id.into(), Arc::new(tenant(id, contact)));
        s.subscriptions
            .insert(id.into(), Arc::new(BTreeMap::from([(ITEM, sub(pin))])));
    }
    s
}

#[test]
fn only_unpinned_subscribers_with_a_contact_are_mailed_once_per_live_version() {
    let s = state();
    let due = due(&s);
    assert_eq!(due.len(), 1);
    let (item, version, mails) = &due[0];
    assert_eq!((*item, *version), (ITEM, 1));
    let to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(to, ["ops@acme.example"]);
    assert!(mails[0].body.contains("+ b.example.com"));

    let mut told = s.clone();
    told.notified.insert(ITEM, 1);
    assert!(due_of(&told).is_empty());

    // Never told about: recorded without mail (a first version is no change).
    let mut first = s;
    first.notified.clear();
    assert_eq!(due_of(&first), vec![(ITEM, 1, 0)]);
}

fn due_of(s: &State) -> Vec<(TemplateItem, u32, usize)> {
    due(s)
        .into_iter()
        .map(|(i, v, m)| (i, v, m.len()))
        .collect()
}

fn notifier(
    store: Arc<MemoryStore>,
    relay: &str,
    calendar: BusinessDays,
    hold_all: bool,
) -> Notifier {
    let mailer = Mailer::new(&SmtpConfig {
        relay: relay.to_string(),
        from: "breakout@ops.example".into(),
        starttls: false,
    })
    .expect("mailer");
    Notifier {
        store,
        node_id: 1,
        mailer,
        calendar,
        hold_all,
        metrics: Metrics::register(&Registry::new()).expect("metrics"),
        clock: crate::clock::system(),
    }
}

fn addr() -> NodeAddr {
    NodeAddr {
        api: "127.0.0.1:1".into(),
        raft: "127.0.0.1:2".into(),
    }
}

async fn notified(store: &MemoryStore) -> Option<u32> {
    let s = store.read(Consistency::Stale).await.expect("read");
    s.notified.get(&ITEM).copied()
}

/// A calendar on which every day of the next two years is a holiday.
fn always_closed() -> BusinessDays {
    let today = Utc::now().date_naive();
    let holidays: BTreeSet<_> = (0..800)
        .map(|d| today + chrono::Duration::days(d))
        .collect();
    BusinessDays::new(9, holidays).expect("UTC+9")
}

/// One look of a notifier whose relay is not listening: (send attempts, version told).
async fn one_look(state: State, hold_all: bool) -> (u64, Option<u32>) {
    let store = MemoryStore::with_state(1, addr(), state);
    let n = notifier(store.clone(), "127.0.0.1:9", always_closed(), hold_all);
    let mut sent = BTreeSet::new();
    let wait = n.once(&mut sent).await;
    assert!(wait <= RECHECK);
    let attempts = ["ok", "error"]
        .iter()
        .map(|r| n.metrics.sent.with_label_values(&[r]).get())
        .sum();
    (attempts, notified(&store).await)
}

#[tokio::test]
async fn held_mails_wait_for_business_hours_and_nothing_is_recorded() {
    // The operator holds every tenant's mails.
    assert_eq!(one_look(state(), true).await, (0, Some(0)));
    // The tenant asked for business days.
    let mut s = state();
    if let Some(r) = s.tenants.get_mut("acme") {
        Arc::make_mut(r).notify_business_days = true;
    }
    assert!(due(&s)[0].2[0].held);
    assert_eq!(one_look(s, false).await, (0, Some(0)));
    // Neither: the mail is tried at once (and fails here: nothing listens), so not recorded.
    assert_eq!(one_look(state(), false).await, (1, Some(0)));
}
