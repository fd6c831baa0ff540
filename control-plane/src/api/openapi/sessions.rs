//! `GET /v1/sessions` and `POST /v1/quota/exchange` in `/openapi.json`, merged by [`extend`].

use serde_json::{json, Value};

use super::build::{operation, schema};

fn op(summary: &str, params: &[&str], body: Option<Value>, answer: Value) -> Value {
    operation(summary, params, body, "200", answer)
}

/// Adds the session routes, their parameters and schemas to `doc`.
pub fn extend(doc: &mut Value) {
    let int = super::build::u64_int();
    let string = json!({ "type": "string" });
    doc["paths"]["/v1/sessions"] = json!({ "get": op(
        "Usage against limit per tenant and region (the leader's soft state; followers forward)",
        &["tenantFilter", "region"], None, schema("SessionList")) });
    doc["paths"]["/v1/quota/exchange"] = json!({ "post": op(
        "Internal: a node relays its edges' reports to the leader and gets their grants back",
        &[], Some(schema("QuotaExchange")), schema("QuotaExchangeAnswer")) });
    let params = &mut doc["components"]["parameters"];
    params["tenantFilter"] = json!({ "name": "tenant", "in": "query", "required": false,
        "schema": string, "description": "Only this tenant" });
    let schemas = &mut doc["components"]["schemas"];
    schemas["RegionUsage"] = json!({ "type": "object", "properties": {
        "region": string, "tenant": string, "limit": int, "sessions": int, "granted": int,
        "refused": int, "edges": int } });
    schemas["SessionList"] = json!({ "type": "object", "properties": {
        "node_id": int, "items": { "type": "array", "items": schema("RegionUsage") } } });
    schemas["RelayedReport"] = json!({ "type": "object", "properties": {
        "edge_id": string, "region": string, "age_ms": int, "report": { "type": "object",
        "properties": { "seq": int, "tenants": { "type": "object",
            "additionalProperties": schema("TenantUsage") } } } } });
    schemas["QuotaExchange"] = json!({ "type": "object", "required": ["reports"],
        "properties": { "reports": { "type": "array", "items": schema("RelayedReport") } } });
    let grant = json!({ "type": "object", "properties": {
        "sessions": int, "ttl_ms": int, "floor": int } });
    schemas["QuotaExchangeAnswer"] = json!({ "type": "object", "properties": {
        "grants": { "type": "array", "items": { "type": "object", "properties": {
            "edge_id": string, "grants": { "type": "object", "properties": {
                "epoch": int, "grants": { "type": "object", "additionalProperties": grant }
            } } } } } } });
}
