//! What a tenant's operations contact is told when a template it uses changes: the changes in
//! the sets its subscription selects, in Japanese then English. Pure.

use std::fmt::Write as _;

use crate::contracts::TemplateItem;
use crate::templates::diff::{diff, TemplateDiff};
use crate::templates::select::Subscription;
use crate::templates::TemplateContent;

/// Most entry lines one mail lists; the rest is counted and left to `breakoutctl template diff`.
pub const MAX_LINES: usize = 200;

/// A mail to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Waits for business hours (the tenant asked for it).
    pub held: bool,
}

/// One template's change as one tenant sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub item: TemplateItem,
    /// Template version numbers; `from` is `None` when history no longer holds it.
    pub from: Option<u32>,
    pub to: u32,
    pub source_version: String,
    pub diff: TemplateDiff,
}

/// Only what `sub` takes: the selected sets of both versions, less the tenant's exclusions.
pub fn tenant_diff(
    sub: &Subscription,
    from: &TemplateContent,
    to: &TemplateContent,
) -> TemplateDiff {
    let keep = |c: &TemplateContent| {
        let sets = c
            .sets
            .iter()
            .filter(|s| sub.selects(s))
            .cloned()
            .map(|mut s| {
                s.hosts.retain(|h| !excluded(sub, h));
                s
            })
            .collect();
        TemplateContent::new(c.item, c.source_version.clone(), sets)
    };
    diff(&keep(from), &keep(to))
}

fn excluded(sub: &Subscription, host: &str) -> bool {
    sub.exclude.iter().any(|d| d.to_string() == host)
}

/// The mail for `tenant` about `changes` (those with an empty diff are left out); `None` when
/// nothing it uses changed.
pub fn compose(tenant: &str, to: &str, changes: &[Change]) -> Option<Mail> {
    let changes: Vec<&Change> = changes.iter().filter(|c| !c.diff.is_empty()).collect();
    if changes.is_empty() {
        return None;
    }
    let items: Vec<String> = changes.iter().map(|c| c.item.to_string()).collect();
    let subject = format!(
        "[Breakout] 宛先リスト更新のお知らせ / Destination list update: {} ({tenant})",
        items.join(", ")
    );
    let mut b = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(b, "{tenant} 様\n");
    let _ = writeln!(b, "ご利用中の宛先リストテンプレートが更新されました。");
    for c in &changes {
        let (added, removed) = c.diff.counts();
        let _ = writeln!(
            b,
            "・{}: バージョン {} → {}(提供元バージョン {})追加 {added} 件、削除 {removed} 件",
            c.item,
            version(c.from),
            c.to,
            c.source_version
        );
    }
    let _ = writeln!(
        b,
        "更新後のリストはエッジに配信済みです。詳細は下記、または \
         `breakoutctl template diff` でご確認ください。\n"
    );
    let _ = writeln!(b, "Dear {tenant},\n");
    let _ = writeln!(b, "The destination-list templates you use have changed.");
    for c in &changes {
        let (added, removed) = c.diff.counts();
        let _ = writeln!(
            b,
            "* {}: version {} -> {} (source version {}): {added} added, {removed} removed",
            c.item,
            version(c.from),
            c.to,
            c.source_version
        );
    }
    let _ = writeln!(
        b,
        "The new lists are already at your edges. Details below, or run \
         `breakoutctl template diff`.\n"
    );
    details(&mut b, &changes);
    let _ = writeln!(b, "\n-- \nBreakout");
    Some(Mail {
        to: to.to_string(),
        subject,
        body: b,
        held: false,
    })
}

fn version(v: Option<u32>) -> String {
    v.map_or("?".into(), |n| n.to_string())
}

