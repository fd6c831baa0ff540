//! `billing preview`, `price-book show|set`, `template withdraw`.

use serde_json::{json, Value};

use super::{read_json, Ctx};
use crate::cli::client::Call;
use crate::cli::contract_args::{BillingCmd, PriceBookCmd, TemplateCmd};
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items, text};
use crate::contracts::thousands;

pub async fn run(ctx: &Ctx, cmd: BillingCmd) -> Result<(), CliError> {
    let BillingCmd::Preview { tenant, month } = cmd;
    let call = Call::get(&["v1", "tenants", &tenant, "billing"]).query("month", month);
    let answer = ctx.send(call).await?;
    ctx.show(&answer, render_bill);
    Ok(())
}

pub async fn run_price_book(ctx: &Ctx, cmd: PriceBookCmd) -> Result<(), CliError> {
    match cmd {
        PriceBookCmd::Show => {
            let answer = ctx.send(Call::get(&["v1", "price-book"])).await?;
            ctx.show(&answer, render_price_book);
        }
        PriceBookCmd::Set {
            file,
            effective_from,
        } => {
            let book = read_json(&file)?;
            let call =
                Call::put(&["v1", "price-book"], book).query("effective_from", effective_from);
            let answer = ctx.send(call).await?;
            let from = field(get(&answer, "price_book"), "effective_from");
            ctx.done(&answer, &format!("price book set from {from}"));
        }
    }
    Ok(())
}

pub async fn run_template(ctx: &Ctx, cmd: TemplateCmd) -> Result<(), CliError> {
    let (item, effective) = match cmd {
        TemplateCmd::Withdraw { item, effective } => (item, effective),
        TemplateCmd::Manage(c) => return super::template::run(ctx, c).await,
    };
    let body = match effective {
        Some(day) => json!({ "effective": day }),
        None => json!({}),
    };
    let item = item.to_string();
    let answer = ctx
        .send(Call::post(&["v1", "templates", &item, "withdraw"], body))
        .await?;
    ctx.show(&answer, render_withdrawal);
    Ok(())
}

/// `¥12,345`.
fn yen(v: &Value) -> String {
    v.as_u64()
        .map_or_else(|| text(v), |n| format!("¥{}", thousands(n)))
}

pub fn render_bill(answer: &Value) -> String {
    let mut t = Table::new(&["KIND", "SUBJECT", "DESCRIPTION", "PERIOD", "AMOUNT", "RULE"]);
    for l in get(answer, "lines").as_array().into_iter().flatten() {
        let period = match (get(l, "from").as_str(), get(l, "to").as_str()) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "-".into(),
        };
        t.row(vec![
            field(l, "kind"),
            field(l, "subject"),
            field(l, "description"),
            period,
            yen(get(l, "amount")),
            field(l, "rule"),
        ]);
    }
    format!(
        "{} {}: total {}\n{}",
        field(answer, "tenant"),
        field(answer, "month"),
        yen(get(answer, "total")),
        t.render()
    )
}

pub fn render_price_book(answer: &Value) -> String {
    let current = get(answer, "current");
    if current.is_null() {
        return "no price book is set\n".into();
    }
    let p = get(current, "prices");
    let mut t = Table::new(&["ITEM", "INITIAL", "MONTHLY", "ONE-TIME"]);
    let mut row = |name: String, f: &Value| {
        t.row(vec![
            name,
            yen(get(f, "initial")),
            yen(get(f, "monthly")),
            yen(get(f, "one_time")),
        ]);
    };
    for (k, f) in get(p, "list_template").as_object().into_iter().flatten() {
        row(format!("list-template {k}"), f);
    }
    // JSON object keys come back in string order; capacities read better by size.
    let mut bypass: Vec<_> = get(p, "cloud_bypass")
        .as_object()
        .into_iter()
        .flatten()
        .collect();
    bypass.sort_by_key(|(k, _)| k.parse::<u64>().unwrap_or(u64::MAX));
    for (k, f) in bypass {
        row(format!("cloud-bypass {k}"), f);
    }
    row(
        "external-integration".into(),
        get(p, "external_integration"),
    );
    for (k, f) in get(p, "options").as_object().into_iter().flatten() {
        row(format!("option {k}"), f);
    }
    let later: Vec<String> = items(answer)
        .iter()
        .map(|b| field(b, "effective_from"))
        .filter(|d| *d > field(current, "effective_from"))
        .collect();
    let mut out = format!(
        "in force: from {} (version {})\n{}",
        field(current, "effective_from"),
        field(current, "version"),
        t.render()
    );
    if !later.is_empty() {
        out.push_str(&format!("later books from: {}\n", later.join(", ")));
    }
    out
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
    fn a_bill_prints_its_total_then_one_row_a_line() {
        let answer = json!({ "tenant": "acme", "month": "2025-01", "total": 1234567, "lines": [
            { "kind": "monthly", "subject": "c2", "description": "cloud-bypass plan 1, 20,000 sessions",
              "from": "2025-01-15", "to": "2025-01-31", "days": 17, "amount": 17000,
              "rule": "art. 13, annex 1-2(1): monthly fee" },
            { "kind": "initial", "subject": "o1", "description": "option initial-setup",
              "amount": 100000, "rule": "art. 13, annex 1-1(2): initial fee" } ] });
        let out = render_bill(&answer);
        assert!(
            out.starts_with("acme 2025-01: total ¥1,234,567\nKIND "),
            "{out}"
        );
        assert!(out.contains("2025-01-15..2025-01-31  ¥17,000"), "{out}");
        assert!(
            out.contains("option initial-setup                  -                       ¥100,000"),
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

    #[test]
    fn the_price_book_lists_capacities_by_size() {
        let fees = json!({ "initial": 1, "monthly": 2 });
        let answer = json!({ "current": { "effective_from": "2025-01-01", "version": 3, "prices": {
            "cloud_bypass": { "1000000": fees, "20000": fees, "120000": fees } } },
            "items": [{ "effective_from": "2025-01-01" }, { "effective_from": "2025-04-01" }] });
        let out = render_price_book(&answer);
        let rows: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("cloud-bypass"))
            .collect();
        assert!(
            rows[0].starts_with("cloud-bypass 20000 ")
                && rows[2].starts_with("cloud-bypass 1000000 "),
            "{out}"
        );
        assert!(
            out.starts_with("in force: from 2025-01-01 (version 3)\n"),
            "{out}"
        );
        assert!(out.ends_with("later books from: 2025-04-01\n"), "{out}");
    }

    #[test]
    fn no_price_book_says_so() {
        assert_eq!(
            render_price_book(&json!({ "current": null, "items": [] })),
            "no price book is set\n"
        );
    }
}
