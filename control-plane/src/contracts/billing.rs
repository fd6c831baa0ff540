//! A month's bill for one tenant (art. 13, 14, annex 1, 2): the line items and the rule behind
//! each. Amounts are whole yen.
//!
//! Proration: a fee for part of a calendar month is `monthly × days / days_in_month`, rounded
//! down to the yen, computed separately for each stretch of days with one price (a capacity
//! change or a new price book starts a new stretch). A whole month is exactly `monthly`.

use chrono::NaiveDate;
use serde::Serialize;

use super::dates::YearMonth;
use super::model::{sessions, Contract, Service, TenantContracts, TenantOption, Term};
use super::prices::{book_at, Fees, PriceBook, PriceBooks};
use super::ContractError;

/// What a line charges for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Initial,
    Monthly,
    OneTime,
    EarlyTermination,
}

/// One charge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    pub kind: LineKind,
    /// The contract or option id (`c2`, `o1`).
    pub subject: String,
    pub description: String,
    /// First and last day charged for (monthly and early-termination lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    pub amount: u64,
    /// The article and annex behind the charge, and how it was computed.
    pub rule: String,
}

/// A month's bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    pub month: YearMonth,
    pub lines: Vec<Line>,
    pub total: u64,
}

/// A contract or an option: what a line is about.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Contract(&'a Contract),
    Option(&'a TenantOption),
}

impl Subject<'_> {
    fn id(&self) -> &str {
        match self {
            Subject::Contract(c) => &c.id,
            Subject::Option(o) => &o.id,
        }
    }

    fn term(&self) -> &Term {
        match self {
            Subject::Contract(c) => &c.term,
            Subject::Option(o) => &o.term,
        }
    }

    fn capacity_at(&self, d: NaiveDate) -> Option<u32> {
        match self {
            Subject::Contract(c) => c.capacity_at(d),
            Subject::Option(_) => None,
        }
    }

    fn fees(&self, book: &PriceBook, d: NaiveDate) -> Fees {
        match self {
            Subject::Contract(c) => book.service(&c.service, c.capacity_at(d)),
            Subject::Option(o) => book.option(o.kind),
        }
    }

    fn describe(&self, d: NaiveDate) -> String {
        match self {
            Subject::Contract(c) => match (&c.service, c.capacity_at(d)) {
                (Service::CloudBypass { .. }, Some(n)) => {
                    format!("{}, {} sessions", c.service.describe(), sessions(n))
                }
                (service, _) => service.describe(),
            },
            Subject::Option(o) => format!("option {}", o.kind),
        }
    }

    /// Annex numbering: the main service is (1) of each annex item, options (2).
    fn annex(&self) -> &'static str {
        match self {
            Subject::Contract(_) => "(1)",
            Subject::Option(_) => "(2)",
        }
    }

    /// Art. 14 paragraph: 1 for contracts, 2 for options.
    fn art14(&self) -> &'static str {
        match self {
            Subject::Contract(_) => "art. 14-1",
            Subject::Option(_) => "art. 14-2",
        }
    }
}

/// The bill of `month`, with the price books in `books`.
pub fn preview(
    tc: &TenantContracts,
    books: &PriceBooks,
    month: YearMonth,
) -> Result<Bill, ContractError> {
    if books.is_empty() {
        return Err(ContractError::conflict(
            "annex 1",
            "no price book is set; set one (PUT /v1/price-book) before billing",
        ));
    }
    let subjects: Vec<Subject> = tc
        .contracts
        .iter()
        .map(Subject::Contract)
        .chain(tc.options.iter().map(Subject::Option))
        .collect();
    let mut lines = Vec::new();
    for s in &subjects {
        initial(&mut lines, books, *s, month);
    }
    for s in &subjects {
        monthly(&mut lines, books, *s, month);
    }
    for c in &tc.contracts {
        one_time(&mut lines, books, c, month);
    }
    for s in &subjects {
        early_termination(&mut lines, books, *s, month);
    }
    let total = lines
        .iter()
        .fold(0u64, |sum, l| sum.saturating_add(l.amount));
    Ok(Bill {
        month,
        lines,
        total,
    })
}

fn initial(lines: &mut Vec<Line>, books: &PriceBooks, s: Subject, month: YearMonth) {
    let applied = s.term().applied;
    let book = book_at(books, applied).filter(|_| month.contains(applied));
    let Some(book) = book else {
        return;
    };
    let amount = s.fees(&book.prices, s.term().billing_start).initial;
    if amount == 0 {
        return;
    }
    lines.push(Line {
        kind: LineKind::Initial,
        subject: s.id().to_string(),
        description: s.describe(s.term().billing_start),
        from: None,
        to: None,
        days: None,
        amount,
        rule: format!(
            "art. 13, annex 1-1{}: initial fee, due when the order was accepted ({applied})",
            s.annex()
        ),
    });
}

