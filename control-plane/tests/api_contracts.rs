//! Contracts and options over the API: orders, the effective view, refusals that name their
//! article and change nothing, withdrawal.

use crate::api_common;

use api_common::*;
use breakout_control::state::State;
use breakout_control::store::{Consistency, Store};
use chrono::{Days, NaiveDate};
use reqwest::Method;
use serde_json::{json, Value};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn plus(days: u64) -> NaiveDate {
    today() + Days::new(days)
}

/// Region `eu`, tenant `acme` with the private-backbone attribute.
async fn acme(api: &TestApi) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/attributes")
        .json(&json!({ "private_backbone": true }));
    expect_version(send(put).await, 200).await;
}

/// Posts `body` to `path` as the operator; asserts `status`; the answer.
async fn post(api: &TestApi, path: &str, body: Value, status: u16) -> Value {
    let (got, answer) = status_json(send(api.op(Method::POST, path).json(&body)).await).await;
    assert_eq!(got, status, "POST {path} {body}: {answer}");
    answer
}

async fn get(api: &TestApi, path: &str) -> Value {
    let (status, answer) = status_json(send(api.op(Method::GET, path)).await).await;
    assert_eq!(status, 200, "GET {path}: {answer}");
    answer
}

/// acme holds an m365 template (c1) and a 40,000-session bypass (c2) with initial setup (o1)
/// and PAC (o2).
async fn in_service(api: &TestApi) {
    acme(api).await;
    let contracts = "/v1/tenants/acme/contracts";
    post(
        api,
        contracts,
        json!({ "kind": "list-template", "item": "microsoft365" }),
        201,
    )
    .await;
    let order = json!({ "kind": "cloud-bypass", "capacity": 40000,
        "options": ["initial-setup", "pac"] });
    post(api, contracts, order, 201).await;
}

/// The stored state without what every write moves on.
async fn content(api: &TestApi) -> State {
    let state = api.store.read(Consistency::Stale).await.expect("state");
    State {
        version: 0,
        audit: Default::default(),
        ..(*state).clone()
    }
}

#[tokio::test]
async fn an_order_creates_the_bypass_with_its_options_and_puts_the_tenant_in_service() {
    let api = TestApi::start().await;
    acme(&api).await;
    let contracts = "/v1/tenants/acme/contracts";
    let answer = post(
        &api,
        contracts,
        json!({ "kind": "list-template", "item": "microsoft365" }),
        201,
    )
    .await;
    assert_eq!(answer["contracts"][0]["id"], "c1");
    assert_eq!(answer["effective"]["in_service"], false);

    tracing::info!("phase: the bypass and its options in one request (10-3)");
    let order = json!({ "kind": "cloud-bypass", "plan": 1, "capacity": 40000,
        "options": ["initial-setup", "pac"] });
    let answer = post(&api, contracts, order, 201).await;
    let c2 = &answer["contracts"][0];
    assert_eq!(
        (
            c2["id"].as_str(),
            c2["region"].as_str(),
            c2["state"].as_str()
        ),
        (Some("c2"), Some("eu"), Some("active"))
    );
    assert_eq!(c2["applied"], json!(today()));
    assert_eq!(
        c2["min_term_end"],
        json!(today().checked_add_months(chrono::Months::new(1)))
    );
    let kinds: Vec<&str> = answer["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["initial-setup", "pac"]);
    assert!(
        answer["options"][0].get("min_term_end").is_none(),
        "initial setup has no minimum term"
    );
    assert_eq!(
        answer["effective"],
        json!({ "in_service": true, "session_limit": 40000,
        "region": "eu", "internet_access": false, "reasons_not_in_service": [] })
    );

    tracing::info!("phase: the tenant view and the lists show the same");
    let view = get(&api, "/v1/tenants/acme").await;
    assert_eq!(view["effective"]["session_limit"], 40000);
    let listed = get(&api, contracts).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed["on"], json!(today()));
    let options = get(&api, "/v1/tenants/acme/options").await;
    assert_eq!(options["items"][1]["state"], "active");
    let attributes = get(&api, "/v1/tenants/acme/attributes").await;
    assert_eq!(
        attributes["attributes"],
        json!({ "private_backbone": true })
    );
}

