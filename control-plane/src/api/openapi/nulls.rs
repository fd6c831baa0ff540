//! `null` in request bodies. serde reads `null` for an `Option` field as absent, so the document
//! says `nullable` on every optional body field whose handler takes null — all of them but
//! [`NULL_REFUSED`] (fields of a type without null: lists and flags with a default).
//! `control-plane/tests/api_openapi_agreement.rs` holds this to the handlers both ways.

use serde_json::{json, Value};

/// `(operation, field)`: optional top-level body fields a handler refuses as null.
const NULL_REFUSED: &[(&str, &str)] = &[
    ("POST /v1/tenants", "default_action"),
    ("POST /v1/tenants", "lists"),
    ("POST /v1/tenants", "rules"),
    ("POST /v1/tenants", "upstreams"),
    ("PUT /v1/tenants/{id}/attributes", "private_backbone"),
    ("POST /v1/quota/exchange", "edges"),
    ("POST /v1/tenants/{id}/contracts", "options"),
    (
        "POST /v1/tenants/{id}/contracts/{cid}/cancel",
        "provider_fault",
    ),
    (
        "POST /v1/tenants/{id}/contracts/{cid}/cancel",
        "stop_options",
    ),
    (
        "POST /v1/tenants/{id}/options/{kind}/stop",
        "provider_fault",
    ),
    ("POST /v1/tenants/{id}/options/{kind}/stop", "stop_options"),
    ("PUT /v1/tenants/{id}/pac", "direct_exceptions"),
    ("PUT /v1/tenants/{id}/pac", "ip_rules"),
    ("PUT /v1/tenants/{id}/pac", "max_bytes"),
    ("PUT /v1/tenants/{id}/pac", "plain_hostnames_direct"),
    ("PUT /v1/tenants/{id}/pac", "private_ranges_direct"),
    ("PUT /v1/tenants/{id}/pac", "proxies"),
    ("PUT /v1/tenants/{id}/pac", "upstream_proxies"),
];

/// Marks the optional fields of every operation's object body `nullable`, except
/// [`NULL_REFUSED`].
pub fn admit_null_as_absent(doc: &mut Value) {
    let mut bodies = Vec::new(); // (operation, JSON pointer to the body's schema)
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if op["requestBody"].is_object() {
                let at = format!(
                    "/paths/{}/{method}/requestBody/content/application~1json/schema",
                    path.replace('~', "~0").replace('/', "~1")
                );
                bodies.push((format!("{} {path}", method.to_uppercase()), at));
            }
        }
    }
    for (operation, at) in bodies {
        let at = object_behind(doc, at);
        let Some(schema) = doc.pointer_mut(&at) else {
            continue;
        };
        let required: Vec<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        let Some(props) = schema["properties"].as_object_mut() else {
            continue;
        };
        for (field, prop) in props.iter_mut() {
            let refused = NULL_REFUSED.contains(&(operation.as_str(), field.as_str()));
            if required.contains(field) || refused || prop["nullable"] == json!(true) {
                continue;
            }
            if prop.get("$ref").is_some() {
                // OpenAPI 3.0 ignores a `$ref`'s siblings.
                *prop = json!({ "allOf": [prop.clone()], "nullable": true });
            } else {
                prop["nullable"] = json!(true);
            }
        }
    }
}

/// Where the object schema behind `at` is: through `$ref`s and one-element `allOf`s.
fn object_behind(doc: &Value, mut at: String) -> String {
    for _ in 0..8 {
        let Some(s) = doc.pointer(&at) else {
            break;
        };
        if let Some(r) = s["$ref"].as_str() {
            at = r.trim_start_matches('#').to_string();
        } else if s["allOf"].as_array().is_some_and(|a| a.len() == 1) {
            at.push_str("/allOf/0");
        } else {
            break;
        }
    }
    at
}
