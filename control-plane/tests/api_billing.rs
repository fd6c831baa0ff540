//! The price book and the billing preview over the API, and what a tenant's own token may do
//! with its contracts and bills.

use crate::api_common;

use api_common::*;
use chrono::{Datelike, Days, NaiveDate};
use reqwest::Method;
use serde_json::{json, Value};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn this_month() -> String {
    format!("{:04}-{:02}", today().year(), today().month())
}

/// A complete book: every item of annex 1, with its zeros.
fn price_book() -> Value {
    let fees = |initial: u64, monthly: u64| json!({ "initial": initial, "monthly": monthly });
    let bypass = |monthly: u64| json!({ "initial": 50000, "monthly": monthly, "one_time": 5000 });
    json!({
        "list_template": { "microsoft365": fees(10000, 3100), "azure-expressroute": fees(10000, 3100),
            "google-workspace": fees(10000, 3100) },
        "cloud_bypass": { "20000": bypass(31000), "40000": bypass(62000), "120000": bypass(93000),
            "200000": bypass(124000), "400000": bypass(310000), "800000": bypass(620000),
            "1000000": bypass(775000) },
        "external_integration": fees(20000, 6200),
        "options": { "internet-access": fees(30000, 15500), "access-control": fees(0, 3100),
            "pac": fees(10000, 6200), "list-update-api": fees(0, 3100),
            "initial-setup": fees(100000, 0) },
    })
}

/// Tenant `acme` in region `eu` with an m365 template and a 20,000-session bypass with initial
/// setup, all accepted today.
async fn acme(api: &TestApi) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let attrs = api
        .op(Method::PUT, "/v1/tenants/acme/attributes")
        .json(&json!({ "private_backbone": true }));
    expect_version(send(attrs).await, 200).await;
    for order in [
        json!({ "kind": "list-template", "item": "microsoft365" }),
        json!({ "kind": "cloud-bypass", "capacity": 20000, "options": ["initial-setup"] }),
    ] {
        let req = api
            .op(Method::POST, "/v1/tenants/acme/contracts")
            .json(&order);
        expect_version(send(req).await, 201).await;
    }
}

async fn bill(api: &TestApi, token: &str, month: &str) -> (u16, Value) {
    let path = format!("/v1/tenants/acme/billing?month={month}");
    status_json(send(api.with(token, Method::GET, &path)).await).await
}

#[tokio::test]
async fn there_is_no_bill_before_there_is_a_price_book() {
    let api = TestApi::start().await;
    acme(&api).await;
    let path = format!("/v1/tenants/acme/billing?month={}", this_month());
    let msg = expect_error(send(api.op(Method::GET, &path)).await, 409, "conflict").await;
    assert!(msg.starts_with("annex 1: no price book is set"), "{msg}");
    let current = status_json(send(api.op(Method::GET, "/v1/price-book")).await)
        .await
        .1;
    assert_eq!(current["current"], Value::Null);
}

