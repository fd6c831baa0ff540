//! `contract list|add|change-capacity|cancel`, `option list|add|stop`, `tenant attributes`.

use serde_json::{json, Map, Value};

use super::Invocation;
use crate::cli::client::Call;
use crate::cli::contract_args::{AttributesArgs, ContractAdd, ContractCmd, EndArgs, OptionCmd};
use crate::cli::error::CliError;
use crate::cli::table::{fields, Table};
use crate::cli::view::{field, get, items, strings};
use crate::contracts::sessions;

pub async fn run(inv: &Invocation, cmd: ContractCmd) -> Result<(), CliError> {
    match cmd {
        ContractCmd::List { tenant, on } => {
            let call = Call::get(&["v1", "tenants", &tenant, "contracts"]).query("on", on);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_contracts);
        }
        ContractCmd::Add(args) => {
            let path = ["v1", "tenants", &args.tenant, "contracts"];
            let answer = inv.send(Call::post(&path, order(&args))).await?;
            inv.show(&answer, render_ordered);
        }
        ContractCmd::ChangeCapacity {
            tenant,
            contract,
            capacity,
            effective,
        } => {
            let mut body = json!({ "capacity": capacity });
            if let Some(day) = effective {
                body["effective"] = json!(day);
            }
            let path = ["v1", "tenants", &tenant, "contracts", &contract, "capacity"];
            let answer = inv.send(Call::post(&path, body)).await?;
            let from = effective.map_or("today".to_string(), |d| d.to_string());
            let what = format!(
                "contract {contract}: {} sessions from {from}",
                sessions(capacity)
            );
            inv.done(&answer, &what);
        }
        ContractCmd::Cancel {
            tenant,
            contract,
            end,
            stop_options,
        } => {
            let mut body = end_body(&end);
            body["stop_options"] = json!(stop_options);
            let path = ["v1", "tenants", &tenant, "contracts", &contract, "cancel"];
            let answer = inv.send(Call::post(&path, body)).await?;
            inv.show(&answer, render_cancelled);
        }
    }
    Ok(())
}

pub async fn run_option(inv: &Invocation, cmd: OptionCmd) -> Result<(), CliError> {
    match cmd {
        OptionCmd::List { tenant, on } => {
            let call = Call::get(&["v1", "tenants", &tenant, "options"]).query("on", on);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_options);
        }
        OptionCmd::Add {
            tenant,
            kind,
            billing_start,
        } => {
            let mut body = json!({ "kind": kind });
            if let Some(day) = billing_start {
                body["billing_start"] = json!(day);
            }
            let answer = inv
                .send(Call::post(&["v1", "tenants", &tenant, "options"], body))
                .await?;
            let id = field(get(&answer, "option"), "id");
            inv.done(
                &answer,
                &format!("option {kind} ({id}) ordered for {tenant}"),
            );
        }
        OptionCmd::Stop { tenant, kind, end } => {
            let kind = kind.to_string();
            let path = ["v1", "tenants", &tenant, "options", &kind, "stop"];
            let answer = inv.send(Call::post(&path, end_body(&end))).await?;
            let ends = field(get(&answer, "option"), "effective_end");
            inv.done(
                &answer,
                &format!("option {kind} of {tenant} stops on {ends}"),
            );
        }
    }
    Ok(())
}

/// `tenant attributes ID [flags]`: shows them, or changes the ones given (read, then write).
pub async fn attributes(inv: &Invocation, args: AttributesArgs) -> Result<(), CliError> {
    let path = ["v1", "tenants", &args.id, "attributes"];
    let current = inv.send(Call::get(&path)).await?;
    let changes = args.private_backbone.is_some()
        || args.internet_access_date.is_some()
        || args.no_internet_access;
    if !changes {
        inv.show(&current, render_attributes);
        return Ok(());
    }
    let mut attrs = get(&current, "attributes").clone();
    if !attrs.is_object() {
        attrs = json!({});
    }
    if let Some(b) = args.private_backbone {
        attrs["private_backbone"] = json!(b);
    }
    if let Some(day) = args.internet_access_date {
        attrs["internet_access_contract_date"] = json!(day);
    }
    if args.no_internet_access {
        if let Some(m) = attrs.as_object_mut() {
            m.remove("internet_access_contract_date");
        }
    }
    let answer = inv.send(Call::put(&path, attrs)).await?;
    inv.show(&answer, render_attributes);
    Ok(())
}