/// `+ entry` / `- entry` lines per set, at most [`MAX_LINES`] in all.
fn details(b: &mut String, changes: &[&Change]) {
    let mut lines = 0usize;
    let mut left = 0usize;
    for c in changes {
        let _ = writeln!(b, "== {} ==", c.item);
        for s in &c.diff.sets {
            let _ = writeln!(b, "[{}] {}", s.group, s.set);
            let entries = s
                .added_hosts
                .iter()
                .map(|h| format!("+ {h}"))
                .chain(s.added_cidrs.iter().map(|n| format!("+ {n}")))
                .chain(s.removed_hosts.iter().map(|h| format!("- {h}")))
                .chain(s.removed_cidrs.iter().map(|n| format!("- {n}")));
            for line in entries {
                if lines < MAX_LINES {
                    let _ = writeln!(b, "  {line}");
                    lines += 1;
                } else {
                    left += 1;
                }
            }
            if s.attributes_changed {
                let _ = writeln!(b, "  (カテゴリ・ポート等の属性が変更 / attributes changed)");
            }
        }
    }
    if left > 0 {
        let _ = writeln!(b, "… 他 {left} 件 / and {left} more");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::model::{test_set, EndpointSet};
    use breakout_policy::Action;

    fn set(id: &str, group: &str, hosts: &[&str]) -> EndpointSet {
        test_set(id, group, "Optimize", hosts)
    }

    fn content(sets: Vec<EndpointSet>) -> TemplateContent {
        TemplateContent::new(TemplateItem::Microsoft365, "2026112400".into(), sets)
    }

    fn sub(groups: &[&str]) -> Subscription {
        Subscription {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            categories: Vec::new(),
            required_only: false,
            action: Action::Direct,
            add: Vec::new(),
            exclude: vec!["gone.example.com".parse().expect("host")],
            pin: None,
            instance: None,
        }
    }

    #[test]
    fn a_tenant_hears_only_about_the_sets_it_takes_less_its_exclusions() {
        let from = content(vec![
            set("m365:1", "Exchange", &["mail.example.com"]),
            set("m365:2", "SharePoint", &["files.example.com"]),
        ]);
        let to = content(vec![
            set(
                "m365:1",
                "Exchange",
                &["mail.example.com", "new.example.com", "gone.example.com"],
            ),
            set("m365:2", "SharePoint", &["other.example.com"]),
        ]);
        let d = tenant_diff(&sub(&["Exchange"]), &from, &to);
        assert_eq!(d.sets.len(), 1);
        assert_eq!(d.sets[0].added_hosts, ["new.example.com"]);
        assert!(tenant_diff(&sub(&["Teams"]), &from, &to).is_empty());
    }

    #[test]
    fn the_mail_is_in_japanese_then_english_and_lists_entries() {
        let from = content(vec![set("m365:1", "Exchange", &["a.example.com"])]);
        let to = content(vec![set("m365:1", "Exchange", &["b.example.com"])]);
        let change = Change {
            item: TemplateItem::Microsoft365,
            from: Some(3),
            to: 4,
            source_version: "2026112400".into(),
            diff: tenant_diff(&sub(&[]), &from, &to),
        };
        let mail = compose("acme", "ops@acme.example", &[change]).expect("a mail");
        assert_eq!(mail.to, "ops@acme.example");
        assert!(mail.subject.contains("宛先リスト更新") && mail.subject.contains("microsoft365"));
        let ja = mail
            .body
            .find("バージョン 3 → 4")
            .expect("Japanese summary");
        let en = mail.body.find("version 3 -> 4").expect("English summary");
        assert!(ja < en);
        assert!(mail.body.contains("追加 1 件、削除 1 件"));
        assert!(mail.body.contains("1 added, 1 removed"));
        assert!(mail.body.contains("  + b.example.com\n  - a.example.com\n"));
    }

    #[test]
    fn nothing_changed_means_no_mail_and_long_diffs_are_cut() {
        let same = content(vec![set("m365:1", "Exchange", &["a.example.com"])]);
        let none = Change {
            item: TemplateItem::Microsoft365,
            from: Some(1),
            to: 2,
            source_version: "x".into(),
            diff: tenant_diff(&sub(&[]), &same, &same),
        };
        assert_eq!(compose("acme", "ops@acme.example", &[none]), None);

        let many: Vec<String> = (0..MAX_LINES + 5)
            .map(|i| format!("h{i}.example.com"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let big = Change {
            item: TemplateItem::Microsoft365,
            from: None,
            to: 1,
            source_version: "x".into(),
            diff: tenant_diff(
                &sub(&[]),
                &content(vec![]),
                &content(vec![set("m365:1", "E", &many)]),
            ),
        };
        let mail = compose("acme", "ops@acme.example", &[big]).expect("a mail");
        assert!(mail.body.contains("and 5 more"));
        assert!(mail.body.contains("バージョン ? → 1"));
    }
}