#[tokio::test]
async fn the_month_of_acceptance_bills_initial_and_prorated_monthly_fees_with_their_rules() {
    let api = TestApi::start().await;
    acme(&api).await;
    let put = api.op(Method::PUT, "/v1/price-book").json(&price_book());
    let (status, answer) = status_json(send(put).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["price_book"]["effective_from"], json!(today()));

    let (status, b) = bill(&api, ADMIN, &this_month()).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (b["tenant"].as_str(), b["currency"].as_str()),
        (Some("acme"), Some("JPY"))
    );
    let lines = b["lines"].as_array().expect("lines");
    let initial: Vec<(&str, u64)> = lines
        .iter()
        .filter(|l| l["kind"] == "initial")
        .map(|l| {
            (
                l["subject"].as_str().unwrap_or("?"),
                l["amount"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(initial, [("c1", 10000), ("c2", 50000), ("o1", 100000)]);
    // Monthly fees run from today to the month's end, prorated by day and rounded down.
    let month_days = u64::from(days_in_month(today()));
    let days = month_days - u64::from(today().day()) + 1;
    let monthly: Vec<u64> = lines
        .iter()
        .filter(|l| l["kind"] == "monthly")
        .map(|l| l["amount"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        monthly,
        [3100 * days / month_days, 31000 * days / month_days]
    );
    assert!(
        lines.iter().all(|l| l["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("art. 13, annex 1-"))),
        "{b}"
    );
    let sum: u64 = lines.iter().filter_map(|l| l["amount"].as_u64()).sum();
    assert_eq!(b["total"].as_u64(), Some(sum));

    tracing::info!("phase: the tenant reads its own bill; the next month has no initial fees");
    let token = api.token("acme").await;
    let next = today()
        .checked_add_months(chrono::Months::new(1))
        .expect("next month");
    let (status, b) = bill(
        &api,
        &token,
        &format!("{:04}-{:02}", next.year(), next.month()),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let kinds: Vec<&str> = b["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["monthly", "monthly"]);
    assert_eq!(b["total"], 34100);
}

#[tokio::test]
async fn a_price_book_is_complete_keeps_annex_1s_zeros_and_never_applies_retroactively() {
    let api = TestApi::start().await;
    let mut book = price_book();
    book["options"]["access-control"]["initial"] = json!(100);
    let put = api.op(Method::PUT, "/v1/price-book").json(&book);
    let msg = expect_error(send(put).await, 400, "invalid").await;
    assert_eq!(
        msg,
        "annex 1: options[access-control].initial: access-control has no initial fee; it must be 0"
    );

    let mut book = price_book();
    book["cloud_bypass"]
        .as_object_mut()
        .map(|m| m.remove("800000"));
    let msg = expect_error(
        send(api.op(Method::PUT, "/v1/price-book").json(&book)).await,
        400,
        "invalid",
    )
    .await;
    assert_eq!(
        msg,
        "annex 1: cloud_bypass: no fees for the 800,000-session item"
    );

    let yesterday = today() - Days::new(1);
    let path = format!("/v1/price-book?effective_from={yesterday}");
    let msg = expect_error(
        send(api.op(Method::PUT, &path).json(&price_book())).await,
        400,
        "invalid",
    )
    .await;
    assert!(msg.starts_with("art. 13: effective_from: "), "{msg}");

    let later = today() + Days::new(40);
    let path = format!("/v1/price-book?effective_from={later}");
    expect_version(
        send(api.op(Method::PUT, &path).json(&price_book())).await,
        200,
    )
    .await;
    let books = status_json(send(api.op(Method::GET, "/v1/price-book")).await)
        .await
        .1;
    assert_eq!(books["items"][0]["effective_from"], json!(later));
    assert_eq!(
        books["current"]["effective_from"],
        json!(later),
        "the first book covers the past"
    );
}

#[tokio::test]
async fn a_malformed_month_is_400() {
    let api = TestApi::start().await;
    acme(&api).await;
    for month in ["2025-13", "2025", "next"] {
        let (status, body) = bill(&api, ADMIN, month).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{month}: {body}"
        );
    }
}

#[tokio::test]
async fn tenants_read_their_own_contracts_and_nothing_else() {
    let api = TestApi::start().await;
    acme(&api).await;
    api.tenant("beta", "eu", "203.0.113.0/24").await;
    let token = api.token("acme").await;
    for path in [
        "/v1/tenants/acme/contracts",
        "/v1/tenants/acme/options",
        "/v1/tenants/acme/attributes",
    ] {
        let (status, body) = status_json(send(api.with(&token, Method::GET, path)).await).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let theirs = api.with(&token, Method::GET, "/v1/tenants/beta/contracts");
    expect_error(send(theirs).await, 404, "not_found").await;
    let writes = [
        (
            Method::POST,
            "/v1/tenants/acme/options",
            json!({ "kind": "access-control" }),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/attributes",
            json!({ "private_backbone": true }),
        ),
        (
            Method::POST,
            "/v1/templates/microsoft365/withdraw",
            json!({}),
        ),
        (Method::PUT, "/v1/price-book", json!({})),
    ];
    for (method, path, body) in writes {
        let req = api.with(&token, method, path).json(&body);
        expect_error(send(req).await, 403, "forbidden").await;
    }
    expect_error(
        send(api.with(&token, Method::GET, "/v1/price-book")).await,
        403,
        "forbidden",
    )
    .await;
}

fn days_in_month(d: NaiveDate) -> u32 {
    let first = d.with_day(1).expect("first");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("next");
    u32::try_from((next - first).num_days()).expect("days")
}
