//! Issue #13 item 11: the served `/openapi.json` agrees with the handlers. The document is
//! written by hand, so this test walks every operation of it against the real router and fails
//! on any new disagreement of the kinds schemathesis found:
//!
//! - **required body fields**: a body is built from `{}` by adding each field the server says
//!   is missing; every such field must be in the schema's `required` (and in its properties);
//! - **bodies**: an operation the document gives no body must not need one, one whose body is
//!   `required` must not succeed without it, and an object body is not taken as an array;
//! - **numbers**: every integer a client sends (parameters, body fields, at any depth) has a
//!   `minimum` and a `maximum` (or an `enum`); an integer query parameter one past its maximum is refused, and
//!   a body's integer field at its maximum is not refused as out of range by the handler's type
//!   while one past it is refused;
//! - **headers**: a header parameter whose schema admits the empty string must not be refused
//!   when empty, and one whose schema does not must not be accepted empty.

use crate::api_common;

use api_common::{send, status_json, TestApi, ADMIN};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// Operations that make the server call out (cluster membership): not sent.
const NOT_SENT: &[&str] = &["/v1/cluster/nodes", "/v1/cluster/nodes/{id}"];

struct Doc(Value);

impl Doc {
    /// `v` with `$ref`s (and a one-element `allOf`) followed.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..16 {
            if let Some(r) = v.get("$ref").and_then(Value::as_str) {
                let path = r.trim_start_matches("#/").split('/');
                v = path.fold(&self.0, |at, key| &at[key]);
            } else if let Some([only]) = v.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            {
                v = only;
            } else {
                break;
            }
        }
        v
    }

    /// Every `(path, method, operation)`.
    fn operations(&self) -> Vec<(String, Method, &Value)> {
        let mut out = Vec::new();
        for (path, item) in self.0["paths"].as_object().expect("paths") {
            for (m, op) in item.as_object().expect("path item") {
                let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
                out.push((path.clone(), method, op));
            }
        }
        out
    }

    /// The operation's parameters, resolved.
    fn params<'a>(&'a self, op: &'a Value) -> Vec<&'a Value> {
        let list = op["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        list.iter().map(|p| self.resolve(p)).collect()
    }

    /// The JSON body schema, resolved, and whether it is required.
    fn body<'a>(&'a self, op: &'a Value) -> Option<(&'a Value, bool)> {
        let body = op.get("requestBody")?;
        let schema = self.resolve(&body["content"]["application/json"]["schema"]);
        Some((schema, body["required"] == json!(true)))
    }

    /// A value of `schema`'s shape a handler can deserialize (not necessarily valid).
    fn sample(&self, schema: &Value) -> Value {
        let s = self.resolve(schema);
        if let Some(v) = s.get("example").or_else(|| s.get("default")) {
            return v.clone();
        }
        if let Some(first) = s["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        if let Some(first) = s["oneOf"].as_array().and_then(|e| e.first()) {
            return self.sample(first);
        }
        match s["type"].as_str() {
            Some("integer") => s.get("minimum").cloned().unwrap_or(json!(0)),
            Some("number") => json!(0),
            Some("boolean") => json!(false),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ if s["format"] == "ipv4" => json!("192.0.2.1"),
            _ => json!("x"),
        }
    }

    /// Every integer schema under `schema` (through references, properties, items, maps,
    /// alternatives), named by where it is.
    fn integers<'a>(&'a self, at: String, schema: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        if at.len() > 400 {
            return; // a recursive schema: deep enough
        }
        let s = self.resolve(schema);
        if s["type"] == "integer" {
            out.push((at.clone(), s));
        }
        if let Some(props) = s["properties"].as_object() {
            for (k, v) in props {
                self.integers(format!("{at}.{k}"), v, out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if s[key].is_object() {
                self.integers(format!("{at}[]"), &s[key], out);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for alt in s[key].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                self.integers(at.clone(), alt, out);
            }
        }
    }
}

