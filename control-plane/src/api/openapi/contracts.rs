//! The contract, option, billing, price-book and withdrawal routes in `/openapi.json`, merged
//! into the document by [`extend`]. Kept apart from the core document so each file stays readable.

use serde_json::{json, Value};

use super::build::{array, operation as op, schema, written};

fn paths() -> Value {
    let tenant_on: &[&str] = &["id", "on", "stale"];
    let contract = &["id", "contractId"];
    let contracts = json!({ "version": { "type": "integer" }, "on": schema("Date"),
        "effective": schema("Effective"), "items": array(schema("Contract")) });
    let options = json!({ "version": { "type": "integer" }, "on": schema("Date"),
        "items": array(schema("Option")) });
    let created = written(json!({ "contracts": array(schema("Contract")),
        "options": array(schema("Option")), "effective": schema("Effective") }));
    let cancelled = written(json!({ "contract": schema("Contract"),
        "options": array(schema("Option")), "effective_at_end": schema("Effective") }));
    let books = json!({ "type": "object", "properties": { "version": { "type": "integer" },
        "current": schema("PriceBookRecord"), "items": array(schema("PriceBookRecord")) } });
    let mut paths = json!({
        "/v1/tenants/{id}/attributes": {
            "get": op("The tenant's attributes (private backbone, internet-access contract date)",
                &["id", "stale"], None, "200", written(json!({ "attributes": schema("Attributes") }))),
            "put": op("Replace the attributes (art. 6-2, 6-3 guard them while contracts need them)",
                &["id"], Some(schema("Attributes")), "200",
                written(json!({ "attributes": schema("Attributes") }))),
        },
        "/v1/tenants/{id}/contracts": {
            "get": op("Child contracts and their state on `on`", tenant_on, None, "200",
                json!({ "type": "object", "properties": contracts })),
            "post": op("Order a child contract (a cloud bypass may bring options, 10-3)", &["id"],
                Some(schema("ContractOrder")), "201", created),
        },
        "/v1/tenants/{id}/contracts/{cid}/capacity": {
            "post": op("Change the cloud-bypass capacity item (art. 9: same plan only)", contract,
                Some(schema("CapacityChangeBody")), "200",
                written(json!({ "contract": schema("Contract") }))),
        },
        "/v1/tenants/{id}/contracts/{cid}/cancel": {
            "post": op("Cancel (art. 12: the later of notice + 30 days and the named day)",
                contract, Some(schema("EndRequest")), "200", cancelled),
        },
        "/v1/tenants/{id}/options": {
            "get": op("Options and their state on `on`", tenant_on, None, "200",
                json!({ "type": "object", "properties": options })),
            "post": op("Order an option (6-3, 6-4; initial setup only with the bypass, 10-3)",
                &["id"], Some(schema("OptionOrder")), "201",
                written(json!({ "option": schema("Option") }))),
        },
        "/v1/tenants/{id}/options/{kind}/stop": {
            "post": op("Stop an option (10-5)", &["id", "optionKind"], Some(schema("EndRequest")),
                "200", written(json!({ "option": schema("Option") }))),
        },
        "/v1/tenants/{id}/billing": {
            "get": op("A month's bill: line items with the rule behind each", &["id", "month", "stale"],
                None, "200", schema("Bill")),
        },
        "/v1/price-book": {
            "get": op("Every price book and the one in force today", &["stale"], None, "200", books),
            "put": op("Set a price book from `effective_from` (annex 1; never retroactive)",
                &["effectiveFrom"], Some(schema("PriceBook")), "200",
                written(json!({ "price_book": schema("PriceBookRecord") }))),
        },
        "/v1/templates/{item}/withdraw": {
            "post": op("Withdraw a template item (art. 11); lists the affected tenants",
                &["templateItem"], Some(schema("WithdrawBody")), "200", schema("Withdrawal")),
        },
    });
    // No body means "from today" (the handler takes none).
    paths["/v1/templates/{item}/withdraw"]["post"]["requestBody"]["required"] = json!(false);
    paths
}

fn parameters() -> Value {
    let p = |name: &str, inn: &str, s: Value, d: &str| json!({ "name": name, "in": inn, "required": inn == "path", "schema": s, "description": d });
    let string = || json!({ "type": "string" });
    json!({
        "contractId": p("cid", "path", string(), "Contract id (c1, c2, …)"),
        "optionKind": p("kind", "path", schema("OptionKind"), "Option kind"),
        "templateItem": p("item", "path", schema("TemplateItem"), "Template item"),
        "on": p("on", "query", schema("Date"), "The day states are shown for (default today, UTC)"),
        "month": p("month", "query", json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" }),
            "The month billed, YYYY-MM (default this month)"),
        "effectiveFrom": p("effective_from", "query", schema("Date"),
            "The day the book applies from (default today; never earlier)"),
    })
}

