//! `/openapi.json`: the API described as OpenAPI 3.0, written by hand next to `docs/api.md`.
//! A test checks that every route of the router appears here with its method.
//!
//! This file holds the core routes and schemas; each route group adds its own (`contracts`,
//! `sessions`, `templates`, `integration`); all of them build with [`build`].

mod build;
mod contracts;
mod integration;
mod nulls;
mod sessions;
mod store;
mod templates;
mod writes;

use std::sync::{Arc, OnceLock};

use axum::Json;
use serde_json::{json, Value};

use self::build::{answer, array, items, object, schema, u32_int, u64_int, written, Op};

/// `GET /openapi.json` (no auth).
pub async fn serve() -> Json<Arc<Value>> {
    static DOC: OnceLock<Arc<Value>> = OnceLock::new();
    Json(Arc::clone(DOC.get_or_init(|| Arc::new(document()))))
}

fn paths() -> Value {
    let obj = || json!({ "type": "object" });
    let tenant = || written(json!({ "tenant": schema("TenantView") }));
    let version = || written(json!({}));
    let cluster = || schema("ClusterStatus");
    let upstreams = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    let action = object(json!({ "action": schema("Action") }), &["action"]);
    let limit = json!({ "session_limit": u32_int() });
    let limit = object(limit, &["session_limit"]);
    let lists = json!({ "type": "object", "additionalProperties": schema("NamedList") });
    let list_body = json!({ "oneOf": [array(json!({ "type": "string" })), schema("NamedList")] });
    let region = written(json!({ "region": schema("Region") }));
    let id_if: &'static [&'static str] = &["id", "IfMatch"];
    let list_if: &'static [&'static str] = &["id", "name", "IfMatch"];
    let put = |summary, body| Op::new(summary, tenant()).params(id_if).body(body).build();
    let mut paths = json!({
        "/healthz": { "get": Op::new("Liveness", obj()).open().build() },
        "/readyz": { "get": Op::new("Ready when a leader is known", obj()).open().build() },
        "/openapi.json": { "get": Op::new("This document", obj()).open().build() },
        "/v1/cluster/self": { "get": Op::new("This node", schema("SelfInfo")).open().build() },
        "/v1/cluster/status": { "get": Op::new("Cluster status", cluster()).build() },
        "/v1/cluster/nodes": { "post": Op::new("Add a node: learner, then voter", cluster())
            .body(schema("NewNode")).build() },
        "/v1/cluster/nodes/{id}": {
            "delete": Op::new("Remove a node", cluster()).params(&["nodeId"]).build() },
        "/v1/regions": {
            "get": Op::new("Regions", items(schema("Region"))).params(&["stale"]).build(),
            "post": Op::new("Create a region", region).body(schema("NewRegion")).created().build(),
        },
        "/v1/regions/{name}": { "delete": Op::new("Delete a region (409 while tenants use it)",
            version()).params(&["name"]).build() },
        "/v1/tenants": {
            "get": Op::new("Tenants", items(schema("TenantView"))).params(&["stale"]).build(),
            "post": Op::new("Create a tenant (region required)", tenant())
                .body(schema("Tenant")).created().build(),
        },
        "/v1/tenants/{id}": {
            "get": Op::new("A tenant, with ETag: \"<changed_version>\"", schema("TenantView"))
                .params(&["id", "stale"]).build(),
            "patch": Op::new("Change some fields", tenant()).params(id_if)
                .body(schema("TenantPatch")).build(),
            "delete": Op::new("Delete a tenant", version()).params(id_if).build(),
        },
        "/v1/tenants/{id}/source-cidrs": {
            "put": put("Replace the source CIDRs (IPv4 only)", array(schema("SourceCidr"))) },
        "/v1/tenants/{id}/rules": { "put": put("Replace the rules", array(schema("Rule"))) },
        "/v1/tenants/{id}/upstreams": { "put": put("Replace the upstreams", upstreams) },
        "/v1/tenants/{id}/default-action": { "put": put("Set the default action", action) },
        "/v1/tenants/{id}/session-limit": { "put": put("Set the session limit", limit) },
        "/v1/tenants/{id}/pac": { "put": put(
            "Set the PAC settings (null removes them; 409 art. 6-4 without the pac option)",
            json!({ "allOf": [schema("PacSettings")], "nullable": true })) },
        "/v1/tenants/{id}/lists": {
            "get": Op::new("A tenant's lists", lists).params(&["id", "stale"]).build() },
        "/v1/tenants/{id}/lists/{name}": {
            "get": Op::new("One list", schema("NamedList"))
                .params(&["id", "name", "stale"]).build(),
            "put": Op::new("Replace a list", version()).params(list_if).body(list_body).build(),
            "delete": Op::new("Delete a list (409 while a rule uses it)", version())
                .params(list_if).build(),
        },
        "/v1/tokens": {
            "get": Op::new("Tenant tokens", items(schema("TokenInfo")))
                .params(&["stale"]).build(),
            "post": Op::new("Create a tenant token (shown once)", schema("TokenCreated"))
                .body(schema("NewToken")).created().build(),
        },
        "/v1/tokens/{id}": {
            "delete": Op::new("Revoke a token", version()).params(&["tokenId"]).build() },
        "/v1/audit": { "get": Op::new("The write log, oldest first", items(schema("AuditEvent")))
            .params(&["since", "limit", "stale"]).build() },
        "/v1/audit/denied": { "get": Op::new(
            "Refused access attempts on this node (missing or wrong token, out of scope)",
            schema("DeniedList")).build() },
    });
    paths["/v1/edges"] = json!({ "get": Op::new(
        "Edges connected to any node: region, applied version, lag, last report, sessions",
        schema("EdgeList")).params(&["region", "local"]).build() });
    paths
}

