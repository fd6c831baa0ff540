//! The console's tenant pages beyond sign-in and lists: the PAC preview with its diff against
//! the live file, template subscriptions with the diff of their last change, webhooks and their
//! deliveries, the session series another node's console asks for; and a console write on a
//! follower, made on the leader.

use crate::api_common;
use crate::console_common;

use api_common::*;
use breakout_control::contracts::TemplateItem;
use breakout_control::state::{Command, Fetched, RecordTemplate, Request};
use breakout_control::store::{NodeAddr, Store};
use breakout_control::templates::m365;
use breakout_control::templates::snapshot::M365_WORLDWIDE;
use console_common::*;
use reqwest::Method;
use serde_json::json;

/// `value` as a query parameter.
fn query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn the_pac_page_previews_settings_with_the_diff_against_the_live_file() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/pac")
        .json(&json!({ "proxies": ["edge.example:3128"] }));
    expect_version(send(put).await, 200).await;
    let token = api.token("acme").await;
    let mut b = Browser::new(&api);
    b.sign_in(&token).await;

    let p = b.get("/ui/t/acme/pac").await;
    assert_eq!(p.status, 200, "{}", p.html);
    // minijinja escapes `/` as `&#x2f;`.
    let url = "http:&#x2f;&#x2f;edge.example:3128&#x2f;pac&#x2f;acme.pac";
    assert!(p.html.contains(url), "{}", p.html);
    assert!(p.html.contains("id=\"pac-live\""), "{}", p.html);

    // The same settings: no difference.
    let same = query(r#"{"proxies": ["edge.example:3128"]}"#);
    let p = b.get(&format!("/ui/t/acme/pac?settings={same}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("No difference"), "{}", p.html);
    assert!(!p.html.contains("id=\"pac-diff\""), "{}", p.html);

    // A proposal: the diff shows the new exception as an added line.
    let proposed =
        query(r#"{"proxies": ["edge.example:3128"], "direct_exceptions": ["*.corp.example"]}"#);
    let p = b.get(&format!("/ui/t/acme/pac?settings={proposed}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    let diff = p
        .html
        .split("id=\"pac-diff\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no diff: {}", p.html));
    assert!(
        diff.contains("<ins>+") && diff.contains("corp.example"),
        "{diff}"
    );
    // Nothing was saved.
    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert!(
        view["pac"]
            .get("direct_exceptions")
            .is_none_or(|d| d == &json!([])),
        "{view}"
    );

    // Settings that are not settings: the error next to the field.
    let p = b
        .get(&format!(
            "/ui/t/acme/pac?settings={}",
            query("{\"proxies\": 3}")
        ))
        .await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("id=\"pac-settings-error\""), "{}", p.html);
    assert!(p.html.contains("aria-invalid=\"true\""), "{}", p.html);

    // Settings that name no proxy (each edge writes its own address): still a live file.
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/pac")
        .json(&json!({ "proxies": [] }));
    expect_version(send(put).await, 200).await;
    let p = b.get("/ui/t/acme/pac").await;
    assert!(p.html.contains("id=\"pac-live\""), "{}", p.html);
    assert!(
        p.html.contains("EDGE:PORT&#x2f;pac&#x2f;acme.pac"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("role=\"alert\""), "{}", p.html);
}

/// Records a Microsoft 365 version made of `sets` of the shipped list.
async fn record(api: &TestApi, version: &str, keep: impl Fn(usize) -> bool) {
    let full = m365::instance_template(M365_WORLDWIDE, version, "Worldwide").expect("snapshot");
    let sets = full
        .sets
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, s)| s.clone())
        .collect();
    let content = breakout_control::templates::TemplateContent {
        sets,
        ..full.clone()
    };
    let req = Request {
        actor: "template-poller".into(),
        at_ms: 1_700_000_000_000,
        command: Command::RecordTemplate(RecordTemplate {
            item: TemplateItem::Microsoft365,
            fetched: Fetched {
                source_version: version.into(),
                fetched_at_ms: 1_700_000_000_000,
                content: Some(content),
                error: None,
                instance: Some("Worldwide".into()),
            },
            max_shrink_percent: 90,
        }),
    };
    api.store.write(req).await.expect("recorded");
}

#[tokio::test]
async fn a_subscribed_template_shows_the_diff_of_its_last_change() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    record(&api, "2026120100", |_| true).await;
    let full = m365::instance_template(M365_WORLDWIDE, "x", "Worldwide").expect("snapshot");
    // The second version drops the first set that has hosts.
    let dropped = full
        .sets
        .iter()
        .position(|s| !s.hosts.is_empty())
        .expect("a set with hosts");
    let gone_host = full.sets[dropped].hosts[0].clone();
    record(&api, "2026120200", |i| i != dropped).await;
    let sub = api
        .op(Method::PUT, "/v1/tenants/acme/templates/microsoft365")
        .json(&json!({ "action": "direct" }));
    let (status, body) = status_json(send(sub).await).await;
    assert!(status == 200 || status == 201, "{status} {body}");

    let token = api.token("acme").await;
    let mut b = Browser::new(&api);
    b.sign_in(&token).await;
    let p = b.get("/ui/t/acme").await;
    assert_eq!(p.status, 200, "{}", p.html);
    let changes = p
        .html
        .split("id=\"changes-microsoft365\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no diff of the last change: {}", p.html));
    assert!(
        changes.contains(&format!("<del>- {gone_host}</del>")),
        "{changes}"
    );
    assert!(
        p.html.contains("2026120200"),
        "the live version's source version"
    );
    // The other tenant, without a subscription, sees none of it.
    let other = api.token("other").await;
    let mut o = Browser::new(&api);
    o.sign_in(&other).await;
    let p = o.get("/ui/t/other").await;
    assert!(!p.html.contains("changes-microsoft365"), "{}", p.html);
}