#[tokio::test]
async fn a_refused_request_changes_nothing_and_names_its_article() {
    let api = TestApi::start().await;
    in_service(&api).await;
    api.region("us").await;
    let cases = [
        (
            Method::PUT,
            "/v1/tenants/acme/session-limit",
            json!({ "session_limit": 5 }),
            409,
            "art. 9: tenant acme's session limit follows",
        ),
        (
            Method::PATCH,
            "/v1/tenants/acme",
            json!({ "session_limit": 5 }),
            409,
            "art. 9: ",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts/c2/capacity",
            json!({ "capacity": 400000 }),
            409,
            "art. 9: capacity may change only within the same plan (plan 1 → plan 2 refused)",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts/c2/capacity",
            json!({ "capacity": 30000 }),
            400,
            "art. 3: capacity: 30,000 sessions is not an item",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/options",
            json!({ "kind": "initial-setup" }),
            400,
            "art. 10-3: initial setup must be ordered in the same request",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/options",
            json!({ "kind": "internet-access" }),
            409,
            "art. 6-3: ",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts",
            json!({ "kind": "list-template", "item": "microsoft365" }),
            409,
            "art. 1: ",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts",
            json!({ "kind": "cloud-bypass", "capacity": 20000, "region": "us" }),
            409,
            "art. 5: ",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts",
            json!({ "kind": "cloud-bypass", "capacity": 20000, "region": "mars" }),
            400,
            "art. 5: region: mars is not in the operator's list",
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/attributes",
            json!({ "private_backbone": false }),
            409,
            "art. 6-2: ",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts/c2/cancel",
            json!({}),
            409,
            "art. 6-4: options initial-setup (o1), pac (o2) need the cloud bypass",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts/c2/cancel",
            json!({ "requested_end": "2000-01-01", "stop_options": true, "extra": 1 }),
            400,
            "request body is wrong shape",
        ),
        (
            Method::DELETE,
            "/v1/tenants/acme",
            Value::Null,
            409,
            "art. 1: tenant acme still holds c1, c2, o1, o2",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/contracts/c9/cancel",
            json!({}),
            404,
            "tenant acme has no contract c9",
        ),
        (
            Method::POST,
            "/v1/tenants/acme/options/pac-man/stop",
            json!({}),
            404,
            "option kind: ",
        ),
    ];
    for (method, path, body, status, start) in cases {
        let before = content(&api).await;
        let mut req = api.op(method.clone(), path);
        if !body.is_null() {
            req = req.json(&body);
        }
        let code = match status {
            400 => "invalid",
            404 => "not_found",
            _ => "conflict",
        };
        let message = expect_error(send(req).await, status, code).await;
        assert!(message.starts_with(start), "{method} {path}: {message}");
        assert_eq!(
            content(&api).await,
            before,
            "{method} {path} changed the state"
        );
    }
}

#[tokio::test]
async fn the_limit_follows_a_capacity_change_from_its_day_and_a_cancellation_takes_the_options() {
    let api = TestApi::start().await;
    in_service(&api).await;
    let change = json!({ "capacity": 120000, "effective": plus(5) });
    let answer = post(&api, "/v1/tenants/acme/contracts/c2/capacity", change, 200).await;
    assert_eq!(
        answer["contract"]["capacity"], 40000,
        "still the old item today"
    );
    assert_eq!(answer["contract"]["capacity_changes"][0]["to"], 120000);
    let on = |d: NaiveDate| format!("/v1/tenants/acme?on={d}");
    assert_eq!(
        get(&api, &on(plus(4))).await["effective"]["session_limit"],
        40000
    );
    assert_eq!(
        get(&api, &on(plus(5))).await["effective"]["session_limit"],
        120000
    );

    tracing::info!("phase: cancel the bypass with its options: all end 30 days on");
    let end = json!({ "stop_options": true });
    let answer = post(&api, "/v1/tenants/acme/contracts/c2/cancel", end, 200).await;
    assert_eq!(answer["contract"]["effective_end"], json!(plus(30)));
    assert_eq!(answer["contract"]["state"], "ending");
    assert_eq!(answer["options"].as_array().map(Vec::len), Some(2));
    assert_eq!(answer["effective_at_end"]["in_service"], false);
    let reasons = &answer["effective_at_end"]["reasons_not_in_service"];
    assert_eq!(
        reasons,
        &json!(["art. 6-1: no cloud-bypass or external-integration contract in force"])
    );
    let listed = get(&api, &format!("/v1/tenants/acme/options?on={}", plus(30))).await;
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|o| o["state"] == "ended"),
        "{listed}"
    );
}