fn parameters() -> Value {
    let p = param_spec;
    let string = || json!({ "type": "string" });
    let int = u64_int;
    let limit = json!({ "type": "integer", "minimum": 0, "maximum": 1000, "default": 100 });
    json!({
        "id": p("id", "path", string(), "Tenant id"),
        "nodeId": p("id", "path", int(), "Node id"),
        "tokenId": p("id", "path", string(), "Token id"),
        "name": p("name", "path", string(), "Region or list name"),
        "stale": p("stale", "query", json!({ "type": "boolean", "default": false }),
            "Read this node's state instead of a linearizable read"),
        "since": p("since", "query", int(), "Only events with a greater version"),
        "replace": p("replace", "query", json!({ "type": "boolean", "default": false }),
            "Overwrite a store that already holds regions or tenants"),
        "limit": p("limit", "query", limit, "Events per page"),
        "region": p("region", "query", string(), "Only this region"),
        "local": p("local", "query", json!({ "type": "boolean", "default": false }),
            "Only the edges connected to the answering node (what nodes ask each other)"),
        "IfMatch": p("If-Match", "header", json!({ "type": "string", "minLength": 1,
            "pattern": "^(\\*|[0-9]{1,19}|\"[0-9]{1,19}\")$" }),
            "The version the object must still have, e.g. \"12\" (quoted or bare); else 412"),
    })
}

fn param_spec(name: &str, inn: &str, s: Value, d: &str) -> Value {
    json!({ "name": name, "in": inn, "required": inn == "path", "schema": s, "description": d })
}

