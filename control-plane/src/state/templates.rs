//! Templates in the store: bounded version history, the live version, quarantined candidates,
//! and tenants' subscriptions. The guard runs here, inside `apply`, so every node decides the
//! same way from the same log.

use std::sync::Arc;

use breakout_policy::Action;
use chrono::NaiveDate;

use super::model::{AuditEvent, State, MAX_LIST_ENTRIES};
use super::step::{find, Reject, Step};
use super::template_record::{
    Fetched, Quarantined, TemplateRecord, TemplateVersion, QUARANTINE_KEEP, TEMPLATE_HISTORY,
};
use crate::contracts::{Service, TemplateItem};
use crate::templates::diff::diff;
use crate::templates::guard::{check, Verdict};
use crate::templates::instance::{self, has_instances, merge, part};
use crate::templates::select::{self, Subscription};
use crate::templates::TemplateContent;

fn push_version(
    rec: &mut TemplateRecord,
    index: u64,
    content: TemplateContent,
    fetched_at_ms: u64,
    approved_by: Option<String>,
    pinned: &[u32],
) -> u32 {
    let number = rec.next;
    rec.next += 1;
    let diff = rec.live_version().map(|live| diff(&live.content, &content));
    rec.versions.push(TemplateVersion {
        number,
        hash: content.hash(),
        fetched_at_ms,
        recorded_version: index,
        diff,
        approved_by,
        content,
    });
    rec.live = Some(number);
    while rec.versions.len() > TEMPLATE_HISTORY {
        let Some(pos) = rec
            .versions
            .iter()
            .position(|v| Some(v.number) != rec.live && !pinned.contains(&v.number))
        else {
            break;
        };
        rec.versions.remove(pos);
    }
    number
}

fn pinned(state: &State, item: TemplateItem) -> Vec<u32> {
    state
        .subscriptions
        .values()
        .filter_map(|subs| subs.get(&item)?.pin)
        .collect()
}

/// Records a fetch: unchanged content changes nothing; otherwise the guard decides between a
/// new live version and quarantine. A fetch of one Microsoft 365 instance is compared with, and
/// replaces, that instance's sets only.
pub(super) fn record(
    state: &mut State,
    index: u64,
    item: TemplateItem,
    fetched: &Fetched,
    max_shrink_percent: u8,
) -> Step {
    if let Some(c) = &fetched.content {
        if c.item != item {
            return Err(Reject::invalid(format!(
                "content is for template {}, not {item}",
                c.item
            )));
        }
    }
    let instance = fetched.instance.as_deref();
    if let Some(i) = instance {
        check_instance(item, i, fetched.content.as_ref())?;
    }
    let pins = pinned(state, item);
    let rec = Arc::make_mut(state.templates.entry(item).or_default());
    if let Some(i) = instance {
        rec.checked
            .insert(i.to_string(), fetched.source_version.clone());
    }
    let whole = rec.live_version().map(|v| v.content.clone());
    let live = match instance {
        Some(i) => whole
            .as_ref()
            .map(|l| part(l, i))
            .filter(|p| !p.sets.is_empty()),
        None => whole.clone(),
    };
    let candidate = match (&fetched.content, &fetched.error) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(e.as_str()),
        (None, None) => Err("no content"),
    };
    if let (Ok(c), Some(l)) = (candidate, &live) {
        if c.hash() == l.hash() {
            return Ok(());
        }
    }
    let verdict = check(candidate, live.as_ref(), max_shrink_percent);
    match (verdict, &fetched.content) {
        (Verdict::Accept, Some(content)) => {
            let content = match instance {
                Some(i) => merge(whole.as_ref(), i, content),
                None => content.clone(),
            };
            push_version(rec, index, content, fetched.fetched_at_ms, None, &pins);
        }
        (verdict, _) => {
            let reason = match (verdict, instance) {
                (Verdict::Quarantine(reason), Some(i)) => format!("{reason} (instance {i})"),
                (Verdict::Quarantine(reason), None) => reason,
                (Verdict::Accept, _) => "no content".to_string(),
            };
            let id = rec.next;
            rec.next += 1;
            rec.quarantine.push(Quarantined {
                id,
                reason,
                source_version: fetched.source_version.clone(),
                fetched_at_ms: fetched.fetched_at_ms,
                recorded_version: index,
                content: fetched.content.clone(),
                instance: fetched.instance.clone(),
            });
            if rec.quarantine.len() > QUARANTINE_KEEP {
                rec.quarantine.remove(0);
            }
        }
    }
    Ok(())
}