/// The order JSON that `contract add` describes.
pub fn order(args: &ContractAdd) -> Value {
    let mut o = Map::new();
    o.insert("kind".into(), json!(args.kind));
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            o.insert(k.into(), v);
        }
    };
    put("item", json!(args.item));
    put("capacity", json!(args.capacity));
    put("plan", json!(args.plan));
    put("region", json!(args.region));
    put("billing_start", json!(args.billing_start));
    if !args.options.is_empty() {
        put("options", json!(args.options));
    }
    Value::Object(o)
}

fn end_body(end: &EndArgs) -> Value {
    let mut body = json!({ "provider_fault": end.provider_fault });
    if let Some(day) = end.end {
        body["requested_end"] = json!(day);
    }
    body
}

/// `yes (40,000 sessions in eu)` or `no: art. 6-1: …; …`.
pub fn render_effective(e: &Value) -> String {
    if e.get("in_service").and_then(Value::as_bool) == Some(true) {
        let limit = get(e, "session_limit")
            .as_u64()
            .and_then(|n| u32::try_from(n).ok());
        return match limit {
            Some(n) => format!(
                "yes (contracted {} sessions in {})",
                sessions(n),
                field(e, "region")
            ),
            None => "yes (no cloud bypass in force)".into(),
        };
    }
    format!("no: {}", strings(e, "reasons_not_in_service").join("; "))
}

/// What a contract's item is: the template, or the bypass's plan and capacity.
fn item(c: &Value) -> String {
    match (get(c, "item").as_str(), get(c, "capacity").as_u64()) {
        (Some(item), _) => item.to_string(),
        (None, Some(n)) => {
            let n = u32::try_from(n).map_or_else(|_| n.to_string(), sessions);
            format!("plan {}, {n} sessions", field(c, "plan"))
        }
        _ => "-".into(),
    }
}

pub fn render_contracts(answer: &Value) -> String {
    let mut out = format!(
        "on {}, in service: {}\n",
        field(answer, "on"),
        render_effective(get(answer, "effective"))
    );
    let mut t = Table::new(&[
        "ID",
        "KIND",
        "ITEM",
        "REGION",
        "STATE",
        "APPLIED",
        "BILLING",
        "MIN-TERM-END",
        "ENDS",
    ]);
    for c in items(answer) {
        t.row(vec![
            field(c, "id"),
            field(c, "kind"),
            item(c),
            field(c, "region"),
            field(c, "state"),
            field(c, "applied"),
            field(c, "billing_start"),
            field(c, "min_term_end"),
            field(c, "effective_end"),
        ]);
    }
    out.push_str(&t.render());
    out
}

pub fn render_options(answer: &Value) -> String {
    let mut t = Table::new(&[
        "ID",
        "KIND",
        "STATE",
        "APPLIED",
        "BILLING",
        "MIN-TERM-END",
        "ENDS",
    ]);
    for o in items(answer) {
        t.row(vec![
            field(o, "id"),
            field(o, "kind"),
            field(o, "state"),
            field(o, "applied"),
            field(o, "billing_start"),
            field(o, "min_term_end"),
            field(o, "effective_end"),
        ]);
    }
    t.render()
}