fn monthly(lines: &mut Vec<Line>, books: &PriceBooks, s: Subject, month: YearMonth) {
    let term = s.term();
    let from = term.billing_start.max(month.first_day());
    let until = term
        .effective_end
        .map_or(month.end(), |e| e.min(month.end()));
    for stretch in stretches(books, s, from, until) {
        if stretch.monthly == 0 {
            continue;
        }
        let days_in_month = month.days();
        let amount = prorate(stretch.monthly, stretch.days, days_in_month);
        let how = if stretch.days == days_in_month {
            "the whole month".to_string()
        } else {
            format!(
                "{} of {days_in_month} days: {} × {} / {days_in_month}, rounded down",
                stretch.days, stretch.monthly, stretch.days
            )
        };
        lines.push(Line {
            kind: LineKind::Monthly,
            subject: s.id().to_string(),
            description: s.describe(stretch.from),
            from: Some(stretch.from),
            to: Some(stretch.to),
            days: Some(stretch.days),
            amount,
            rule: format!(
                "art. 13, annex 1-2{}: monthly fee from the billing start date ({}); {how}",
                s.annex(),
                term.billing_start
            ),
        });
    }
}

fn one_time(lines: &mut Vec<Line>, books: &PriceBooks, c: &Contract, month: YearMonth) {
    for change in c
        .capacity_changes
        .iter()
        .filter(|ch| month.contains(ch.accepted))
    {
        let Some(book) = book_at(books, change.accepted) else {
            continue;
        };
        let amount = book.prices.service(&c.service, Some(change.to)).one_time;
        lines.push(Line {
            kind: LineKind::OneTime,
            subject: c.id.clone(),
            description: format!(
                "{}: {} → {} sessions from {}",
                c.service.describe(),
                sessions(change.from),
                sessions(change.to),
                change.effective
            ),
            from: None,
            to: None,
            days: None,
            amount,
            rule: format!(
                "art. 9, art. 13, annex 1-3: one-time fee for a change of capacity item, due when \
                 the change was accepted ({})",
                change.accepted
            ),
        });
    }
}

fn early_termination(lines: &mut Vec<Line>, books: &PriceBooks, s: Subject, month: YearMonth) {
    let term = s.term();
    let (Some(end), Some(term_end)) = (term.effective_end, term.min_term_end) else {
        return;
    };
    if !month.contains(end) || end >= term_end {
        return;
    }
    let from = end.max(term.billing_start);
    let (mut amount, mut days) = (0u64, 0u32);
    let mut m = YearMonth::of(from);
    while m.first_day() < term_end {
        let (a, b) = (from.max(m.first_day()), term_end.min(m.end()));
        for stretch in stretches(books, s, a, b) {
            amount = amount.saturating_add(prorate(stretch.monthly, stretch.days, m.days()));
            days += stretch.days;
        }
        m = YearMonth::of(m.end());
    }
    let to = term_end.pred_opt().unwrap_or(term_end);
    let rule = if term.provider_fault {
        amount = 0;
        format!(
            "{}, annex 2: waived, the end is the provider's (its fault, or a withdrawal under \
             art. 11)",
            s.art14()
        )
    } else {
        format!(
            "{}, annex 2: monthly fees for the rest of the minimum term, which runs until {to}; \
             prorated by day in each month, rounded down",
            s.art14()
        )
    };
    lines.push(Line {
        kind: LineKind::EarlyTermination,
        subject: s.id().to_string(),
        description: format!("{}, ended {end}", s.describe(from)),
        from: Some(from),
        to: Some(to),
        days: Some(days),
        amount,
        rule,
    });
}

/// Consecutive days with one monthly fee.
struct Stretch {
    from: NaiveDate,
    to: NaiveDate,
    days: u32,
    monthly: u64,
}

/// The days `[from, until)` (within one month) cut where the price changes: a new price book
/// or, for a cloud bypass, a new capacity item.
fn stretches(books: &PriceBooks, s: Subject, from: NaiveDate, until: NaiveDate) -> Vec<Stretch> {
    // Where the price comes from: the book's first day and the capacity item.
    type Source = (Option<NaiveDate>, Option<u32>);
    let mut out: Vec<(Stretch, Source)> = Vec::new();
    let mut d = from;
    while d < until {
        let book = book_at(books, d);
        let key = (book.map(|b| b.effective_from), s.capacity_at(d));
        match out.last_mut() {
            Some((stretch, k)) if *k == key => {
                stretch.to = d;
                stretch.days += 1;
            }
            _ => {
                let monthly = book.map_or(0, |b| s.fees(&b.prices, d).monthly);
                out.push((
                    Stretch {
                        from: d,
                        to: d,
                        days: 1,
                        monthly,
                    },
                    key,
                ));
            }
        }
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out.into_iter().map(|(s, _)| s).collect()
}

/// `monthly × days / days_in_month`, rounded down.
pub fn prorate(monthly: u64, days: u32, days_in_month: u32) -> u64 {
    if days_in_month == 0 {
        return 0;
    }
    let exact = u128::from(monthly) * u128::from(days) / u128::from(days_in_month);
    u64::try_from(exact).unwrap_or(u64::MAX)
}
