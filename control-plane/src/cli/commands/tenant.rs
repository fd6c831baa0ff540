//! `tenant list|get|create|delete|set-limit|set-cap|set-default`.

use serde_json::{json, Map, Value};

use super::{read_json, rule, Invocation};
use crate::cli::args::{TenantCmd, TenantCreate};
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::{fields, Table};
use crate::cli::view::{field, get, items, strings, tenant};
use crate::contracts::sessions;

pub async fn run(inv: &Invocation, cmd: TenantCmd) -> Result<(), CliError> {
    match cmd {
        TenantCmd::List => {
            let answer = inv.send(Call::get(&["v1", "tenants"])).await?;
            inv.show(&answer, render_tenants);
        }
        TenantCmd::Get { id } => {
            let answer = inv.send(Call::get(&["v1", "tenants", &id])).await?;
            inv.show(&answer, render_tenant);
        }
        TenantCmd::Create(args) => {
            let body = match &args.file {
                Some(path) => read_json(path)?,
                None => from_flags(&args)?,
            };
            let id = field(&body, "id");
            let answer = inv.send(Call::post(&["v1", "tenants"], body)).await?;
            inv.done(&answer, &format!("tenant {id} created"));
        }
        TenantCmd::Delete { id, if_match } => {
            let call = Call::delete(&["v1", "tenants", &id]).if_match(if_match.version);
            let answer = inv.send(call).await?;
            inv.done(&answer, &format!("tenant {id} deleted"));
        }
        TenantCmd::SetLimit {
            id,
            limit,
            if_match,
        } => {
            let body = json!({ "session_limit": limit });
            let call = Call::put(&["v1", "tenants", &id, "session-limit"], body);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            inv.done(&answer, &format!("tenant {id}: session limit {limit}"));
        }
        TenantCmd::SetCap { id, cap, if_match } => {
            let body = json!({ "session_cap": cap.0 });
            let call = Call::patch(&["v1", "tenants", &id], body);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            let said = cap.0.map_or("removed".to_string(), |n| n.to_string());
            inv.done(&answer, &format!("tenant {id}: session cap {said}"));
        }
        TenantCmd::SetContact {
            id,
            contact,
            business_days,
            if_match,
        } => {
            let value = (contact != "none").then_some(contact);
            let mut body = json!({ "ops_contact": value });
            if let Some(held) = business_days {
                body["notify_business_days"] = json!(held);
            }
            let call = Call::patch(&["v1", "tenants", &id], body);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            let said = value.as_deref().unwrap_or("removed");
            inv.done(&answer, &format!("tenant {id}: operations contact {said}"));
        }
        TenantCmd::Attributes(args) => super::contract::attributes(inv, args).await?,
        TenantCmd::SetDefault {
            id,
            action,
            if_match,
        } => {
            let body = json!({ "action": action });
            let call = Call::put(&["v1", "tenants", &id, "default-action"], body);
            let answer = inv.send(call.if_match(if_match.version)).await?;
            inv.done(&answer, &format!("tenant {id}: default action {action}"));
        }
    }
    Ok(())
}

/// The tenant JSON that `tenant create ID --region … --source-cidr … …` describes.
pub fn from_flags(args: &TenantCreate) -> Result<Value, CliError> {
    let missing =
        |flag: &str| CliError::Usage(format!("tenant create without --file needs {flag}"));
    let id = args.id.as_deref().ok_or_else(|| missing("an ID"))?;
    let region = args.region.as_deref().ok_or_else(|| missing("--region"))?;
    let limit = args
        .session_limit
        .ok_or_else(|| missing("--session-limit"))?;
    let mut t = json!({
        "id": id,
        "region": region,
        "source_cidrs": args.source_cidr,
        "session_limit": limit,
    });
    if let Some(a) = &args.default_action {
        t["default_action"] = json!(a);
    }
    if !args.upstream.is_empty() {
        let ups: Map<String, Value> = args
            .upstream
            .iter()
            .map(|(n, a)| (n.clone(), json!(a)))
            .collect();
        t["upstreams"] = Value::Object(ups);
    }
    Ok(t)
}

pub fn render_tenants(answer: &Value) -> String {
    let mut t = Table::new(&[
        "ID", "REGION", "SOURCES", "SESSIONS", "DEFAULT", "RULES", "LISTS", "CHANGED",
    ]);
    for view in items(answer) {
        let tn = tenant(view);
        t.row(vec![
            field(tn, "id"),
            field(tn, "region"),
            field(tn, "source_cidrs"),
            limit_cell(view),
            field(tn, "default_action"),
            count(get(tn, "rules")),
            count(get(tn, "lists")),
            crate::cli::view::changed_version(view).map_or("-".into(), |v| v.to_string()),
        ]);
    }
    t.render()
}

/// The tenant's settings as `key: value` lines, then its rules.
pub fn render_tenant(view: &Value) -> String {
    let t = tenant(view);
    let upstreams = match get(t, "upstreams").as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(n, a)| format!("{n}={}", a.as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "-".into(),
    };
    let lists = match get(t, "lists").as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(n, l)| format!("{n} ({})", strings(l, "entries").len()))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "-".into(),
    };
    let created = field(view, "created_version");
    let changed = crate::cli::view::changed_version(view).map_or("-".into(), |v| v.to_string());
    let mut out = fields(&[
        ("id", field(t, "id")),
        ("region", field(t, "region")),
        ("source cidrs", strings(t, "source_cidrs").join(", ")),
        ("session limit", limit_in_force(view)),
        ("session cap", field(t, "session_cap")),
        ("ops contact", field(t, "ops_contact")),
        ("default action", field(t, "default_action")),
        ("upstreams", upstreams),
        ("egress address", field(t, "egress_address")),
        (
            "in service",
            super::contract::render_effective(get(t, "effective")),
        ),
        ("lists", lists),
        ("version", format!("created {created}, changed {changed}")),
    ]);
    out.push_str("rules:\n");
    out.push_str(&rule::render_rules(t));
    out
}