/// A fetch of one instance: of a template made of instances, holding that instance's sets only.
fn check_instance(item: TemplateItem, i: &str, content: Option<&TemplateContent>) -> Step {
    if !has_instances(item) {
        return Err(Reject::invalid(format!(
            "fetched.instance: template {item} has no Microsoft 365 instances"
        )));
    }
    let stray = content.and_then(|c| c.sets.iter().find(|s| instance::of(s) != Some(i)));
    match stray {
        Some(s) => Err(Reject::invalid(format!(
            "fetched.content: set {} is not of instance {i}",
            s.id
        ))),
        None => Ok(()),
    }
}

/// The audit event of a quarantine made at `index`, if [`record`] made one.
pub(super) fn quarantine_event(
    state: &State,
    index: u64,
    item: TemplateItem,
    at_ms: u64,
    actor: &str,
) -> Option<AuditEvent> {
    let q = state
        .templates
        .get(&item)?
        .quarantine
        .iter()
        .find(|q| q.recorded_version == index)?;
    Some(AuditEvent {
        version: index,
        at_ms,
        actor: actor.to_string(),
        action: "template.quarantine".into(),
        target: format!("template/{item}/candidate/{}", q.id),
        result: q.reason.clone(),
    })
}

fn template_mut(state: &mut State, item: TemplateItem) -> Result<&mut TemplateRecord, Reject> {
    state
        .templates
        .get_mut(&item)
        .map(Arc::make_mut)
        .ok_or_else(|| Reject::not_found(format!("template {item} has no versions")))
}

/// Approves a quarantined candidate: it becomes a new live version.
pub(super) fn approve(
    state: &mut State,
    index: u64,
    actor: &str,
    item: TemplateItem,
    candidate: u32,
) -> Step {
    let pins = pinned(state, item);
    let rec = template_mut(state, item)?;
    let pos = rec
        .quarantine
        .iter()
        .position(|q| q.id == candidate)
        .ok_or_else(|| {
            Reject::not_found(format!("template {item} has no candidate {candidate}"))
        })?;
    let Some(content) = rec.quarantine[pos].content.clone() else {
        return Err(Reject::invalid(format!(
            "candidate {candidate} of template {item} could not be parsed; it can only be rejected"
        )));
    };
    let q = rec.quarantine.remove(pos);
    // A candidate of one instance replaces that instance's sets of the version live now.
    let content = match &q.instance {
        Some(i) => merge(rec.live_version().map(|v| &v.content), i, &content),
        None => content,
    };
    push_version(
        rec,
        index,
        content,
        q.fetched_at_ms,
        Some(actor.to_string()),
        &pins,
    );
    Ok(())
}

/// Rejects (drops) a quarantined candidate.
pub(super) fn reject(state: &mut State, item: TemplateItem, candidate: u32) -> Step {
    let rec = template_mut(state, item)?;
    let before = rec.quarantine.len();
    rec.quarantine.retain(|q| q.id != candidate);
    if rec.quarantine.len() == before {
        return Err(Reject::not_found(format!(
            "template {item} has no candidate {candidate}"
        )));
    }
    Ok(())
}

/// Makes an older (or any kept) version live again.
pub(super) fn rollback(state: &mut State, item: TemplateItem, to: u32) -> Step {
    let rec = template_mut(state, item)?;
    if rec.version(to).is_none() {
        return Err(Reject::not_found(format!(
            "template {item} has no version {to} (kept: the last {TEMPLATE_HISTORY})"
        )));
    }
    rec.live = Some(to);
    Ok(())
}

/// Whether `tenant` holds a list-template contract for `item` in force on `day`.
pub fn holds_template(state: &State, tenant: &str, item: TemplateItem, day: NaiveDate) -> bool {
    state.contracts.get(tenant).is_some_and(|held| {
        held.contracts
            .iter()
            .any(|c| c.service == Service::ListTemplate { item } && c.term.in_force(day))
    })
}

/// Whether `item` is withdrawn (art. 11) on `day`.
pub fn withdrawn(state: &State, item: TemplateItem, day: NaiveDate) -> bool {
    state.withdrawn.get(&item).is_some_and(|from| *from <= day)
}

