//! `/openapi.json` describes every route the router serves.

use crate::api_common;

use api_common::*;
use breakout_control::api;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn openapi_lists_every_route_and_method_of_the_router() {
    let api = TestApi::start().await;
    let resp = send(api.anon(Method::GET, "/openapi.json")).await;
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.expect("the document is JSON");
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.0")),
        Some(true)
    );

    let routes = api::routes();
    assert!(
        routes.len() >= 29,
        "the table lists every route: {}",
        routes.len()
    );
    for (method, path) in &routes {
        let op = &doc["paths"][*path][method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} missing from /openapi.json");
        assert!(
            op["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .map(|ops| ops.len())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(
        documented,
        routes.len(),
        "/openapi.json documents a route the router lacks"
    );
}

#[test]
fn every_reference_in_the_document_resolves() {
    let doc = api::openapi::document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
}

#[test]
fn path_parameters_are_declared() {
    let doc = api::openapi::document();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        let wanted: Vec<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in ops.as_object().expect("operations") {
            let declared: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["$ref"].as_str())
                .filter_map(|r| doc.pointer(r.trim_start_matches('#')))
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            for name in &wanted {
                assert!(
                    declared.iter().any(|d| d == name),
                    "{method} {path}: {{{name}}} undeclared"
                );
            }
        }
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