fn schemas() -> Value {
    let int = u64_int();
    let string = json!({ "type": "string" });
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let mut opt_int = u64_int();
    opt_int["nullable"] = json!(true);
    let tenant_props = json!({
        "id": string, "region": string,
        "source_cidrs": { "type": "array", "items": schema("SourceCidr") },
        "session_limit": u32_int(),
        "upstreams": { "type": "object", "additionalProperties": { "type": "string" },
            "description": "name → host:port" },
        "rules": { "type": "array", "items": schema("Rule") },
        "default_action": schema("Action"),
        "lists": { "type": "object", "additionalProperties": schema("NamedList") },
        "egress_address": { "type": "string", "format": "ipv4" },
        "pac": schema("PacSettings"),
    });
    let mut patch_props = tenant_props.clone();
    if let Some(props) = patch_props.as_object_mut() {
        for gone in ["id", "region", "lists"] {
            props.remove(gone);
        }
    }
    patch_props["egress_address"]["nullable"] = json!(true);
    patch_props["pac"] = json!({ "allOf": [schema("PacSettings")], "nullable": true });
    let cap = "the operator's cap on the contracted session limit: edges get the smaller";
    patch_props["session_cap"] = json!({ "type": "integer", "minimum": 0,
        "maximum": u32::MAX, "nullable": true, "description": cap });
    let contact = "the operations contact's e-mail address: list change notifications go there";
    patch_props["ops_contact"] =
        json!({ "type": "string", "format": "email", "nullable": true, "description": contact });
    let mut view_props = tenant_props.clone();
    view_props["session_cap"] = json!({ "type": "integer", "minimum": 0, "description": cap });
    view_props["ops_contact"] =
        json!({ "type": "string", "format": "email", "description": contact });
    let held = "change notifications wait for business hours (the operator's calendar)";
    patch_props["notify_business_days"] = json!({ "type": "boolean", "description": held });
    view_props["notify_business_days"] = json!({ "type": "boolean", "description": held });
    view_props["session_limit_in_force"] = json!({ "type": "object",
        "description": "the limit the region's edges enforce on the day asked about (absent: \
            edges do not serve the tenant that day); `by`: the contract's capacity or the \
            operator's smaller session_cap",
        "required": ["sessions", "contracted", "by"],
        "properties": { "sessions": { "type": "integer", "minimum": 0 },
            "contracted": { "type": "integer", "minimum": 0 },
            "by": { "type": "string", "enum": ["contract", "session_cap"] } } });
    view_props["created_version"] = int.clone();
    view_props["changed_version"] = int.clone();
    let required = ["id", "region", "source_cidrs", "session_limit"];
    let view_required = [&required[..], &["created_version", "changed_version"]].concat();
    json!({
        "Error": { "type": "object", "required": ["error"], "properties": { "error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "enum": ["invalid", "unauthorized", "forbidden",
                    "not_found", "method_not_allowed", "conflict", "precondition_failed",
                    "too_large", "no_leader", "internal"] },
                "message": string } } } },
        "Action": { "type": "string", "pattern": "^(direct|block|upstream:.+)$" },
        "SourceCidr": { "type": "string", "description": "IPv4 a.b.c.d/len, host bits zero" },
        "Rule": { "type": "object", "required": ["action"], "additionalProperties": false,
            "properties": { "name": string, "action": schema("Action"), "destinations": strings,
                "lists": strings, "ports": { "type": "array", "items": { "type": "integer",
                    "minimum": 0, "maximum": 65535 } } } },
        "NamedList": { "type": "object", "required": ["entries"],
            "properties": { "entries": strings } },
        "Tenant": object(tenant_props, &required),
        "TenantView": { "type": "object", "required": view_required, "properties": view_props },
        "TenantPatch": object(patch_props, &[]),
        "PacSettings": { "type": "object", "additionalProperties": false,
            "description": "PAC option (art. 10-3), docs/pac.md; empty proxies: each edge's own address",
            "properties": { "proxies": strings,
                "upstream_proxies": { "type": "object", "description": "upstream name → host:port or [host:port]" },
                "direct_exceptions": strings, "plain_hostnames_direct": { "type": "boolean" },
                "private_ranges_direct": { "type": "boolean" }, "ip_rules": { "type": "boolean" },
                "max_bytes": int } },
        "NewRegion": { "type": "object", "required": ["name"], "additionalProperties": false,
            "properties": { "name": string, "description": string } },
        "Region": { "type": "object", "required": ["name", "created_version", "changed_version"],
            "properties": { "name": string,
                "description": { "type": "string", "nullable": true },
                "created_version": int, "changed_version": int } },
        "NewToken": { "type": "object", "required": ["tenant"], "additionalProperties": false,
            "properties": { "tenant": string, "label": string, "expires_in_seconds": {
                "type": "integer", "minimum": 1, "maximum": 316_224_000u64 } } },
        "TokenCreated": { "type": "object", "required": ["version", "id", "tenant", "token"],
            "properties": { "version": int, "id": string, "tenant": string,
                "label": { "type": "string", "nullable": true },
                "expires_at_ms": { "type": "integer", "nullable": true },
                "token": { "type": "string", "description": "bk_<id>_<secret>; shown once" } } },
        "TokenInfo": { "type": "object", "properties": { "id": string, "tenant": string,
            "label": { "type": "string", "nullable": true }, "created_version": int,
            "expires_at_ms": { "type": "integer", "nullable": true } } },
        "AuditEvent": { "type": "object", "properties": { "version": int, "at_ms": int,
            "actor": string, "action": string, "target": string, "result": string } },
        "DeniedList": object(json!({ "node_id": int, "items": { "type": "array",
            "items": schema("DeniedAttempt") } }), &["node_id", "items"]),
        "DeniedAttempt": object(json!({ "at_ms": int, "method": string, "route": string,
            "path": string, "status": int, "reason": { "type": "string", "enum": ["no_token",
            "bad_token", "operator_only", "not_allowed", "other_tenant", "not_granted"] },
            "principal": string, "source": { "type": "string", "nullable": true } }),
            &["at_ms", "method", "route", "path", "status", "reason", "principal"]),
        "SelfInfo": { "type": "object", "required": ["node_id", "api_addr", "raft_addr"],
            "properties": { "node_id": int, "api_addr": string, "raft_addr": string } },
        "NewNode": object(json!({ "id": int, "api_addr": { "type": "string",
            "description": "host:port" } }), &["id", "api_addr"]),
        "NodeAddr": { "type": "object", "properties": { "api": string, "raft": string } },
        "NodeStatus": { "type": "object", "properties": { "id": int, "addr": schema("NodeAddr"),
            "role": { "type": "string", "enum": ["leader", "follower", "learner", "candidate"] },
            "matched": opt_int, "lag": opt_int } },
        "ClusterStatus": { "type": "object", "properties": { "node_id": int, "leader": opt_int,
            "term": int, "last_log_index": opt_int, "last_applied": opt_int,
            "nodes": { "type": "array", "items": schema("NodeStatus") } } },
    })
}

