//! What every write takes and may answer (the `Idempotency-Key` header, 409 `quota_exceeded`,
//! 422 `idempotency_key_reused`; docs/api.md#retries), and the quota routes
//! (docs/api.md#quotas), merged by [`extend`].

use serde_json::{json, Value};

use super::build::{object, schema, written, Op};

/// Adds the quota routes and schema, and the idempotency key to every write of `doc`.
pub fn extend(doc: &mut Value) {
    let count = json!({ "type": "integer", "minimum": 0 });
    // What a client sends is read as a u64.
    let sent = json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX });
    let mut props = serde_json::Map::new();
    for name in [
        "lists",
        "list_entries",
        "entries",
        "bytes",
        "rules",
        "webhooks",
        "tokens",
    ] {
        props.insert(name.into(), sent.clone());
    }
    let quotas = object(Value::Object(props.clone()), &[]);
    let shown = object(
        json!({ "limit": count, "default": count, "used": count }),
        &["limit", "default", "used"],
    );
    let all_shown: serde_json::Map<String, Value> =
        props.keys().map(|k| (k.clone(), shown.clone())).collect();
    let schemas = &mut doc["components"]["schemas"];
    schemas["Quotas"] = json!({ "allOf": [quotas], "description": "The operator's overrides \
        of a tenant's quotas; an absent one is the default (docs/api.md#quotas)" });
    schemas["QuotaView"] = json!({ "type": "object", "properties": {
        "version": count, "tenant": { "type": "string" }, "changed_version": count,
        "overrides": schema("Quotas"), "quotas": object(Value::Object(all_shown), &[]) } });
    schemas["TenantPatch"]["properties"]["quotas"] =
        json!({ "allOf": [schema("Quotas")], "nullable": true });
    if let Some(codes) =
        schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"].as_array_mut()
    {
        codes.push(json!("quota_exceeded"));
        codes.push(json!("idempotency_key_reused"));
    }

    let nullable = json!({ "allOf": [schema("Quotas")], "nullable": true });
    doc["paths"]["/v1/tenants/{id}/quotas"] = json!({
        "get": Op::new("A tenant's quotas: limit, default and usage of each, and the overrides",
            schema("QuotaView")).params(&["id", "stale"]).build(),
        "put": Op::new("Replace the quota overrides (null: every quota at its default)",
            written(json!({ "tenant": schema("TenantView") })))
            .params(&["id", "IfMatch"]).body(nullable).build(),
    });

    doc["components"]["parameters"]["IdempotencyKey"] = json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
        "description": "Makes the write safe to retry: a repeat of the same request with the \
            same key (by the same principal, within 24 h) gets the first answer, with \
            Idempotent-Replayed: true; another request with the key is 422" });
    let key = json!({ "$ref": "#/components/parameters/IdempotencyKey" });
    let error = json!({ "$ref": "#/components/responses/Error" });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        if path.starts_with("/v1/cluster/") || path == "/v1/quota/exchange" {
            // Membership changes and the leases' exchange are not writes of the log.
            continue;
        }
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            if !matches!(method.as_str(), "post" | "put" | "patch" | "delete") {
                continue;
            }
            if let Some(params) = op["parameters"].as_array_mut() {
                params.push(key.clone());
            }
            op["responses"]["422"] = error.clone();
        }
    }
}
