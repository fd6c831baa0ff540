//! The list-template routes (`/v1/templates…`, `/v1/tenants/{id}/templates…`) in
//! `/openapi.json`, merged by [`extend`].

use serde_json::{json, Value};

use super::build::{operation, schema};

fn op(summary: &str, params: &[&str], body: Option<Value>, answer: Value) -> Value {
    operation(summary, params, body, "200", answer)
}

/// Adds the template routes, their parameters and schemas to `doc`.
pub fn extend(doc: &mut Value) {
    // Template version and candidate numbers are `u32`s.
    let int = super::build::u32_int();
    let string = json!({ "type": "string" });
    let obj = json!({ "type": "object" });
    let written = json!({ "type": "object", "required": ["version"],
        "properties": { "version": int, "live": int } });
    let item = &["templateItem"];
    let candidate = &["templateItem", "candidateId"];
    let paths = &mut doc["paths"];
    paths["/v1/templates"] = json!({ "get": op(
        "Every template item: live version, versions kept, candidates held, withdrawal",
        &["stale"], None, obj.clone()) });
    paths["/v1/templates/sync"] = json!({ "post": op(
        "Poll every source now (the leader's poller; a write, so followers forward it)",
        &[], None, written.clone()) });
    paths["/v1/templates/{item}"] = json!({ "get": op(
        "A version's content with provenance (default: the live version)",
        &["templateItem", "templateVersion", "stale"], None, schema("TemplateVersionView")) });
    paths["/v1/templates/{item}/versions"] = json!({ "get": op(
        "Versions kept (oldest first) and quarantined candidates", &["templateItem", "stale"],
        None, obj.clone()) });
    paths["/v1/templates/{item}/diff"] = json!({ "get": op(
        "Hosts and ranges added and removed per set between two versions",
        &["templateItem", "diffFrom", "diffTo"], None, obj.clone()) });
    paths["/v1/templates/{item}/rollback"] = json!({ "post": op(
        "Make a kept version live again", item,
        Some(json!({ "type": "object", "additionalProperties": false, "required": ["to"],
            "properties": { "to": int } })), written.clone()) });
    paths["/v1/templates/{item}/candidates/{cid}/approve"] = json!({ "post": op(
        "A quarantined candidate becomes the live version", candidate, None, written.clone()) });
    paths["/v1/templates/{item}/candidates/{cid}/reject"] = json!({ "post": op(
        "Drop a quarantined candidate", candidate, None, written.clone()) });
    paths["/v1/tenants/{id}/templates"] = json!({ "get": op(
        "The tenant's template subscriptions (operator or the tenant's token)",
        &["id", "stale"], None, obj.clone()) });
    paths["/v1/tenants/{id}/templates/{item}"] = json!({
        "get": op("The subscription, the template version in use and the lists it compiles to",
            &["id", "templateItem", "stale"], None, obj.clone()),
        "put": op("Set the tenant's subscription (needs a list-template contract in force)",
            &["id", "templateItem"], Some(schema("Subscription")), written.clone()),
        "delete": op("Clear the tenant's subscription", &["id", "templateItem"], None, written),
    });
    let params = &mut doc["components"]["parameters"];
    let q = |name: &str, d: &str| {
        json!({ "name": name, "in": "query", "required": false,
        "schema": super::build::u32_int(), "description": d })
    };
    params["candidateId"] = json!({ "name": "cid", "in": "path", "required": true,
        "schema": int, "description": "Quarantined candidate id" });
    params["templateVersion"] = q("version", "Template version number (default: live)");
    params["diffFrom"] = q("from", "Older template version");
    params["diffFrom"]["required"] = json!(true);
    params["diffTo"] = q("to", "Newer template version (default: live)");
    let schemas = &mut doc["components"]["schemas"];
    let strings = json!({ "type": "array", "items": string });
    schemas["Subscription"] = json!({ "type": "object", "additionalProperties": false,
        "required": ["action"], "properties": {
        "groups": strings, "categories": strings, "required_only": { "type": "boolean" },
        "action": { "type": "string", "description": "direct or upstream:<name>" },
        "add": strings, "exclude": strings, "pin": int,
        "instance": { "type": "string", "description": "the Microsoft 365 instance whose sets \
            it takes (microsoft365, azure-expressroute; absent: Worldwide), e.g. China, \
            USGovDoD, USGovGCCHigh" } } });
    schemas["TemplateVersionView"] = json!({ "type": "object", "properties": {
        "summary": obj, "unsteerable": strings, "diff": obj, "content": obj } });
}