/// The limit edges enforce (`session_limit_in_force`) and which one it is: the contract's
/// capacity, or the operator's cap below it. Never the tenant's own `session_limit`, which no
/// edge fed by the control plane enforces.
fn limit_in_force(view: &Value) -> String {
    let l = get(view, "session_limit_in_force");
    let n = |k: &str| {
        let v = get(l, k).as_u64().unwrap_or(0);
        u32::try_from(v).map_or_else(|_| v.to_string(), sessions)
    };
    match get(l, "by").as_str() {
        Some("session_cap") => format!(
            "{} in force: the operator's session cap (the contract's capacity is {})",
            n("sessions"),
            n("contracted")
        ),
        Some(_) => format!("{} in force: the contract's capacity", n("sessions")),
        None => "none in force: edges do not serve the tenant on this day".into(),
    }
}

/// `tenant list`'s SESSIONS cell: the limit in force, `(cap)` when the operator's cap sets it.
fn limit_cell(view: &Value) -> String {
    let l = get(view, "session_limit_in_force");
    match (get(l, "sessions").as_u64(), get(l, "by").as_str()) {
        (Some(n), Some("session_cap")) => format!("{n} (cap)"),
        (Some(n), _) => n.to_string(),
        (None, _) => "-".into(),
    }
}

/// Entries of an array or object, as a cell.
fn count(v: &Value) -> String {
    match v {
        Value::Array(a) => a.len().to_string(),
        Value::Object(m) => m.len().to_string(),
        _ => "0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Value {
        json!({
            "id": "acme", "region": "tokyo", "source_cidrs": ["10.0.0.0/16", "192.0.2.0/24"],
            "session_limit": 20000, "upstreams": {"corp": "proxy.corp.example:8080"},
            "rules": [{"name": "m365", "action": "direct", "destinations": ["*.office.com"],
                       "lists": ["m365"], "ports": [443]}],
            "default_action": "upstream:corp",
            "lists": {"m365": {"entries": ["outlook.office.com", "*.sharepoint.com"]}},
            "session_limit_in_force": {"sessions": 40, "contracted": 20000, "by": "session_cap"},
            "created_version": 3, "changed_version": 12
        })
    }

    #[test]
    fn tenant_list_summarises_each_tenant() {
        let answer = json!({"version": 12, "items": [acme()]});
        assert_eq!(
            render_tenants(&answer),
            "ID    REGION  SOURCES                   SESSIONS  DEFAULT        RULES  \
             LISTS  CHANGED\n\
             acme  tokyo   10.0.0.0/16,192.0.2.0/24  40 (cap)  upstream:corp  1      \
             1      12\n"
        );
    }

    /// Issue 13, item 4: `tenant get` showed the contract's 20,000 sessions ("in service
    /// (20,000 sessions)") while the edges enforced the operator's cap of 40.
    #[test]
    fn tenant_get_shows_the_limit_in_force_and_which_one_it_is() {
        let mut view = acme();
        view["session_cap"] = json!(40);
        view["effective"] = json!({"in_service": true, "session_limit": 20000,
            "region": "tokyo", "internet_access": false, "reasons_not_in_service": []});
        let out = render_tenant(&view);
        assert!(
            out.contains(
                "session limit:   40 in force: the operator's session cap (the contract's \
                 capacity is 20,000)\nsession cap:     40\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("in service:      yes (contracted 20,000 sessions in tokyo)\n"),
            "{out}"
        );
        view["session_limit_in_force"] =
            json!({"sessions": 20000, "contracted": 20000, "by": "contract"});
        let out = render_tenant(&view);
        assert!(
            out.contains("session limit:   20,000 in force: the contract's capacity\n"),
            "{out}"
        );
        view.as_object_mut()
            .map(|v| v.remove("session_limit_in_force"));
        let out = render_tenant(&view);
        assert!(
            out.contains(
                "session limit:   none in force: edges do not serve the tenant on this day\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn tenant_get_shows_settings_then_rules() {
        let out = render_tenant(&acme());
        assert!(
            out.starts_with("id:              acme\nregion:          tokyo\n"),
            "{out}"
        );
        assert!(
            out.contains("upstreams:       corp=proxy.corp.example:8080\n"),
            "{out}"
        );
        assert!(out.contains("lists:           m365 (2)\n"), "{out}");
        assert!(
            out.contains("version:         created 3, changed 12\nrules:\n"),
            "{out}"
        );
        assert!(
            out.ends_with("0      m365  direct  *.office.com  m365   443\n"),
            "{out}"
        );
    }

    #[test]
    fn flags_make_a_tenant_in_the_edge_model() {
        let args = TenantCreate {
            id: Some("acme".into()),
            file: None,
            region: Some("tokyo".into()),
            source_cidr: vec!["10.0.0.0/16".into()],
            session_limit: Some(100),
            default_action: Some("upstream:corp".into()),
            upstream: vec![("corp".into(), "proxy:8080".into())],
        };
        let t = from_flags(&args).unwrap();
        let parsed: breakout_policy::Tenant = serde_json::from_value(t).unwrap();
        assert_eq!(parsed.region.as_deref(), Some("tokyo"));
        assert_eq!(parsed.upstreams["corp"], "proxy:8080");
    }
}
