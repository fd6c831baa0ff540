//! `template list|show|versions|diff|approve|reject|rollback|sync|withdraw` (operator) and
//! `template subscribe|unsubscribe|pin|subscriptions` (a tenant's subscription).

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::Invocation;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::{fields, utc, Table};
use crate::cli::template_args::{TemplateCmd, TemplateManageCmd};
use crate::cli::view::{field, get, items, text};
use crate::contracts::TemplateItem;

pub async fn run(inv: &Invocation, cmd: TemplateCmd) -> Result<(), CliError> {
    use TemplateManageCmd::*;
    let cmd = match cmd {
        TemplateCmd::Withdraw { item, effective } => return withdraw(inv, item, effective).await,
        TemplateCmd::Manage(c) => c,
    };
    match cmd {
        List => {
            let answer = inv.send(Call::get(&["v1", "templates"])).await?;
            inv.show(&answer, render_list);
        }
        Show { item, at } => {
            let call = Call::get(&["v1", "templates", item.as_str()]).query("version", at);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_show);
        }
        Versions { item } => {
            let call = Call::get(&["v1", "templates", item.as_str(), "versions"]);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_versions);
        }
        Diff { item, from, to } => {
            let call = Call::get(&["v1", "templates", item.as_str(), "diff"])
                .query("from", Some(from))
                .query("to", to);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_diff);
        }
        Approve { item, candidate } => {
            let c = candidate.to_string();
            let path = [
                "v1",
                "templates",
                item.as_str(),
                "candidates",
                &c,
                "approve",
            ];
            let answer = inv.send(Call::post(&path, json!({}))).await?;
            let live = field(&answer, "live");
            inv.done(
                &answer,
                &format!("{item}: candidate {c} approved, live version {live}"),
            );
        }
        Reject { item, candidate } => {
            let c = candidate.to_string();
            let path = ["v1", "templates", item.as_str(), "candidates", &c, "reject"];
            let answer = inv.send(Call::post(&path, json!({}))).await?;
            inv.done(&answer, &format!("{item}: candidate {c} rejected"));
        }
        Rollback { item, to } => {
            let path = ["v1", "templates", item.as_str(), "rollback"];
            let answer = inv.send(Call::post(&path, json!({ "to": to }))).await?;
            inv.done(&answer, &format!("{item}: version {to} is live"));
        }
        Sync => {
            let answer = inv
                .send(Call::post(&["v1", "templates", "sync"], json!({})))
                .await?;
            inv.done(&answer, "sync requested");
        }
        Subscriptions { tenant } => {
            let answer = inv
                .send(Call::get(&["v1", "tenants", &tenant, "templates"]))
                .await?;
            inv.show(&answer, render_subscriptions);
        }
        Subscribe {
            tenant,
            item,
            action,
            groups,
            categories,
            required_only,
            add,
            exclude,
            pin,
            instance,
        } => {
            let mut body = json!({ "action": action, "groups": groups, "categories": categories,
                "required_only": required_only, "add": add, "exclude": exclude, "pin": pin });
            if let Some(i) = instance {
                body["instance"] = json!(i);
            }
            let path = ["v1", "tenants", &tenant, "templates", item.as_str()];
            let answer = inv.send(Call::put(&path, body)).await?;
            inv.done(&answer, &format!("tenant {tenant}: subscribed to {item}"));
        }
        Unsubscribe { tenant, item } => {
            let path = ["v1", "tenants", &tenant, "templates", item.as_str()];
            let answer = inv.send(Call::delete(&path)).await?;
            inv.done(
                &answer,
                &format!("tenant {tenant}: unsubscribed from {item}"),
            );
        }
        Pin {
            tenant,
            item,
            number,
            none,
        } => {
            let subs = inv
                .send(Call::get(&["v1", "tenants", &tenant, "templates"]))
                .await?;
            let mut sub = items(&subs)
                .iter()
                .find(|s| get(s, "item").as_str() == Some(item.as_str()))
                .map(|s| get(s, "subscription").clone())
                .ok_or_else(|| {
                    CliError::Other(format!(
                        "tenant {tenant} has no subscription to {item} \
                         (fix: breakoutctl template subscribe {tenant} {item})"
                    ))
                })?;
            sub["pin"] = if none { Value::Null } else { json!(number) };
            let path = ["v1", "tenants", &tenant, "templates", item.as_str()];
            let answer = inv.send(Call::put(&path, sub)).await?;
            let what = match number.filter(|_| !none) {
                Some(v) => format!("tenant {tenant}: {item} pinned to version {v}"),
                None => format!("tenant {tenant}: {item} follows the live version"),
            };
            inv.done(&answer, &what);
        }
    }
    Ok(())
}