/// `schemas` plus the edge list's (kept apart: the main `json!` is near the macro depth limit).
fn edge_schemas(mut schemas: Value) -> Value {
    let int = u64_int();
    let mut opt_int = u64_int();
    opt_int["nullable"] = json!(true);
    let string = json!({ "type": "string" });
    schemas["TenantUsage"] = json!({ "type": "object",
        "required": ["active", "refused"], "properties": {
        "active": u32_int(), "refused": u32_int(), "holding_epoch": int,
        "holding_sessions": u32_int() } });
    schemas["EdgeView"] = json!({ "type": "object", "properties": {
        "edge_id": string, "region": string, "address": string, "control_node": int,
        "connected_since_ms": int, "connected": { "type": "boolean" },
        "last_seen_ms": opt_int, "applied_version": opt_int, "synced_through": opt_int,
        "lag": opt_int, "last_report_ms": opt_int, "sessions": opt_int,
        "last_nack": { "type": "object", "nullable": true, "properties": {
            "version": int, "reason": string, "at_ms": int } },
        "tenants": { "type": "object", "additionalProperties": schema("TenantUsage") } } });
    schemas["EdgeList"] = json!({ "type": "object", "properties": {
        "version": int, "now_ms": int,
        "items": { "type": "array", "items": schema("EdgeView") },
        "unreachable": { "type": "array", "items": int } } });
    schemas
}

/// The whole document.
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Breakout control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "See docs/api.md. Writes answer with the new store version in \
                `version` and `X-Breakout-Version`; a write sent to a follower is forwarded to \
                the leader.",
        },
        "security": [{ "bearer": [] }],
        "paths": paths(),
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "parameters": parameters(),
            "schemas": edge_schemas(schemas()),
            "responses": { "Error": answer("an error", schema("Error")) },
        },
    });
    contracts::extend(&mut doc);
    sessions::extend(&mut doc);
    templates::extend(&mut doc);
    integration::extend(&mut doc);
    writes::extend(&mut doc);
    store::extend(&mut doc);
    nulls::admit_null_as_absent(&mut doc);
    doc
}
