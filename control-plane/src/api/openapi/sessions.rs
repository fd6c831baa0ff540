//! `GET /v1/sessions`, `GET /v1/tenants/{id}/refusals`, `POST /v1/quota/exchange` and `GET /v1/tenants/{id}/explain` in `/openapi.json`, merged by [`extend`].

use breakout_policy::outcome::Reason;
use serde_json::{json, Value};

use super::build::{operation, schema};

fn op(summary: &str, params: &[&str], body: Option<Value>, answer: Value) -> Value {
    operation(summary, params, body, "200", answer)
}

/// Adds the session routes, their parameters and schemas to `doc`.
pub fn extend(doc: &mut Value) {
    let int = super::build::u64_int();
    let string = json!({ "type": "string" });
    let mut base = int.clone();
    base["nullable"] = json!(true);
    base["description"] = json!(
        "Set in a sparse report: it lists only what changed since \
        the report of this seq the leader holds"
    );
    doc["paths"]["/v1/sessions"] = json!({ "get": op(
        "Usage against limit per tenant and region (the leader's soft state; followers forward)",
        &["tenantFilter", "region"], None, schema("SessionList")) });
    doc["paths"]["/v1/tenants/{id}/refusals"] = json!({ "get": op(
        "What the tenant's edges refused or failed, by reason, per region: since the edges \
         started (their own counters) and over the last hour and three hours (the leader's \
         tally since it leads); the tenant's region is always listed; followers forward",
        &["id"], None, schema("TenantRefusals")) });
    doc["paths"]["/v1/quota/exchange"] = json!({ "post": op(
        "Internal: a node relays its edges' reports to the leader and gets their grants back",
        &[], Some(schema("QuotaExchange")), schema("QuotaExchangeAnswer")) });
    doc["paths"]["/v1/tenants/{id}/explain"] = json!({ "get": op(
        "What the tenant's edges do with a request for host:port, and why (rule, list, entry, \
         the destination guard's verdict); the decision the proxy makes",
        &["id", "explainHost", "explainPort", "stale"], None, schema("Explanation")) });
    let params = &mut doc["components"]["parameters"];
    params["explainHost"] = json!({ "name": "host", "in": "query", "required": true,
        "schema": string, "description": "The destination host (name or IP literal)" });
    params["explainPort"] = json!({ "name": "port", "in": "query", "required": false,
        "schema": { "type": "integer", "minimum": 0, "maximum": 65535, "default": 443 },
        "description": "The destination port" });
    params["tenantFilter"] = json!({ "name": "tenant", "in": "query", "required": false,
        "schema": string, "description": "Only this tenant" });
    let schemas = &mut doc["components"]["schemas"];
    schemas["Explanation"] = json!({ "type": "object",
        "required": ["version", "served"], "properties": {
        "version": int, "region": string, "served": { "type": "boolean" },
        "not_served": string, "tenant": string,
        "decision": { "type": "string", "enum": ["direct", "upstream", "block", "refused", "error"] },
        "reason": string, "host": string, "port": int, "action": schema("Action"),
        "rule": { "type": "integer", "minimum": 0, "nullable": true },
        "rule_label": string, "list": string, "entry": string, "parent_proxy": string,
        "guard": { "type": "object" }, "summary": string } });
    schemas["RegionUsage"] = json!({ "type": "object", "properties": {
        "region": string, "tenant": string, "limit": int, "sessions": int, "granted": int,
        "refused": int, "edges": int } });
    schemas["SessionList"] = json!({ "type": "object", "properties": {
        "node_id": int, "items": { "type": "array", "items": schema("RegionUsage") } } });
    schemas["RelayedReport"] = json!({ "type": "object", "properties": {
        "edge_id": string, "region": string, "age_ms": int, "report": { "type": "object",
        "properties": { "seq": int, "tenants": { "type": "object",
            "additionalProperties": schema("TenantUsage") },
            "refusals": { "type": "object",
                "additionalProperties": schema("RefusalCounts") },
            "grants_epoch": int,
            "base": base,
            "removed": { "type": "array", "items": string } } } } });
    let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.label()).collect();
    let by_reason: serde_json::Map<String, Value> = reasons
        .iter()
        .map(|r| (r.to_string(), int.clone()))
        .collect();
    schemas["RefusalCounts"] = json!({ "type": "object",
        "description": "Counts by reason (only reasons that happened). Refusals: \
            unregistered_source, wrong_region, not_in_service, ipv6_client, session_limit, \
            source_connection_limit, draining, not_ready, blocked_by_rule, port_not_allowed, \
            destination_ip_prohibited, proxy_loop; the client's errors: bad_request, \
            headers_too_large, bad_request_body; the way out failing: the rest. A reason \
            this build does not know (a newer edge's report) is read and ignored",
        "properties": by_reason, "additionalProperties": int.clone() });
    schemas["RefusalBucket"] = json!({ "type": "object", "required": ["at_ms", "counts"],
        "properties": { "at_ms": int, "counts": schema("RefusalCounts") } });
    schemas["RegionRefusals"] = json!({ "type": "object",
        "required": ["region", "edges", "since_edge_start", "last_hour", "last_3_hours", "buckets"],
        "properties": { "region": string, "edges": int,
            "since_edge_start": schema("RefusalCounts"), "last_hour": schema("RefusalCounts"),
            "last_3_hours": schema("RefusalCounts"),
            "buckets": { "type": "array", "items": schema("RefusalBucket") } } });
    schemas["TenantRefusals"] = json!({ "type": "object",
        "required": ["tenant", "node_id", "regions"], "properties": {
        "tenant": string, "node_id": int,
        "regions": { "type": "array", "items": schema("RegionRefusals") } } });
    schemas["QuotaExchange"] = json!({ "type": "object", "required": ["reports"],
        "properties": { "reports": { "type": "array", "items": schema("RelayedReport") },
            "edges": { "type": "array", "items": string } } });
    let grant = json!({ "type": "object", "properties": {
        "sessions": int, "ttl_ms": int, "floor": int } });
    schemas["QuotaExchangeAnswer"] = json!({ "type": "object", "properties": {
        "grants": { "type": "array", "items": { "type": "object", "properties": {
            "edge_id": string, "grants": { "type": "object", "properties": {
                "epoch": int, "grants": { "type": "object", "additionalProperties": grant },
                "renew": { "type": "object", "properties": {
                    "from": int, "ttl_ms": int,
                    "ends": { "type": "array", "items": string } } }
            } } } } },
        "whole": { "type": "array", "items": string,
            "description": "Edges whose sparse report could not be merged: send the next whole" },
        "sparse": { "type": "boolean", "description": "The leader merges sparse reports" } } });
}