/// Sets (`Some`) or clears (`None`) a tenant's subscription to `item`.
pub(super) fn subscribe(
    state: &mut State,
    today: NaiveDate,
    tenant: &str,
    item: TemplateItem,
    sub: Option<&Subscription>,
) -> Step {
    let record = find(state, tenant)?;
    let Some(sub) = sub else {
        let removed = state
            .subscriptions
            .get_mut(tenant)
            .and_then(|subs| Arc::make_mut(subs).remove(&item));
        if state
            .subscriptions
            .get(tenant)
            .is_some_and(|s| s.is_empty())
        {
            state.subscriptions.remove(tenant);
        }
        return match removed {
            Some(_) => Ok(()),
            None => Err(Reject::not_found(format!(
                "tenant {tenant} has no subscription to template {item}"
            ))),
        };
    };
    if withdrawn(state, item, today) {
        return Err(Reject::conflict(format!(
            "art. 11: template {item} is withdrawn"
        )));
    }
    if !holds_template(state, tenant, item, today) {
        return Err(Reject::conflict(format!(
            "art. 2: tenant {tenant} holds no list-template contract for {item} in force"
        )));
    }
    match &sub.action {
        Action::Direct => {}
        Action::Upstream(name) if record.tenant.upstreams.contains_key(name) => {}
        Action::Upstream(name) => {
            return Err(Reject::invalid(format!(
                "subscription.action: upstream {name:?} is not defined in the tenant's upstreams"
            )))
        }
        Action::Block => {
            return Err(Reject::invalid(
                "subscription.action: a template drives direct or upstream:<name>, not block",
            ))
        }
    }
    if sub.add.len() + sub.exclude.len() > MAX_LIST_ENTRIES {
        return Err(Reject::invalid(format!(
            "subscription: more than {MAX_LIST_ENTRIES} overrides"
        )));
    }
    let rec = state.templates.get(&item);
    if let Some(pin) = sub.pin {
        if rec.is_none_or(|r| r.version(pin).is_none()) {
            return Err(Reject::not_found(format!(
                "subscription.pin: template {item} has no version {pin}"
            )));
        }
    }
    // What it would compile against: the pinned version, else the live one.
    let version = rec.and_then(|r| sub.pin.and_then(|n| r.version(n)).or(r.live_version()));
    select::check(item, sub, version.map(|v| &v.content)).map_err(Reject::invalid)?;
    Arc::make_mut(state.subscriptions.entry(tenant.to_string()).or_default())
        .insert(item, sub.clone());
    Ok(())
}

/// Compiles one subscription against one template version: [`compile_subscription`], or a
/// memo of it for callers that build many tenants at once (the edge feeds,
/// `distribute::served`: tenants subscribed alike to one version compile alike).
pub type SubscriptionCompiler<'a> =
    dyn FnMut(TemplateItem, &Subscription, &TemplateVersion, &Action) -> select::Compiled + 'a;

/// [`select::compile`] of `sub` against `version`'s content.
pub fn compile_subscription(
    item: TemplateItem,
    sub: &Subscription,
    version: &TemplateVersion,
    default_action: &Action,
) -> select::Compiled {
    select::compile(item, sub, &version.content, default_action)
}

/// Adds the lists and rules of `tenant`'s subscriptions on `day` (after its own rules, so they
/// win ties): the pinned version if still kept, else the live one. A subscription is left out
/// while its contract is not in force, its template is withdrawn or has no version, its list
/// names are taken by the tenant's own lists, or its upstream is no longer defined — never a
/// policy an edge would refuse.
pub(super) fn add_subscriptions(
    state: &State,
    tenant: &mut breakout_policy::Tenant,
    day: NaiveDate,
    compile: &mut SubscriptionCompiler<'_>,
) {
    let Some(subs) = state.subscriptions.get(&tenant.id) else {
        return;
    };
    for (item, sub) in subs.iter() {
        let Some(rec) = state.templates.get(item) else {
            continue;
        };
        let version = sub.pin.and_then(|n| rec.version(n)).or(rec.live_version());
        let Some(version) = version else {
            continue;
        };
        let upstream_ok = match &sub.action {
            Action::Upstream(name) => tenant.upstreams.contains_key(name),
            _ => true,
        };
        if !upstream_ok
            || withdrawn(state, *item, day)
            || !holds_template(state, &tenant.id, *item, day)
        {
            continue;
        }
        let compiled = compile(*item, sub, version, &tenant.default_action);
        if compiled
            .lists
            .iter()
            .any(|(n, _)| tenant.lists.contains_key(n))
        {
            continue;
        }
        tenant.lists.extend(compiled.lists);
        tenant.rules.extend(compiled.rules);
    }
}