fn render_ordered(answer: &Value) -> String {
    let ids = |key: &str| -> Vec<String> {
        get(answer, key)
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| format!("{} ({})", field(v, "id"), field(v, "kind")))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = format!("ordered {}", ids("contracts").join(", "));
    let options = ids("options");
    if !options.is_empty() {
        out.push_str(&format!(" with options {}", options.join(", ")));
    }
    out.push_str(&format!(" (version {})\n", field(answer, "version")));
    out.push_str(&format!(
        "in service: {}\n",
        render_effective(get(answer, "effective"))
    ));
    out
}

fn render_cancelled(answer: &Value) -> String {
    let c = get(answer, "contract");
    let ends = field(c, "effective_end");
    let mut out = format!(
        "contract {} ends on {ends} (version {})\n",
        field(c, "id"),
        field(answer, "version")
    );
    for o in get(answer, "options").as_array().into_iter().flatten() {
        out.push_str(&format!(
            "option {} ({}) stops on {}\n",
            field(o, "kind"),
            field(o, "id"),
            field(o, "effective_end")
        ));
    }
    out.push_str(&format!(
        "from {ends}, in service: {}\n",
        render_effective(get(answer, "effective_at_end"))
    ));
    out
}

fn render_attributes(answer: &Value) -> String {
    let a = get(answer, "attributes");
    fields(&[
        ("private backbone", field(a, "private_backbone")),
        (
            "internet access contract",
            field(a, "internet_access_contract_date"),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contracts_print_the_entitlement_then_one_row_each() {
        let answer = json!({ "version": 9, "on": "2025-01-15",
            "effective": { "in_service": true, "session_limit": 40000, "region": "tokyo" },
            "items": [
                { "id": "c1", "kind": "list-template", "item": "microsoft365", "state": "active",
                  "applied": "2025-01-15", "billing_start": "2025-01-15", "min_term_end": "2025-02-15" },
                { "id": "c2", "kind": "cloud-bypass", "plan": 1, "capacity": 40000, "region": "tokyo",
                  "state": "ending", "applied": "2025-01-15", "billing_start": "2025-01-15",
                  "min_term_end": "2025-02-15", "effective_end": "2025-02-14" },
            ] });
        let out = render_contracts(&answer);
        assert!(
            out.starts_with(
                "on 2025-01-15, in service: yes (contracted 40,000 sessions in tokyo)\nID  "
            ),
            "{out}"
        );
        assert!(
            out.contains("c2  cloud-bypass   plan 1, 40,000 sessions  tokyo   ending"),
            "{out}"
        );
        let out = render_effective(&json!({ "in_service": false,
            "reasons_not_in_service": ["art. 6-1: a", "art. 6-1: b"] }));
        assert_eq!(out, "no: art. 6-1: a; art. 6-1: b");
    }

    #[test]
    fn add_sends_only_the_flags_given() {
        use crate::contracts::{ContractKind, OptionKind};
        let args = ContractAdd {
            tenant: "acme".into(),
            kind: ContractKind::CloudBypass,
            item: None,
            capacity: Some(40_000),
            plan: None,
            region: None,
            billing_start: "2025-02-01".parse().ok(),
            options: vec![OptionKind::InitialSetup],
        };
        assert_eq!(
            order(&args),
            json!({ "kind": "cloud-bypass", "capacity": 40000,
            "billing_start": "2025-02-01", "options": ["initial-setup"] })
        );
    }

    #[test]
    fn a_cancellation_says_when_and_what_follows() {
        let answer = json!({ "version": 12, "contract": { "id": "c2", "effective_end": "2025-03-03" },
            "options": [{ "id": "o1", "kind": "pac", "effective_end": "2025-03-03" }],
            "effective_at_end": { "in_service": false,
                "reasons_not_in_service": ["art. 6-1: no cloud-bypass or external-integration contract in force"] } });
        assert_eq!(render_cancelled(&answer), "contract c2 ends on 2025-03-03 (version 12)\n\
            option pac (o1) stops on 2025-03-03\n\
            from 2025-03-03, in service: no: art. 6-1: no cloud-bypass or external-integration contract in force\n");
    }
}
