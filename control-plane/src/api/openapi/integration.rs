//! The external-integration routes (issue 6, docs/integration.md) in `/openapi.json`, merged
//! by [`extend`].

use serde_json::{json, Value};

use super::build::{error_responses, params};

/// Adds the integration routes, their parameters and schemas to `doc`.
pub fn extend(doc: &mut Value) {
    let string = json!({ "type": "string" });
    let text = json!({ "schema": { "type": "string" } });
    let mut responses = json!({
        "200": { "description": "the tenant's effective destinations (or, with since, what \
            changed); headers ETag (strong), X-Breakout-Version, X-Breakout-Delta, \
            X-Breakout-Omitted",
            "content": {
                "application/json": { "schema": { "oneOf": [
                    { "$ref": "#/components/schemas/Endpoints" },
                    { "$ref": "#/components/schemas/EndpointsDelta" } ] } },
                "text/plain": text.clone(),
                "text/csv": text } },
        "304": { "description": "If-None-Match named the current ETag" },
    });
    error_responses(&mut responses);
    doc["paths"]["/v1/tenants/{id}/endpoints"] = json!({ "get": {
        "summary": "A tenant's effective destinations for external devices (art. 2): operator, \
            or the tenant's token with an external-integration or list-template contract in force",
        "parameters": params(&["id", "endpointsFormat", "endpointsAction", "endpointsKind",
            "endpointsSince", "stale", "IfNoneMatch"]),
        "responses": responses } });

    let mut responses = json!({ "200": { "description": "success", "content": {
        "application/json": { "schema": { "type": "object", "required": ["version"],
            "properties": { "version": { "type": "integer", "minimum": 0 } } } } } } });
    error_responses(&mut responses);
    doc["paths"]["/v1/tenants/{id}/lists/{name}"]["patch"] = json!({
        "summary": "Add and remove entries of a list: operator, or the tenant's token with the \
            list-update-api option (art. 10-4); errors name the bad entry and its index",
        "parameters": params(&["id", "name", "IfMatch"]),
        "requestBody": { "required": true, "content": { "application/json": { "schema":
            { "$ref": "#/components/schemas/ListPatch" } } } },
        "responses": responses });

    let simple = |summary: &str, params_: &[&str], body: Option<Value>, status: &str| {
        let mut responses = json!({ status: { "description": "success", "content": {
            "application/json": { "schema": { "type": "object" } } } } });
        error_responses(&mut responses);
        let mut op = json!({ "summary": summary, "parameters": params(params_),
            "responses": responses });
        if let Some(b) = body {
            op["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        op
    };
    doc["paths"]["/v1/tenants/{id}/webhooks"] = json!({
        "get": simple("A tenant's webhooks: {version, items: [{id, url, created_version}]} \
            (the secret is never shown)", &["id", "stale"], None, "200"),
        "post": simple("Register a webhook: each change of the tenant's endpoints is POSTed \
            to url, signed X-Breakout-Signature: sha256=HMAC-SHA256(secret, body)",
            &["id"], Some(json!({ "$ref": "#/components/schemas/NewWebhook" })), "201"),
    });
    doc["paths"]["/v1/tenants/{id}/webhooks/{wid}"] = json!({
        "delete": simple("Delete a webhook", &["id", "webhookId"], None, "200") });
    doc["paths"]["/v1/tenants/{id}/webhook-deliveries"] = json!({
        "get": simple("Every delivery attempt, oldest first (the leader's log, bounded)",
            &["id"], None, "200") });

    let p = &mut doc["components"]["parameters"];
    p["webhookId"] = json!({ "name": "wid", "in": "path", "required": true,
        "schema": { "type": "string" }, "description": "Webhook id" });
    let query = |name: &str, schema: Value, d: &str| {
        json!({ "name": name, "in": "query", "required": false, "schema": schema,
            "description": d })
    };
    p["endpointsFormat"] = query(
        "format",
        json!({ "type": "string", "enum": ["json", "text", "squid", "squid-regex", "csv"],
            "default": "json" }),
        "Output format (docs/integration.md)",
    );
    p["endpointsAction"] = query(
        "action",
        string.clone(),
        "Only entries with this action: direct, block, upstream or upstream:<name>",
    );
    p["endpointsKind"] = query(
        "kind",
        json!({ "type": "string", "enum": ["hosts", "cidrs"] }),
        "Only names (hosts) or only IPv4 networks (cidrs)",
    );
    p["endpointsSince"] = query(
        "since",
        super::build::u64_int(),
        "A store version (X-Breakout-Version of an earlier answer): answer what changed since \
         (format=json only); the full list with X-Breakout-Delta: full when this node cannot",
    );
    p["IfNoneMatch"] = json!({ "name": "If-None-Match", "in": "header", "required": false,
        "schema": string, "description": "An ETag of an earlier answer; 304 if still current" });

    let s = &mut doc["components"]["schemas"];
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    s["NewWebhook"] = json!({ "type": "object", "additionalProperties": false,
        "required": ["url", "secret"], "properties": {
            "url": { "type": "string", "description": "http(s) URL, no credentials" },
            "secret": { "type": "string", "minLength": 16, "maxLength": 256 } } });
    s["ListPatch"] = json!({ "type": "object", "additionalProperties": false,
        "properties": { "add": strings.clone(), "remove": strings } });
    let entry = json!({ "type": "object", "required": ["action", "value", "kind", "source"],
        "properties": { "action": string, "value": string,
            "kind": { "type": "string", "enum": ["host", "wildcard", "pattern", "cidr"] },
            "source": { "type": "string", "description": "list:<name> or rule:<label>" },
            "ports": { "type": "array", "items": { "type": "integer" } } } });
    let entries = json!({ "type": "array", "items": entry });
    s["Endpoints"] = json!({ "type": "object", "required": ["tenant", "entries"],
        "properties": { "tenant": string, "entries": entries.clone() } });
    s["EndpointsDelta"] = json!({ "type": "object",
        "required": ["tenant", "since", "version", "added", "removed"],
        "properties": { "tenant": string, "since": { "type": "integer" },
            "version": { "type": "integer" }, "added": entries.clone(), "removed": entries } });
}
