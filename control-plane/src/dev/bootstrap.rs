//! Bootstraps the dev deployment through the real HTTP API, idempotently: region `local`, tenant
//! `demo` (Microsoft 365 direct, a demo blocklist), and the contracts that put it in service.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use breakout_policy::{m365, Action, Destination, NamedList, Rule, Tenant};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::REGION;

/// The tenant the dev deployment creates.
pub const TENANT: &str = "demo";
/// Its capacity item (plan 1, art. 3).
pub const CAPACITY: u32 = 20_000;
/// The shipped snapshot of Microsoft's worldwide endpoint list.
const M365_SNAPSHOT: &str = include_str!("../../../deploy/lists/m365-worldwide-endpoints.json");
const BLOCKLIST: &str = "demo-blocklist";
const BLOCKED: [&str; 4] = [
    "example.net",
    "*.example.net",
    "tracker.example.org",
    "*.doubleclick.net",
];

/// A minimal operator client of one node's API (never through a proxy from the environment).
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(api_addr: &str, token: String) -> anyhow::Result<Api> {
        let http = crate::http_client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Api {
            http,
            base: format!("http://{api_addr}"),
            token,
        })
    }

    /// One call: (status, JSON body or null).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A call that must answer one of `ok`.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: &[StatusCode],
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method.clone(), path, body).await?;
        if !ok.contains(&status) {
            bail!("{method} {path}: {status}: {answer}");
        }
        Ok(answer)
    }

    /// Waits until the node knows a leader (`/readyz`).
    pub async fn wait_ready(&self, deadline: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + deadline;
        loop {
            if let Ok((StatusCode::OK, _)) = self.call(Method::GET, "/readyz", None).await {
                return Ok(());
            }
            if Instant::now() > until {
                bail!("the control plane did not become ready within {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What bootstrap did, for the banner.
pub struct Outcome {
    pub created: bool,
    pub m365_entries: usize,
    /// Subscribed to the `microsoft365` template (a version of it was recorded in time).
    pub subscribed: bool,
}

/// Creates what is missing; leaves an existing tenant's rules and lists as the operator left them.
pub async fn bootstrap(api: &Api, local_origins: bool) -> anyhow::Result<Outcome> {
    use StatusCode as S;
    let region = json!({ "name": REGION, "description": "breakout-control dev" });
    api.expect(
        Method::POST,
        "/v1/regions",
        Some(&region),
        &[S::CREATED, S::CONFLICT],
    )
    .await?;
    let path = format!("/v1/tenants/{TENANT}");
    let (status, _) = api.call(Method::GET, &path, None).await?;
    let (tenant, m365_entries) = demo_tenant(local_origins)?;
    let created = status == S::NOT_FOUND;
    if created {
        let body = serde_json::to_value(&tenant)?;
        api.expect(Method::POST, "/v1/tenants", Some(&body), &[S::CREATED])
            .await?;
    }
    let view = api.expect(Method::GET, &path, None, &[S::OK]).await?;
    if view["effective"]["in_service"] != json!(true) {
        put_in_service(api, &path).await?;
    }
    show_every_feature(api, &path, &view).await?;
    let subscribed = subscribe_template(api, &path).await?;
    Ok(Outcome {
        created,
        m365_entries,
        subscribed,
    })
}

/// How long bootstrap waits for the poller's first Microsoft 365 version.
const TEMPLATE_PATIENCE: Duration = Duration::from_secs(20);

/// Subscribes the demo tenant to the `microsoft365` template (`direct`) once the poller has
/// recorded a version of it, unless it is subscribed already. The template rule comes after
/// the tenant's own rules, so it routes nothing differently; it makes the tenant's template
/// pages (and `template subscriptions demo`) show a live version and its changes. False when
/// no version came in time (the poller is off, or the vendor server did not answer).
async fn subscribe_template(api: &Api, path: &str) -> anyhow::Result<bool> {
    use StatusCode as S;
    let sub = format!("{path}/templates/microsoft365");
    if api.call(Method::GET, &sub, None).await?.0 == S::OK {
        return Ok(true);
    }
    let until = Instant::now() + TEMPLATE_PATIENCE;
    loop {
        let list = api
            .expect(Method::GET, "/v1/templates", None, &[S::OK])
            .await?;
        let live = list["items"].as_array().is_some_and(|items| {
            items
                .iter()
                .any(|i| i["item"] == "microsoft365" && !i["live"].is_null())
        });
        if live {
            break;
        }
        if Instant::now() > until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = json!({ "action": "direct" });
    api.expect(Method::PUT, &sub, Some(&body), &[S::OK, S::CREATED])
        .await?;
    Ok(true)
}

/// The sample price book (`breakoutctl billing preview demo` needs one).
const PRICE_BOOK: &str = include_str!("../../../deploy/examples/price-book.json");

/// What a new user should see working: the PAC option with settings (the edge serves
/// `/pac/demo.pac`), the list-update-api option (the tenant edits its blocklist in the console
/// and through the API), and a price book. Each only if missing.
async fn show_every_feature(api: &Api, path: &str, view: &Value) -> anyhow::Result<()> {
    use StatusCode as S;
    for kind in ["pac", "list-update-api"] {
        // 409: already held.
        let option = json!({ "kind": kind });
        let options = format!("{path}/options");
        api.expect(
            Method::POST,
            &options,
            Some(&option),
            &[S::CREATED, S::CONFLICT],
        )
        .await?;
    }
    if view.get("pac").is_none_or(Value::is_null) {
        // No proxies named: each edge writes its own address into the file it serves.
        let settings = json!({ "proxies": [] });
        api.expect(
            Method::PUT,
            &format!("{path}/pac"),
            Some(&settings),
            &[S::OK],
        )
        .await?;
    }
    let book = api
        .expect(Method::GET, "/v1/price-book", None, &[S::OK])
        .await?;
    if book["current"].is_null() {
        let sample: Value = serde_json::from_str(PRICE_BOOK).context("the sample price book")?;
        api.expect(
            Method::PUT,
            "/v1/price-book",
            Some(&sample),
            &[S::OK, S::CREATED],
        )
        .await?;
    }
    Ok(())
}

/// Art. 6: a private backbone, a microsoft365 list template and a plan-1 cloud bypass.
async fn put_in_service(api: &Api, path: &str) -> anyhow::Result<()> {
    use StatusCode as S;
    let attributes = json!({ "private_backbone": true });
    api.expect(
        Method::PUT,
        &format!("{path}/attributes"),
        Some(&attributes),
        &[S::OK],
    )
    .await?;
    let orders = [
        json!({ "kind": "list-template", "item": "microsoft365" }),
        json!({ "kind": "cloud-bypass", "plan": 1, "capacity": CAPACITY, "region": REGION }),
    ];
    for order in &orders {
        // 409: already held (art. 1), e.g. a restart after a partial bootstrap.
        let contracts = format!("{path}/contracts");
        api.expect(
            Method::POST,
            &contracts,
            Some(order),
            &[S::CREATED, S::CONFLICT],
        )
        .await?;
    }
    let view = api.expect(Method::GET, path, None, &[S::OK]).await?;
    if view["effective"]["in_service"] != json!(true) {
        bail!(
            "tenant {TENANT} is not in service: {}",
            view["effective"]["reasons_not_in_service"]
        );
    }
    Ok(())
}

/// The demo tenant: source 127.0.0.1, the blocklist refused, Microsoft 365 (Optimize and Allow
/// sets of the shipped snapshot) direct, and everything else direct too (`default_action`).
fn demo_tenant(local_origins: bool) -> anyhow::Result<(Tenant, usize)> {
    let sets = m365::parse(M365_SNAPSHOT).context("the shipped Microsoft 365 list")?;
    let m365_lists = m365::lists(&sets).context("the shipped Microsoft 365 list")?;
    let entries = m365_lists.optimize_allow.entries.len();
    let blocklist = BLOCKED
        .iter()
        .map(|e| e.parse::<Destination>())
        .collect::<Result<Vec<_>, _>>()?;
    let rule = |name: &str, action: Action, lists: &[&str], dests: Vec<Destination>| Rule {
        name: Some(name.into()),
        action,
        destinations: dests,
        lists: lists.iter().map(|l| l.to_string()).collect(),
        ports: Vec::new(),
    };
    let mut rules = vec![
        rule("access-control", Action::Block, &[BLOCKLIST], Vec::new()),
        rule(
            "microsoft365",
            Action::Direct,
            &[m365::OPTIMIZE_ALLOW],
            Vec::new(),
        ),
    ];
    if local_origins {
        let loopback = "127.0.0.0/8".parse::<Destination>()?;
        rules.push(rule("local-origins", Action::Direct, &[], vec![loopback]));
    }
    let tenant = Tenant {
        id: TENANT.into(),
        region: Some(REGION.into()),
        source_cidrs: vec!["127.0.0.1/32".parse()?],
        session_limit: CAPACITY,
        upstreams: BTreeMap::new(),
        rules,
        default_action: Action::Direct,
        lists: BTreeMap::from([
            (m365::OPTIMIZE_ALLOW.to_string(), m365_lists.optimize_allow),
            (BLOCKLIST.to_string(), NamedList::new(blocklist)),
        ]),
        egress_address: None,
        pac: None,
    };
    Ok((tenant, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_tenant_validates_and_decides_as_documented() {
        let (tenant, entries) = demo_tenant(false).expect("builds");
        assert!(entries > 50, "{entries} entries");
        breakout_policy::validate::validate_tenant(&tenant, REGION, &BTreeMap::new())
            .expect("valid");
        let m = breakout_policy::Matcher::compile(&tenant, &BTreeMap::new()).expect("compiles");
        for (host, action, rule) in [
            ("outlook.office365.com", Action::Direct, "microsoft365"),
            ("blocked.example.net", Action::Block, "access-control"),
            ("www.example.com", Action::Direct, "default"),
        ] {
            let e = m.explain(host, 443).expect("host");
            assert_eq!((e.action, e.rule_label.as_str()), (action, rule), "{host}");
        }
    }
}
