//! The notifier against a real SMTP conversation (a sink on 127.0.0.1) and a memory store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use breakout_policy::{Action, Tenant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::state::{TemplateRecord, TemplateVersion, TenantRecord};
use crate::store::memory::MemoryStore;
use crate::store::NodeAddr;
use crate::templates::model::{Category, EndpointSet};
use crate::templates::select::Subscription;
use crate::templates::TemplateContent;

const ITEM: TemplateItem = TemplateItem::Microsoft365;

fn content(hosts: &[&str]) -> TemplateContent {
    let set = EndpointSet {
        id: "m365:1".into(),
        group: "Exchange".into(),
        category: Category::new("Optimize"),
        required: true,
        tcp_ports: Some("443".into()),
        udp_ports: None,
        express_route: false,
        notes: None,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        cidrs: Vec::new(),
    };
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
    };
    s.templates.insert(ITEM, record);
    s.notified.insert(ITEM, 0);
    for (id, contact, pin) in [
        ("acme", Some("ops@acme.example"), None),
        ("pinned", Some("ops@pinned.example"), Some(0)),
        ("quiet", None, None),
    ] {
        s.tenants.insert(id.into(), tenant(id, contact));
        s.subscriptions
            .insert(id.into(), BTreeMap::from([(ITEM, sub(pin))]));
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

/// A minimal SMTP server: accepts every mail and hands (recipient, decoded body) over.
async fn smtp_sink() -> (String, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut rcpt = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt = line[8..].trim().trim_matches(['<', '>']).to_string();
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut data = Vec::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push(l);
                        }
                        let _ = tx.send((rcpt.clone(), decode(&data)));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (addr, rx)
}

/// The body of a single-part message, base64-decoded when it says so.
fn decode(lines: &[String]) -> String {
    let split = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let (head, body) = lines.split_at(split);
    let body: Vec<&str> = body.iter().skip(1).map(String::as_str).collect();
    let base64 = head
        .iter()
        .any(|h| h.eq_ignore_ascii_case("Content-Transfer-Encoding: base64"));
    if !base64 {
        return body.join("\n");
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.concat())
        .expect("base64 body");
    String::from_utf8(bytes).expect("UTF-8 body")
}

fn notifier(store: Arc<MemoryStore>, relay: &str, hold: Option<BusinessDays>) -> Notifier {
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
        hold,
        metrics: Metrics::register(&Registry::new()).expect("metrics"),
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

#[tokio::test]
async fn the_leader_mails_through_the_relay_then_records_it() {
    let (relay, mut inbox) = smtp_sink().await;
    let store = MemoryStore::with_state(1, addr(), state());
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(notifier(store.clone(), &relay, None).run(stop));

    let (to, body) = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("a mail within the deadline")
        .expect("the sink runs");
    assert_eq!(to, "ops@acme.example");
    assert!(body.contains("バージョン 0 → 1"), "{body}");
    assert!(body.contains("version 0 -> 1"), "{body}");
    assert!(body.contains("+ b.example.com"), "{body}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while notified(&store).await != Some(1) {
        assert!(tokio::time::Instant::now() < deadline, "not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    task.await.expect("the notifier stops");
    assert!(inbox.try_recv().is_err(), "one mail only");
}

#[tokio::test]
async fn outside_business_days_mails_wait_and_nothing_is_recorded() {
    let (relay, mut inbox) = smtp_sink().await;
    let store = MemoryStore::with_state(1, addr(), state());
    // Every day of the next two years is a holiday.
    let today = Utc::now().date_naive();
    let holidays: BTreeSet<_> = (0..800)
        .map(|d| today + chrono::Duration::days(d))
        .collect();
    let hold = BusinessDays::new(9, holidays).expect("UTC+9");
    let n = notifier(store.clone(), &relay, Some(hold));
    let mut sent = BTreeSet::new();
    let wait = n.once(&mut sent).await;
    assert!(wait <= RECHECK);
    assert!(inbox.try_recv().is_err());
    assert_eq!(notified(&store).await, Some(0));
}