#[tokio::test]
async fn the_webhooks_page_and_the_series_for_other_nodes_keep_to_the_tenant() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let token = api.token("acme").await;
    let mut b = Browser::new(&api);
    b.sign_in(&token).await;
    let p = b.get("/ui/t/acme/webhooks").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("No deliveries yet"), "{}", p.html);
    assert_eq!(b.get("/ui/t/other/webhooks").await.status, 404);

    // series.json takes a bearer token (another node's console relays the session's), scoped
    // like the API: its own tenant, never another; no token, no answer.
    let own = send(api.with(&token, Method::GET, "/ui/t/acme/series.json")).await;
    let (status, body) = status_json(own).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["series"].is_array(), "{body}");
    let other = send(api.with(&token, Method::GET, "/ui/t/other/series.json")).await;
    assert_eq!(other.status(), 404);
    let anon = send(api.anon(Method::GET, "/ui/t/acme/series.json")).await;
    assert_eq!(anon.status(), 401);
    let op = send(api.op(Method::GET, "/ui/t/other/series.json")).await;
    assert_eq!(op.status(), 200);
}

#[tokio::test]
async fn console_writes_on_a_follower_are_made_on_the_leader() {
    let leader = TestApi::start_console().await;
    let follower = TestApi::start_console_node(2).await;
    // The same tenants on both (a memory store does not replicate), then node 2 follows 1.
    setup(&leader).await;
    setup(&follower).await;
    let leader_addr = NodeAddr {
        api: leader.addr.clone(),
        raft: "raft-of-1:1".into(),
    };
    follower
        .store
        .add_node(1, leader_addr)
        .await
        .expect("a member, as in a real cluster's status");
    follower.store.set_leader(Some((1, leader.addr.clone())));

    let mut b = Browser::new(&follower);
    assert_eq!(b.sign_in(ADMIN).await.status, 303);
    let lists = b.get("/ui/t/acme/lists").await;
    assert_eq!(lists.status, 200, "{}", lists.html);
    let csrf = hidden(&lists.html, "csrf");
    let version = hidden(&lists.html, "if_match");
    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", &csrf),
                ("if_match", &version),
                ("entries", "relayed.example\n"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    // Written on the leader (as the operator), not on the follower's own store.
    let (_, on_leader) = status_json(send(leader.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(
        on_leader["lists"]["blocklist"]["entries"],
        json!(["relayed.example"]),
        "{on_leader}"
    );
    let (_, audit) = status_json(send(leader.op(Method::GET, "/v1/audit")).await).await;
    let last = audit["items"].as_array().and_then(|a| a.last()).cloned();
    assert_eq!(last.unwrap_or_default()["actor"], "operator", "{audit}");
    let local = follower.store.state();
    let kept = local
        .tenants
        .get("acme")
        .map(|r| r.tenant.lists.contains_key("blocklist"));
    assert_eq!(kept, Some(false), "the follower wrote nothing itself");

    // The leader's refusal comes back as the page's: a stale If-Match is shown, not saved.
    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", &csrf),
                ("if_match", &version),
                ("entries", "again.example\n"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.html);
    assert!(p.html.contains("changed since"), "{}", p.html);

    // Pages that need the leader's memory ask it: the chart and the deliveries, no error.
    let p = b.get("/ui/t/acme").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(!p.html.contains("role=\"alert\""), "{}", p.html);
    let p = b.get("/ui/t/acme/webhooks").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(!p.html.contains("role=\"alert\""), "{}", p.html);
}
