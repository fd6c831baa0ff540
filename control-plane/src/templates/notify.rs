//! What a tenant's change e-mail says (pure): the changes of a template version that touch the
//! sets its subscription selects, summarised in Japanese and English, and the day it may be
//! sent when the tenant wants mail on business days only. The SMTP transport and the tenants'
//! operations contacts are not built yet (docs/templates.md, "Not yet").

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::diff::{SetDiff, TemplateDiff};
use super::model::TemplateContent;
use super::select::Subscription;
use crate::contracts::TemplateItem;

/// The set diffs of `diff` (from `old` to `new`) that `sub` selects (a set gone is judged by
/// what it was).
pub fn relevant(
    sub: &Subscription,
    diff: &TemplateDiff,
    old: &TemplateContent,
    new: &TemplateContent,
) -> Vec<SetDiff> {
    diff.sets
        .iter()
        .filter(|d| {
            let set = new.sets.iter().chain(&old.sets).find(|s| s.id == d.set);
            set.is_some_and(|s| sub.selects(s))
        })
        .cloned()
        .collect()
}

/// A change e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// The e-mail for `tenant` about `item` moving to template version `to`: Japanese first, then
/// English; `None` when nothing it uses changed.
pub fn message(tenant: &str, item: TemplateItem, to: u32, changes: &[SetDiff]) -> Option<Message> {
    if changes.is_empty() {
        return None;
    }
    let (added, removed) = TemplateDiff {
        sets: changes.to_vec(),
    }
    .counts();
    let subject =
        format!("[Breakout] {item} リスト更新 / list update (v{to}): +{added} -{removed}");
    let mut lines = vec![
        format!("{tenant} 様"),
        format!(
            "ご利用中のテンプレート {item} がバージョン {to} に更新されました。追加 {added} 件、削除 {removed} 件。"
        ),
        String::new(),
        format!("Dear {tenant},"),
        format!(
            "The {item} template you use moved to version {to}: {added} entries added, {removed} removed."
        ),
        String::new(),
    ];
    for d in changes {
        lines.push(format!("{} ({})", d.set, d.group));
        let added = d
            .added_hosts
            .iter()
            .cloned()
            .chain(d.added_cidrs.iter().map(|c| c.to_string()));
        let removed = d
            .removed_hosts
            .iter()
            .cloned()
            .chain(d.removed_cidrs.iter().map(|c| c.to_string()));
        lines.extend(added.map(|e| format!("  + {e}")));
        lines.extend(removed.map(|e| format!("  - {e}")));
        if d.attributes_changed {
            lines.push("  ~ 区分・ポート等の変更 / category, ports or notes changed".into());
        }
    }
    Some(Message {
        subject,
        body: lines.join("\n") + "\n",
    })
}

/// The day a change made on `day` is mailed: that day, or with `business_days_only` the next
/// Monday to Friday (public holidays are not known here).
pub fn send_day(day: NaiveDate, business_days_only: bool) -> NaiveDate {
    let wait = match day.weekday() {
        Weekday::Sat if business_days_only => 2,
        Weekday::Sun if business_days_only => 1,
        _ => 0,
    };
    day.checked_add_days(Days::new(wait)).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use breakout_policy::Action;

    use super::*;
    use crate::templates::diff::diff;
    use crate::templates::m365::template;
    use crate::templates::Category;

    const M365: &str = include_str!("../../../tests/fixtures/m365-worldwide-endpoints.json");

    #[test]
    fn only_changes_to_selected_sets_are_mailed_in_both_languages() {
        let old = template(M365, "1").expect("parses");
        let mut new = old.clone();
        new.sets[0].hosts.push("new.outlook.example".into());
        let default_set = new
            .sets
            .iter_mut()
            .find(|s| s.category == Category::new("Default"))
            .expect("a Default set");
        default_set.hosts.push("new.default.example".into());
        let d = diff(&old, &new);
        assert_eq!(d.sets.len(), 2);
        let sub = Subscription {
            groups: Vec::new(),
            categories: vec![Category::new("Optimize"), Category::new("Allow")],
            required_only: false,
            action: Action::Direct,
            add: Vec::new(),
            exclude: Vec::new(),
            pin: None,
        };
        let changes = relevant(&sub, &d, &old, &new);
        assert_eq!(changes.len(), 1);
        let m = message("acme", TemplateItem::Microsoft365, 2, &changes).expect("a mail");
        assert!(m.subject.contains("+1 -0"), "{}", m.subject);
        assert!(m.body.contains("更新されました") && m.body.contains("moved to version 2"));
        assert!(m.body.contains("  + new.outlook.example"), "{}", m.body);
        assert!(!m.body.contains("new.default.example"));
        assert_eq!(message("acme", TemplateItem::Microsoft365, 2, &[]), None);
    }

    #[test]
    fn business_days_only_holds_weekend_changes_to_monday() {
        let sat: NaiveDate = "2026-11-28".parse().expect("date");
        let mon: NaiveDate = "2026-11-30".parse().expect("date");
        assert_eq!(send_day(sat, true), mon);
        assert_eq!(send_day(sat, false), sat);
        assert_eq!(send_day(mon, true), mon);
    }
}
