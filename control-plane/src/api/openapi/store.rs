//! `/v1/store/export` and `/v1/store/import` (docs/operations.md): a dump and the state it
//! carries (`crate::state::State` as serde writes it), merged by [`extend`]. The state's
//! top-level fields are typed; records deeper down are objects (their shapes are the store's,
//! not an API contract: a dump is read back by `import`, which checks it).

use serde_json::{json, Value};

use super::build::{array, schema, u32_int, u64_int, written, Op};

/// Adds the dump schemas and the two routes to `doc`.
pub fn extend(doc: &mut Value) {
    let int = u64_int();
    let string = json!({ "type": "string" });
    // `Option` fields: serde reads null as absent, so the document must admit it too.
    let nullable = |mut s: Value| {
        s["nullable"] = json!(true);
        s
    };
    let obj = |description: &str| json!({ "type": "object", "description": description });
    let map_of = |s: Value, description: &str| json!({ "type": "object", "additionalProperties": s, "description": description });
    let tenant_record = json!({ "type": "object",
        "required": ["tenant", "created_version", "changed_version"],
        "properties": {
            "tenant": obj("the tenant as edges get it (id, region, rules, lists, ...)"),
            "created_version": int, "changed_version": int,
            "session_cap": nullable(u32_int()), "ops_contact": nullable(string.clone()),
            "notify_business_days": { "type": "boolean" },
            "quotas": schema("Quotas") } });
    let token_record = json!({ "type": "object",
        "required": ["id", "tenant", "hash", "created_version"],
        "properties": { "id": string, "tenant": string,
            "hash": { "type": "string", "description": "hex SHA-256 of the secret" },
            "label": nullable(string.clone()), "created_version": int,
            "expires_at_ms": nullable(int.clone()) } });
    let item_map = "by template item (`microsoft365`, `microsoft365:China`, ...)";
    let state = json!({ "type": "object",
        "description": "The whole replicated state (format breakout-store-dump/1)",
        "required": ["version", "regions", "tenants", "tokens", "audit"],
        "example": { "version": 0, "regions": {}, "tenants": {}, "tokens": {}, "audit": [] },
        "properties": {
            "version": int,
            "regions": map_of(schema("Region"), "by name"),
            "tenants": map_of(tenant_record, "by tenant id"),
            "tokens": map_of(token_record, "tenant API tokens by token id"),
            "audit": array(schema("AuditEvent")),
            "contracts": map_of(obj("attributes, contracts, options"), "by tenant id"),
            "price_books": map_of(obj("a price book"), "by the day it applies from"),
            "withdrawn": map_of(json!({ "type": "string", "format": "date" }), item_map),
            "day": nullable(json!({ "type": "string", "format": "date" })),
            "templates": map_of(obj("versions, the live one, quarantined candidates"), item_map),
            "subscriptions": map_of(obj(item_map), "by tenant id"),
            "template_sync": int,
            "webhooks": map_of(obj("by webhook id"), "by tenant id"),
            "notified": map_of(u32_int(), item_map),
            "idempotency": { "type": "object", "required": ["answers", "order"],
                "description": "kept answers to writes that carried an Idempotency-Key",
                "properties": { "answers": obj("by the principal's key"),
                    "order": { "type": "array", "description": "[key, index], oldest first" } } },
        } });
    let dump = json!({ "type": "object", "required": ["format", "version", "state"],
        "properties": {
            "format": { "type": "string", "enum": [crate::api::store_dump::FORMAT] },
            "version": int, "state": schema("StoreState") } });
    doc["components"]["schemas"]["StoreState"] = state;
    doc["components"]["schemas"]["StoreDump"] = dump;
    doc["paths"]["/v1/store/export"] = json!({ "get": Op::new(
        "The whole state as one consistent dump (format breakout-store-dump/1)",
        schema("StoreDump")).build() });
    doc["paths"]["/v1/store/import"] = json!({ "post": Op::new(
        "Replace the state with a dump's content, in writes of about 2 MiB each with nothing \
         between them (409 on a non-empty store unless replace=true)",
        written(json!({ "imported_from": int, "parts": int }))).params(&["replace"])
        .body(schema("StoreDump")).build() });
}
