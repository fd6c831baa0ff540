//! `GET /v1/sessions` and `POST /v1/quota/exchange` in `/openapi.json`, merged by [`extend`].

use serde_json::{json, Value};

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn op(summary: &str, params: &[&str], body: Option<Value>, answer: Value) -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    let content = json!({ "application/json": { "schema": answer } });
    let mut responses = json!({ "200": { "description": "success", "content": content } });
    for code in ["400", "401", "403", "404", "409", "412", "503"] {
        responses[code] = error.clone();
    }
    let params: Vec<Value> = params
        .iter()
        .map(|p| json!({ "$ref": format!("#/components/parameters/{p}") }))
        .collect();
    let mut op = json!({ "summary": summary, "parameters": params, "responses": responses });
    if let Some(body) = body {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body } } });
    }
    op
}

/// Adds the session routes, their parameters and schemas to `doc`.
pub fn extend(doc: &mut Value) {
    let int = json!({ "type": "integer", "minimum": 0 });
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
    schemas["QuotaExchange"] = json!({ "type": "object", "properties": {
        "reports": { "type": "array", "items": schema("RelayedReport") } } });
    let grant = json!({ "type": "object", "properties": {
        "sessions": int, "ttl_ms": int, "floor": int } });
    schemas["QuotaExchangeAnswer"] = json!({ "type": "object", "properties": {
        "grants": { "type": "array", "items": { "type": "object", "properties": {
            "edge_id": string, "grants": { "type": "object", "properties": {
                "epoch": int, "grants": { "type": "object", "additionalProperties": grant }
            } } } } } } });
}