/// `path` with its `{...}` segments filled: tenant `acme` (or `ghost`), node 1, list or region
/// `blocklist`, template item `microsoft365`, and `1` for anything numeric.
fn fill(doc: &Doc, path: &str, op: &Value, tenant: &str) -> String {
    let mut out = path.to_string();
    for p in doc.params(op) {
        if p["in"] != "path" {
            continue;
        }
        let name = p["name"].as_str().expect("name");
        let value = match (name, p["schema"]["type"].as_str()) {
            (_, Some("integer")) => "1".to_string(),
            ("id", _) if path.starts_with("/v1/tenants") => tenant.to_string(),
            ("item", _) => "microsoft365".to_string(),
            ("id", _) => "nope".to_string(),
            _ => "blocklist".to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

async fn call(api: &TestApi, method: &Method, url: &str, body: Option<&Value>) -> (u16, Value) {
    call_with(api, method, url, body, None).await
}

async fn call_with(
    api: &TestApi,
    method: &Method,
    url: &str,
    body: Option<&Value>,
    header: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = api.op(method.clone(), url);
    if let Some(b) = body {
        req = req.json(b);
    }
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    status_json(send(req).await).await
}

fn message(answer: &Value) -> String {
    answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// serde's "missing field `x`" in a 400's message.
fn missing_field(status: u16, answer: &Value) -> Option<String> {
    let m = message(answer);
    if status != 400 {
        return None;
    }
    let rest = m.split_once("missing field `")?.1;
    Some(rest.split_once('`')?.0.to_string())
}

/// serde refusing a number for the handler's type.
fn out_of_range(status: u16, answer: &Value) -> bool {
    let m = message(answer);
    status == 400 && (m.contains("invalid value: integer") || m.contains("out of range"))
}

async fn world() -> (TestApi, Doc) {
    let api = TestApi::start().await;
    api.region("tokyo").await;
    api.tenant("acme", "tokyo", "192.0.2.0/24").await;
    let (status, doc) = status_json(send(api.anon(Method::GET, "/openapi.json")).await).await;
    assert_eq!(status, 200);
    (api, Doc(doc))
}

#[tokio::test]
async fn fields_the_server_requires_are_required_in_the_document() {
    let (api, doc) = world().await;
    let mut wrong = Vec::new();
    let mut bodies = 0;
    for (path, method, op) in doc.operations() {
        let Some((schema, _)) = doc.body(op) else {
            continue;
        };
        if NOT_SENT.contains(&path.as_str()) || schema["type"] != "object" {
            continue;
        }
        bodies += 1;
        let url = fill(&doc, &path, op, "ghost");
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut body = Map::new();
        for _ in 0..32 {
            let (status, answer) =
                call(&api, &method, &url, Some(&Value::Object(body.clone()))).await;
            let Some(field) = missing_field(status, &answer) else {
                break;
            };
            let Some(prop) = schema["properties"].get(&field) else {
                wrong.push(format!("{method} {path}: the server needs `{field}`, the document has no such property"));
                break;
            };
            if !required.contains(&field.as_str()) {
                wrong.push(format!(
                    "{method} {path}: `{field}` is required by the server, not by the document"
                ));
            }
            body.insert(field, doc.sample(prop));
        }
    }
    assert!(bodies >= 10, "only {bodies} object bodies walked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn query_parameters_the_server_requires_are_required_in_the_document() {
    let (api, doc) = world().await;
    let mut wrong = Vec::new();
    for (path, method, op) in doc.operations() {
        if method != Method::GET {
            continue;
        }
        let url = fill(&doc, &path, op, "acme");
        let query: Vec<&Value> = doc
            .params(op)
            .into_iter()
            .filter(|p| p["in"] == "query")
            .collect();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for _ in 0..8 {
            let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let at = if q.is_empty() {
                url.clone()
            } else {
                format!("{url}?{}", q.join("&"))
            };
            let (status, answer) = call(&api, &method, &at, None).await;
            let Some(field) = missing_field(status, &answer) else {
                break;
            };
            match query.iter().find(|p| p["name"] == field.as_str()) {
                None => {
                    wrong.push(format!("{method} {path}: the server needs query `{field}`, the document has no such parameter"));
                    break;
                }
                Some(p) if p["required"] != json!(true) => {
                    wrong.push(format!("{method} {path}: query `{field}` is required by the server, not by the document"));
                }
                Some(_) => {}
            }
            pairs.push((field, "1".into()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn bodies_are_required_exactly_where_the_document_says() {
    let (api, doc) = world().await;
    let mut wrong = Vec::new();
    for (path, method, op) in doc.operations() {
        if NOT_SENT.contains(&path.as_str()) || matches!(method, Method::GET | Method::DELETE) {
            continue;
        }
        let url = fill(&doc, &path, op, "ghost");
        let (status, answer) = call(&api, &method, &url, None).await;
        let about_body = status == 400 && message(&answer).starts_with("request body");
        match doc.body(op) {
            None if about_body || status == 415 => wrong.push(format!(
                "{method} {path}: no body in the document, the server wants one: {answer}"
            )),
            Some((_, true)) if (200..300).contains(&status) => wrong.push(format!(
                "{method} {path}: the document requires a body, the server took none"
            )),
            Some((_, false)) if about_body => wrong.push(format!(
                "{method} {path}: the document's body is optional, the server needs it"
            )),
            _ => {}
        }
        // An object body given as an array (serde takes one for a struct, field by field).
        if doc.body(op).is_some_and(|(b, _)| b["type"] == "object") {
            // On tenant acme, which exists: a 404 would hide an acceptance.
            let own = fill(&doc, &path, op, "acme");
            let (status, _) = call(&api, &method, &own, Some(&json!([]))).await;
            if (200..300).contains(&status) {
                wrong.push(format!(
                    "{method} {path}: an array accepted for an object body"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// serde reads `null` as an absent `Option`: a body field takes null exactly where the document
/// says `nullable` (schemathesis sends null as a wrong type where it does not).
#[tokio::test]
async fn a_null_body_field_is_taken_exactly_where_the_document_says_nullable() {
    let (api, doc) = world().await;
    let refused_as_body =
        |status: u16, answer: &Value| status == 400 && message(answer).starts_with("request body");
    let (mut wrong, mut checked) = (Vec::new(), 0);
    for (path, method, op) in doc.operations() {
        let Some((schema, _)) = doc.body(op) else {
            continue;
        };
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        if NOT_SENT.contains(&path.as_str()) {
            continue;
        }
        let url = fill(&doc, &path, op, "ghost");
        // The smallest body the handler reads: the required fields, sampled.
        let mut body = Map::new();
        for field in schema["required"].as_array().into_iter().flatten() {
            let field = field.as_str().expect("field name");
            body.insert(field.to_string(), doc.sample(&props[field]));
        }
        let (status, answer) = call(&api, &method, &url, Some(&Value::Object(body.clone()))).await;
        if refused_as_body(status, &answer) {
            continue; // the sample is not readable: nothing to compare against
        }
        for (field, prop) in props {
            if body.contains_key(field) {
                continue;
            }
            let nullable =
                prop["nullable"] == json!(true) || doc.resolve(prop)["nullable"] == json!(true);
            checked += 1;
            let mut with_null = body.clone();
            with_null.insert(field.clone(), Value::Null);
            let (status, answer) = call(&api, &method, &url, Some(&Value::Object(with_null))).await;
            match (nullable, refused_as_body(status, &answer)) {
                (false, false) => wrong.push(format!(
                    "{method} {path}: `{field}: null` taken ({status}), the document does not say nullable"
                )),
                (true, true) => wrong.push(format!(
                    "{method} {path}: `{field}` is nullable in the document, the handler refuses null: {}",
                    message(&answer)
                )),
                _ => {}
            }
        }
    }
    assert!(checked >= 10, "only {checked} fields checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn every_integer_a_client_sends_is_bounded_as_the_handler_reads_it() {
    let (api, doc) = world().await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, method, op) in doc.operations() {
        let mut ints = Vec::new();
        for p in doc.params(op) {
            let name = p["name"].as_str().unwrap_or_default();
            doc.integers(format!("parameter {name}"), &p["schema"], &mut ints);
        }
        if let Some((schema, _)) = doc.body(op) {
            doc.integers("body".into(), schema, &mut ints);
        }
        for (at, s) in &ints {
            let bounded = s.get("minimum").is_some() && s.get("maximum").is_some();
            if !bounded && s.get("enum").is_none() {
                wrong.push(format!(
                    "{method} {path}: {at} has no minimum and maximum: {s}"
                ));
            }
        }
        if NOT_SENT.contains(&path.as_str()) {
            continue;
        }
        // Query parameters one past their maximum.
        for p in doc.params(op) {
            let s = doc.resolve(&p["schema"]);
            let (Some("query"), Some(max)) = (p["in"].as_str(), s["maximum"].as_u64()) else {
                continue;
            };
            if s["type"] != "integer" || method != Method::GET {
                continue;
            }
            let past = u128::from(max) + 1;
            let name = p["name"].as_str().unwrap_or_default();
            let url = format!("{}?{name}={past}", fill(&doc, &path, op, "acme"));
            let (status, _) = call(&api, &method, &url, None).await;
            checked += 1;
            if (200..300).contains(&status) {
                wrong.push(format!(
                    "{method} {url}: past the document's maximum, answered {status}"
                ));
            }
        }
        // A body's top-level integer fields at their maximum and one past it, on a tenant that
        // does not exist (nothing is changed; type checks come before the lookup).
        let Some((schema, _)) = doc.body(op) else {
            continue;
        };
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        let base: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), doc.sample(v)))
            .collect();
        let url = fill(&doc, &path, op, "ghost");
        for (name, prop) in props {
            let s = doc.resolve(prop);
            let Some(max) = s["maximum"].as_u64().filter(|_| s["type"] == "integer") else {
                continue;
            };
            let mut body = base.clone();
            body.insert(name.clone(), json!(max));
            let (status, answer) =
                call(&api, &method, &url, Some(&Value::Object(body.clone()))).await;
            if out_of_range(status, &answer) {
                wrong.push(format!("{method} {path}: `{name}` at the document's maximum {max} is refused: {answer}"));
            }
            // One past a u64's maximum is no JSON value serde_json can hold: spliced as text.
            body.insert(name.clone(), json!("PAST-THE-MAXIMUM"));
            let text = Value::Object(body)
                .to_string()
                .replace("\"PAST-THE-MAXIMUM\"", &(u128::from(max) + 1).to_string());
            let req = api
                .op(method.clone(), &url)
                .header("content-type", "application/json");
            let (status, _) = status_json(send(req.body(text)).await).await;
            checked += 1;
            if (200..300).contains(&status) {
                wrong.push(format!(
                    "{method} {path}: `{name}` past the document's maximum accepted"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 5, "only {checked} bounds tried");
}

#[tokio::test]
async fn an_empty_header_is_refused_exactly_where_the_document_says() {
    let (api, doc) = world().await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, method, op) in doc.operations() {
        if NOT_SENT.contains(&path.as_str()) {
            continue;
        }
        for p in doc.params(op) {
            if p["in"] != "header" {
                continue;
            }
            let name = p["name"].as_str().expect("name");
            let s = doc.resolve(&p["schema"]);
            let admits_empty = s["minLength"].as_u64().unwrap_or(0) == 0
                && s.get("pattern").is_none()
                && s.get("enum").is_none();
            // On tenant `ghost`: nothing there to change whatever the header does.
            let url = fill(&doc, &path, op, "ghost");
            let body = doc.body(op).map(|(b, _)| doc.sample(b));
            let (status, answer) =
                call_with(&api, &method, &url, body.as_ref(), Some((name, ""))).await;
            checked += 1;
            let refused_for_it = status == 400 && message(&answer).contains(name);
            if admits_empty && refused_for_it {
                wrong.push(format!("{method} {path}: the document admits an empty {name}, the server refuses it: {answer}"));
            }
            if !admits_empty && (200..300).contains(&status) {
                wrong.push(format!(
                    "{method} {path}: the document refuses an empty {name}, the server took it"
                ));
            }
        }
    }
    assert!(checked >= 9, "only {checked} header parameters tried");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_document_is_the_one_served() {
    // The walk above reads `/openapi.json` from the server; the builder is the same function.
    let doc = breakout_control::api::openapi::document();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"].as_object().is_some_and(|p| p.len() > 30));
    let _ = ADMIN;
}
