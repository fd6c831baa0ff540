//! `billing preview`, `price-book show|set`.

use serde_json::Value;

use super::{read_json, Invocation};
use crate::cli::client::Call;
use crate::cli::contract_args::{BillingCmd, PriceBookCmd};
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items, text};
use crate::contracts::thousands;

pub async fn run(inv: &Invocation, cmd: BillingCmd) -> Result<(), CliError> {
    let BillingCmd::Preview { tenant, month } = cmd;
    let call = Call::get(&["v1", "tenants", &tenant, "billing"]).query("month", month);
    let answer = inv.send(call).await?;
    inv.show(&answer, render_bill);
    Ok(())
}

pub async fn run_price_book(inv: &Invocation, cmd: PriceBookCmd) -> Result<(), CliError> {
    match cmd {
        PriceBookCmd::Show => {
            let answer = inv.send(Call::get(&["v1", "price-book"])).await?;
            inv.show(&answer, render_price_book);
        }
        PriceBookCmd::Set {
            file,
            effective_from,
        } => {
            let book = read_json(&file)?;
            let call =
                Call::put(&["v1", "price-book"], book).query("effective_from", effective_from);
            let answer = inv.send(call).await?;
            let from = field(get(&answer, "price_book"), "effective_from");
            inv.done(&answer, &format!("price book set from {from}"));
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
