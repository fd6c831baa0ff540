//! `template list|show|versions|diff|approve|reject|rollback|sync` (operator) and
//! `template subscribe|unsubscribe|pin|subscriptions` (a tenant's subscription).

use clap::Subcommand;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::{fields, utc, Table};
use crate::cli::view::{field, get, items, text};
use crate::contracts::TemplateItem;

#[derive(Debug, Subcommand)]
pub enum TemplateManageCmd {
    /// Every template item: live version, versions kept, candidates in quarantine.
    List,
    /// A version's sets (default: the live version).
    Show {
        item: TemplateItem,
        /// The template version number.
        #[arg(long = "at", value_name = "N")]
        at: Option<u32>,
    },
    /// Versions kept (oldest first) and quarantined candidates.
    Versions { item: TemplateItem },
    /// Hosts and ranges added and removed per set between two versions.
    Diff {
        item: TemplateItem,
        #[arg(long)]
        from: u32,
        /// Default: the live version.
        #[arg(long)]
        to: Option<u32>,
    },
    /// A quarantined candidate becomes the live version.
    Approve { item: TemplateItem, candidate: u32 },
    /// Drop a quarantined candidate.
    Reject { item: TemplateItem, candidate: u32 },
    /// Make a kept version live again.
    Rollback {
        item: TemplateItem,
        #[arg(long)]
        to: u32,
    },
    /// Poll every vendor source now (the leader polls).
    Sync,
    /// A tenant's template subscriptions.
    Subscriptions { tenant: String },
    /// Subscribe a tenant to a template (needs a list-template contract for it).
    Subscribe {
        tenant: String,
        item: TemplateItem,
        /// `direct` or `upstream:<name>`.
        #[arg(long, default_value = "direct")]
        action: String,
        /// Only these groups (serviceArea, BGP community group, Google group); repeatable.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Only these categories (Optimize, Allow, Default); repeatable.
        #[arg(long = "category")]
        categories: Vec<String>,
        #[arg(long)]
        required_only: bool,
        /// An entry of the tenant's own to add; repeatable.
        #[arg(long)]
        add: Vec<String>,
        /// A template entry to leave out; repeatable.
        #[arg(long)]
        exclude: Vec<String>,
        /// Stay on this template version.
        #[arg(long)]
        pin: Option<u32>,
        /// The Microsoft 365 instance to take sets of (Worldwide, China, USGovDoD,
        /// USGovGCCHigh; microsoft365 and azure-expressroute only). Default: Worldwide.
        #[arg(long)]
        instance: Option<String>,
    },
    /// Remove a tenant's subscription.
    Unsubscribe { tenant: String, item: TemplateItem },
    /// Pin a tenant's subscription to a version (`--none` follows the live one again).
    Pin {
        tenant: String,
        item: TemplateItem,
        #[arg(required_unless_present = "none", value_name = "VERSION")]
        number: Option<u32>,
        #[arg(long)]
        none: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: TemplateManageCmd) -> Result<(), CliError> {
    use TemplateManageCmd::*;
    match cmd {
        List => {
            let answer = ctx.send(Call::get(&["v1", "templates"])).await?;
            ctx.show(&answer, render_list);
        }
        Show { item, at } => {
            let call = Call::get(&["v1", "templates", item.as_str()]).query("version", at);
            let answer = ctx.send(call).await?;
            ctx.show(&answer, render_show);
        }
        Versions { item } => {
            let call = Call::get(&["v1", "templates", item.as_str(), "versions"]);
            let answer = ctx.send(call).await?;
            ctx.show(&answer, render_versions);
        }
        Diff { item, from, to } => {
            let call = Call::get(&["v1", "templates", item.as_str(), "diff"])
                .query("from", Some(from))
                .query("to", to);
            let answer = ctx.send(call).await?;
            ctx.show(&answer, render_diff);
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
            let answer = ctx.send(Call::post(&path, json!({}))).await?;
            let live = field(&answer, "live");
            ctx.done(
                &answer,
                &format!("{item}: candidate {c} approved, live version {live}"),
            );
        }
        Reject { item, candidate } => {
            let c = candidate.to_string();
            let path = ["v1", "templates", item.as_str(), "candidates", &c, "reject"];
            let answer = ctx.send(Call::post(&path, json!({}))).await?;
            ctx.done(&answer, &format!("{item}: candidate {c} rejected"));
        }
        Rollback { item, to } => {
            let path = ["v1", "templates", item.as_str(), "rollback"];
            let answer = ctx.send(Call::post(&path, json!({ "to": to }))).await?;
            ctx.done(&answer, &format!("{item}: version {to} is live"));
        }
        Sync => {
            let answer = ctx
                .send(Call::post(&["v1", "templates", "sync"], json!({})))
                .await?;
            ctx.done(&answer, "sync requested");
        }
        Subscriptions { tenant } => {
            let answer = ctx
                .send(Call::get(&["v1", "tenants", &tenant, "templates"]))
                .await?;
            ctx.show(&answer, render_subscriptions);
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
            let answer = ctx.send(Call::put(&path, body)).await?;
            ctx.done(&answer, &format!("tenant {tenant}: subscribed to {item}"));
        }
        Unsubscribe { tenant, item } => {
            let path = ["v1", "tenants", &tenant, "templates", item.as_str()];
            let answer = ctx.send(Call::delete(&path)).await?;
            ctx.done(
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
            let subs = ctx
                .send(Call::get(&["v1", "tenants", &tenant, "templates"]))
                .await?;
            let mut sub = items(&subs)
                .iter()
                .find(|s| get(s, "item").as_str() == Some(item.as_str()))
                .map(|s| get(s, "subscription").clone())
                .ok_or_else(|| {
                    CliError::Usage(format!("tenant {tenant} has no subscription to {item}"))
                })?;
            sub["pin"] = if none { Value::Null } else { json!(number) };
            let path = ["v1", "tenants", &tenant, "templates", item.as_str()];
            let answer = ctx.send(Call::put(&path, sub)).await?;
            let what = match number.filter(|_| !none) {
                Some(v) => format!("tenant {tenant}: {item} pinned to version {v}"),
                None => format!("tenant {tenant}: {item} follows the live version"),
            };
            ctx.done(&answer, &what);
        }
    }
    Ok(())
}

fn when(v: &Value, key: &str) -> String {
    get(v, key).as_u64().map_or_else(|| "-".into(), utc)
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
}
