//! A browser without a cookie jar for the console tests, and the tenants they use.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_common::*;

/// A browser without a cookie jar: the cookies are kept here by hand.
pub struct Browser<'a> {
    pub api: &'a TestApi,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
    pub lang: &'static str,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

impl<'a> Browser<'a> {
    pub fn new(api: &'a TestApi) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            api,
            http,
            cookies: Vec::new(),
            lang: "en",
        }
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api.base))
            .header("accept-language", self.lang);
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        if let Some(form) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let resp = req.send().await.expect("request");
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().expect("ascii");
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            assert!(
                attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
                "{c}"
            );
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("ascii").to_string());
        let html = resp.text().await.expect("body");
        Page {
            status,
            location,
            html,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    pub async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/ui/login").await;
        assert_eq!(form.status, 200);
        let pre = hidden(&form.html, "pre");
        self.post("/ui/login", &[("token", token), ("pre", &pre)])
            .await
    }
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// acme and other in region eu; acme holds the list-update-api option.
pub async fn setup(api: &TestApi) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    for id in ["acme", "other"] {
        let put = api
            .op(Method::PUT, &format!("/v1/tenants/{id}/attributes"))
            .json(&json!({ "private_backbone": true }));
        expect_version(send(put).await, 200).await;
        for order in [
            json!({ "kind": "list-template", "item": "microsoft365" }),
            json!({ "kind": "cloud-bypass", "capacity": 20000, "options": ["list-update-api", "pac"] }),
        ] {
            let req = api
                .op(Method::POST, &format!("/v1/tenants/{id}/contracts"))
                .json(&order);
            let (status, body) = status_json(send(req).await).await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let req = api
        .op(Method::PUT, "/v1/tenants/other/lists/secret-list")
        .json(&json!(["other-secret.example"]));
    expect_version(send(req).await, 200).await;
}