fn schemas() -> Value {
    let int = super::build::u64_int();
    let string = json!({ "type": "string" });
    let date = schema("Date");
    let fees = schema("Fees");
    let by = |key: &str| {
        json!({ "type": "object", "additionalProperties": schema("Fees"),
        "description": format!("by {key}") })
    };
    let term = json!({ "applied": date, "billing_start": date, "min_term_end": date,
        "notice": date, "requested_end": date, "effective_end": date,
        "end_reason": { "type": "string", "enum": ["notice", "withdrawn"] },
        "provider_fault": { "type": "boolean" },
        "state": { "type": "string", "enum": ["pending", "active", "ending", "ended"] },
        "created_version": int, "changed_version": int });
    let mut contract = term.clone();
    for (k, v) in [
        ("id", string.clone()),
        ("kind", schema("ContractKind")),
        ("item", schema("TemplateItem")),
        ("plan", json!({ "type": "integer", "enum": [1, 2] })),
        ("capacity", super::build::u32_int()),
        ("region", string.clone()),
        ("capacity_changes", array(json!({ "type": "object" }))),
    ] {
        contract[k] = v;
    }
    let mut option = term;
    option["id"] = string.clone();
    option["kind"] = schema("OptionKind");
    let line = json!({ "type": "object", "properties": { "kind": { "type": "string",
        "enum": ["initial", "monthly", "one_time", "early_termination"] }, "subject": string,
        "description": string, "from": date, "to": date, "days": int, "amount": int,
        "rule": string } });
    json!({
        "Date": { "type": "string", "format": "date" },
        "ContractKind": { "type": "string",
            "enum": ["list-template", "cloud-bypass", "external-integration"] },
        "TemplateItem": { "type": "string",
            "enum": ["microsoft365", "azure-expressroute", "google-workspace"] },
        "OptionKind": { "type": "string", "enum": ["internet-access", "access-control", "pac",
            "list-update-api", "initial-setup"] },
        "Attributes": { "type": "object", "additionalProperties": false, "properties": {
            "private_backbone": { "type": "boolean" }, "internet_access_contract_date": date } },
        "ContractOrder": { "type": "object", "additionalProperties": false, "required": ["kind"],
            "properties": { "kind": schema("ContractKind"), "item": schema("TemplateItem"),
                "plan": { "type": "integer", "enum": [1, 2] }, "capacity": { "type": "integer",
                    "enum": [20000, 40000, 120000, 200000, 400000, 800000, 1000000] },
                "region": string, "billing_start": date,
                "options": array(schema("OptionKind")) } },
        "OptionOrder": { "type": "object", "additionalProperties": false, "required": ["kind"],
            "properties": { "kind": schema("OptionKind"), "billing_start": date } },
        "CapacityChangeBody": { "type": "object", "additionalProperties": false,
            "required": ["capacity"], "properties": { "capacity": super::build::u32_int(),
                "effective": date } },
        "EndRequest": { "type": "object", "additionalProperties": false, "properties": {
            "requested_end": date, "provider_fault": { "type": "boolean" },
            "stop_options": { "type": "boolean" } } },
        "Contract": { "type": "object", "properties": contract },
        "Option": { "type": "object", "properties": option },
        "Effective": { "type": "object", "properties": { "in_service": { "type": "boolean" },
            "session_limit": { "type": "integer", "nullable": true },
            "region": { "type": "string", "nullable": true },
            "internet_access": { "type": "boolean" },
            "reasons_not_in_service": array(string.clone()) } },
        "Bill": { "type": "object", "properties": { "version": int, "tenant": string,
            "month": string, "currency": { "type": "string", "enum": ["JPY"] },
            "lines": array(line), "total": int } },
        "Fees": { "type": "object", "additionalProperties": false, "properties": {
            "initial": int, "monthly": int, "one_time": int } },
        "PriceBook": { "type": "object", "additionalProperties": false,
            "required": ["list_template", "cloud_bypass", "external_integration", "options"],
            "properties": { "list_template": by("template item"),
                "cloud_bypass": by("capacity item (sessions); one_time is the fee for a change to it"),
                "external_integration": fees, "options": by("option kind") } },
        "PriceBookRecord": { "type": "object", "nullable": true, "properties": {
            "effective_from": date, "version": int, "prices": schema("PriceBook") } },
        "WithdrawBody": { "type": "object", "additionalProperties": false,
            "properties": { "effective": { "type": "string", "format": "date",
                "nullable": true, "description": "absent or null: today" } } },
        "Withdrawal": { "type": "object", "properties": { "version": int,
            "item": schema("TemplateItem"), "effective": date, "affected": array(json!({
                "type": "object", "properties": { "tenant": string,
                    "contracts": array(string.clone()),
                    "leaves_service": { "type": "boolean" } } })) } },
    })
}

/// Adds the contract routes, their parameters and schemas to `doc`, and `effective` to the
/// tenant view.
pub fn extend(doc: &mut Value) {
    let merge = |target: &mut Value, extra: Value| {
        if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
            t.extend(e);
        }
    };
    merge(&mut doc["paths"], paths());
    merge(&mut doc["components"]["parameters"], parameters());
    merge(&mut doc["components"]["schemas"], schemas());
    let view = &mut doc["components"]["schemas"]["TenantView"]["properties"];
    if view.is_object() {
        view["effective"] = schema("Effective");
    }
    let get = &mut doc["paths"]["/v1/tenants/{id}"]["get"]["parameters"];
    if let Some(params) = get.as_array_mut() {
        params.push(json!({ "$ref": "#/components/parameters/on" }));
    }
}