fn when(v: &Value, key: &str) -> String {
    get(v, key).as_u64().map_or_else(|| "-".into(), utc)
}

/// `template withdraw ITEM [--effective D]` (art. 11): prints the tenants it reaches.
async fn withdraw(
    inv: &Invocation,
    item: TemplateItem,
    effective: Option<NaiveDate>,
) -> Result<(), CliError> {
    let body = match effective {
        Some(day) => json!({ "effective": day }),
        None => json!({}),
    };
    let item = item.to_string();
    let answer = inv
        .send(Call::post(&["v1", "templates", &item, "withdraw"], body))
        .await?;
    inv.show(&answer, render_withdrawal);
    Ok(())
}

pub fn render_list(answer: &Value) -> String {
    let mut t = Table::new(&[
        "ITEM",
        "LIVE",
        "SOURCE VERSION",
        "ENTRIES",
        "VERSIONS",
        "QUARANTINED",
        "WITHDRAWN",
    ]);
    for i in items(answer) {
        let live = get(i, "live");
        t.row(vec![
            field(i, "item"),
            field(live, "number"),
            field(live, "source_version"),
            field(live, "entries"),
            field(i, "versions"),
            field(i, "quarantined"),
            field(i, "withdrawn"),
        ]);
    }
    t.render()
}

pub fn render_show(answer: &Value) -> String {
    let s = get(answer, "summary");
    let mut out = fields(&[
        ("version", field(s, "number")),
        ("live", field(s, "live")),
        ("source version", field(s, "source_version")),
        ("hash", field(s, "hash")),
        ("fetched", when(s, "fetched_at_ms")),
        ("entries", field(s, "entries")),
        ("not steerable", text(get(answer, "unsteerable"))),
    ]);
    let mut t = Table::new(&[
        "SET", "GROUP", "CATEGORY", "REQ", "TCP", "UDP", "ER", "HOSTS", "CIDRS",
    ]);
    for set in get(get(answer, "content"), "sets")
        .as_array()
        .into_iter()
        .flatten()
    {
        let n = |k: &str| get(set, k).as_array().map_or(0, Vec::len).to_string();
        t.row(vec![
            field(set, "id"),
            field(set, "group"),
            field(set, "category"),
            field(set, "required"),
            field(set, "tcp_ports"),
            field(set, "udp_ports"),
            field(set, "express_route"),
            n("hosts"),
            n("cidrs"),
        ]);
    }
    out.push_str(&t.render());
    out
}

pub fn render_versions(answer: &Value) -> String {
    let mut t = Table::new(&[
        "VERSION",
        "LIVE",
        "SOURCE VERSION",
        "FETCHED",
        "ENTRIES",
        "+",
        "-",
        "APPROVED BY",
    ]);
    for v in items(answer) {
        t.row(vec![
            field(v, "number"),
            if get(v, "live").as_bool() == Some(true) {
                "*".into()
            } else {
                String::new()
            },
            field(v, "source_version"),
            when(v, "fetched_at_ms"),
            field(v, "entries"),
            field(v, "added"),
            field(v, "removed"),
            field(v, "approved_by"),
        ]);
    }
    let mut out = t.render();
    let held = get(answer, "quarantine")
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !held.is_empty() {
        let mut q = Table::new(&[
            "CANDIDATE",
            "SOURCE VERSION",
            "FETCHED",
            "ENTRIES",
            "REASON",
        ]);
        for c in &held {
            q.row(vec![
                field(c, "id"),
                field(c, "source_version"),
                when(c, "fetched_at_ms"),
                field(c, "entries"),
                field(c, "reason"),
            ]);
        }
        out.push_str("\nquarantined:\n");
        out.push_str(&q.render());
    }
    out
}