/// Issue 13, item 4: the tenant view showed the contract's capacity while the edges enforced
/// the operator's smaller cap. `session_limit_in_force` is what edges enforce (the function
/// that builds their policy) and says which limit sets it.
#[tokio::test]
async fn the_view_shows_the_limit_in_force_and_whether_the_contract_or_the_cap_sets_it() {
    let api = TestApi::start().await;
    in_service(&api).await;
    api.tenant("beta", "eu", "203.0.113.0/24").await;
    let view = get(&api, "/v1/tenants/beta").await;
    assert!(
        view.get("session_limit_in_force").is_none(),
        "not served: nothing in force: {view}"
    );
    let in_force = |v: &Value| v["session_limit_in_force"].clone();
    let view = get(&api, "/v1/tenants/acme").await;
    assert_eq!(
        in_force(&view),
        json!({ "sessions": 40000, "contracted": 40000, "by": "contract" })
    );
    let cap = |n: Value| {
        api.op(Method::PATCH, "/v1/tenants/acme")
            .json(&json!({ "session_cap": n }))
    };
    expect_version(send(cap(json!(40))).await, 200).await;
    let view = get(&api, "/v1/tenants/acme").await;
    assert_eq!(
        view["effective"]["session_limit"], 40000,
        "the contract's item"
    );
    assert_eq!(
        in_force(&view),
        json!({ "sessions": 40, "contracted": 40000, "by": "session_cap" })
    );
    expect_version(send(cap(json!(90000))).await, 200).await;
    let view = get(&api, "/v1/tenants/acme").await;
    assert_eq!(
        in_force(&view),
        json!({ "sessions": 40000, "contracted": 40000, "by": "contract" }),
        "a cap above the item changes nothing"
    );
}

#[tokio::test]
async fn withdrawal_lists_the_affected_tenants_who_leave_service_on_its_day() {
    let api = TestApi::start().await;
    in_service(&api).await;
    api.tenant("beta", "eu", "203.0.113.0/24").await;
    let contracts = "/v1/tenants/beta/contracts";
    post(
        &api,
        contracts,
        json!({ "kind": "list-template", "item": "microsoft365" }),
        201,
    )
    .await;
    post(
        &api,
        contracts,
        json!({ "kind": "list-template", "item": "google-workspace" }),
        201,
    )
    .await;

    let answer = post(
        &api,
        "/v1/templates/microsoft365/withdraw",
        json!({ "effective": plus(10) }),
        200,
    )
    .await;
    assert_eq!(answer["effective"], json!(plus(10)));
    assert_eq!(
        answer["affected"],
        json!([
            { "tenant": "acme", "contracts": ["c1"], "leaves_service": true },
            { "tenant": "beta", "contracts": ["c1"], "leaves_service": false },
        ])
    );
    let on = |d: NaiveDate| format!("/v1/tenants/acme?on={d}");
    assert_eq!(
        get(&api, &on(plus(9))).await["effective"]["in_service"],
        true
    );
    let day = get(&api, &on(plus(10))).await;
    assert_eq!(
        day["effective"]["reasons_not_in_service"],
        json!(["art. 6-1: no list-template contract in force"])
    );

    tracing::info!("phase: the item can no longer be ordered or withdrawn again");
    let order = json!({ "kind": "list-template", "item": "microsoft365" });
    let msg = expect_error(
        send(api.op(Method::POST, contracts).json(&order)).await,
        409,
        "conflict",
    )
    .await;
    assert!(
        msg.starts_with("art. 11: template microsoft365 is withdrawn"),
        "{msg}"
    );
    let again = api.op(Method::POST, "/v1/templates/microsoft365/withdraw");
    expect_error(send(again).await, 409, "conflict").await;
    let unknown = api.op(Method::POST, "/v1/templates/gsuite/withdraw");
    expect_error(send(unknown).await, 404, "not_found").await;
}