pub fn render_diff(answer: &Value) -> String {
    let mut out = format!("{} -> {}\n", field(answer, "from"), field(answer, "to"));
    for s in get(get(answer, "diff"), "sets")
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("{} ({})\n", field(s, "set"), field(s, "group")));
        for (key, sign) in [
            ("added_hosts", "+"),
            ("added_cidrs", "+"),
            ("removed_hosts", "-"),
            ("removed_cidrs", "-"),
        ] {
            for e in get(s, key).as_array().into_iter().flatten() {
                out.push_str(&format!("  {sign} {}\n", text(e)));
            }
        }
        if get(s, "attributes_changed").as_bool() == Some(true) {
            out.push_str("  ~ category, ports or notes changed\n");
        }
    }
    out
}

pub fn render_subscriptions(answer: &Value) -> String {
    let mut t = Table::new(&[
        "ITEM",
        "INSTANCE",
        "ACTION",
        "GROUPS",
        "CATEGORIES",
        "REQUIRED ONLY",
        "PIN",
        "USING",
        "LIST",
    ]);
    for i in items(answer) {
        let s = get(i, "subscription");
        t.row(vec![
            field(i, "item"),
            field(s, "instance"),
            field(s, "action"),
            field(s, "groups"),
            field(s, "categories"),
            field(s, "required_only"),
            field(s, "pin"),
            field(i, "template_version"),
            field(i, "list"),
        ]);
    }
    t.render()
}

pub fn render_withdrawal(answer: &Value) -> String {
    let mut out = format!(
        "template {} withdrawn from {} (version {})\n",
        field(answer, "item"),
        field(answer, "effective"),
        field(answer, "version")
    );
    let mut t = Table::new(&["TENANT", "CONTRACTS", "LEAVES-SERVICE"]);
    for a in get(answer, "affected").as_array().into_iter().flatten() {
        t.row(vec![
            field(a, "tenant"),
            field(a, "contracts"),
            field(a, "leaves_service"),
        ]);
    }
    out.push_str(&t.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_quarantine_render_as_tables() {
        let answer = json!({ "live": 1, "items": [
            { "number": 0, "live": false, "source_version": "2025010100", "fetched_at_ms": 0,
              "entries": 10, "added": 0, "removed": 0 },
            { "number": 1, "live": true, "source_version": "2025020100", "fetched_at_ms": 0,
              "entries": 11, "added": 1, "removed": 0 }],
            "quarantine": [{ "id": 2, "reason": "unparsable: EOF", "source_version": "x",
              "fetched_at_ms": 0, "entries": null }] });
        let out = render_versions(&answer);
        assert!(out.contains("2025020100"), "{out}");
        assert!(out.contains("unparsable: EOF"), "{out}");
    }

    #[test]
    fn a_diff_lists_signed_entries_per_set() {
        let answer = json!({ "from": 0, "to": 1, "diff": { "sets": [
            { "set": "m365:1", "group": "Exchange", "added_hosts": ["a.example"],
              "removed_cidrs": ["192.0.2.0/24"] }] } });
        let out = render_diff(&answer);
        assert!(
            out.contains("+ a.example") && out.contains("- 192.0.2.0/24"),
            "{out}"
        );
    }

    #[test]
    fn withdrawal_lists_the_tenants_it_reaches() {
        let answer = json!({ "version": 40, "item": "microsoft365", "effective": "2025-03-01",
            "affected": [{ "tenant": "acme", "contracts": ["c1"], "leaves_service": true }] });
        assert_eq!(
            render_withdrawal(&answer),
            "template microsoft365 withdrawn from 2025-03-01 (version 40)\n\
            TENANT  CONTRACTS  LEAVES-SERVICE\nacme    c1         true\n"
        );
    }
}
