//! Change notifications (issue 6): when a template's live version changes, each subscribed
//! tenant's operations contact gets a mail summarising what changed in the sets it uses, in
//! Japanese and English, held to business hours when the tenant (or the operator, for every
//! tenant) asks for it.
//!
//! Only the leader sends. A [`TemplateNotified`] written after every mail for a live
//! version went out means a new leader does not mail again; a leader that dies between the
//! mails and that write means some contacts get the mail twice (at least once, never lost).
//! Versions that went live while mails were held are told as one change from the version last
//! told about.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::watch;

use crate::clock::SharedClock;
use crate::contracts::TemplateItem;
use crate::state::{Command, Request, State, TemplateNotified};
use crate::store::{Consistency, Store};

pub mod args;
pub mod calendar;
pub mod message;
pub mod smtp;

pub use args::NotifyArgs;
pub use calendar::BusinessDays;
pub use message::{Change, Mail};
pub use smtp::{Mailer, SmtpConfig};

/// Who the audit log names.
pub const ACTOR: &str = "control-plane/notify";
/// How often the leader looks again without a store change (held mails, failed sends).
const RECHECK: Duration = Duration::from_secs(60);

/// The mails due for `state`: per template whose live version differs from the one last told
/// about, `(item, live version, mails)`. A template never told about is recorded without mail
/// (its first version is not a change). Pure.
pub fn due(state: &State) -> Vec<(TemplateItem, u32, Vec<Mail>)> {
    let mut out = Vec::new();
    for (item, record) in &state.templates {
        let Some(live) = record.live_version() else {
            continue;
        };
        let told = state.notified.get(item).copied();
        if told == Some(live.number) {
            continue;
        }
        let mut mails = Vec::new();
        if let Some(told) = told {
            let from = record.version(told);
            for (tenant, subs) in &state.subscriptions {
                let Some(sub) = subs.get(item) else { continue };
                let Some(record) = state.tenants.get(tenant) else {
                    continue;
                };
                let (Some(contact), None) = (&record.ops_contact, sub.pin) else {
                    continue;
                };
                let diff = match from {
                    Some(f) => message::tenant_diff(sub, &f.content, &live.content),
                    None => message::tenant_diff(
                        sub,
                        &crate::templates::TemplateContent::new(*item, String::new(), Vec::new()),
                        &live.content,
                    ),
                };
                let change = Change {
                    item: *item,
                    from: from.map(|f| f.number),
                    to: live.number,
                    source_version: live.content.source_version.clone(),
                    diff,
                };
                mails.extend(message::compose(tenant, contact, &[change]).map(|m| Mail {
                    held: record.notify_business_days,
                    ..m
                }));
            }
        }
        out.push((*item, live.number, mails));
    }
    out
}

/// The notifier's counters.
#[derive(Clone)]
pub struct Metrics {
    sent: IntCounterVec,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let sent = IntCounterVec::new(
            Opts::new(
                "breakout_notifications_total",
                "List change mails handed to the SMTP relay, by result",
            ),
            &["result"],
        )?;
        registry.register(Box::new(sent.clone()))?;
        Ok(Self { sent })
    }
}

/// The leader's mail loop.
pub struct Notifier {
    pub store: Arc<dyn Store>,
    pub node_id: u64,
    pub mailer: Mailer,
    /// Business hours, for the mails that wait for them.
    pub calendar: BusinessDays,
    /// Every mail waits for business hours, whatever its tenant asked.
    pub hold_all: bool,
    pub metrics: Metrics,
    pub clock: SharedClock,
}

impl Notifier {
    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut versions = self.store.subscribe();
        // Mails already sent for (tenant address, item, version) by this process: a failed
        // send to one contact retries without mailing the others again.
        let mut sent: BTreeSet<(String, TemplateItem, u32)> = BTreeSet::new();
        loop {
            let wait = self.once(&mut sent).await;
            tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => return,
                r = versions.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One look; how long until the next one is needed at the latest.
    async fn once(&self, sent: &mut BTreeSet<(String, TemplateItem, u32)>) -> Duration {
        match self.store.status().await {
            Ok(s) if s.leader == Some(self.node_id) => {}
            _ => return RECHECK,
        }
        let Ok(state) = self.store.read(Consistency::Stale).await else {
            return RECHECK;
        };
        let mut wait = RECHECK;
        let now = self.clock.now_utc();
        let opens = self.calendar.next_open(now);
        for (item, version, mails) in due(&state) {
            let mut all = true;
            for mail in &mails {
                let key = (mail.to.clone(), item, version);
                if sent.contains(&key) {
                    continue;
                }
                if (mail.held || self.hold_all) && opens > now {
                    let until = (opens - now).to_std().unwrap_or(RECHECK);
                    tracing::debug!(%item, version, ?until, "a change mail waits for business hours");
                    wait = wait.min(until.max(Duration::from_secs(1)));
                    all = false;
                    continue;
                }
                match self.mailer.send(mail).await {
                    Ok(()) => {
                        self.metrics.sent.with_label_values(&["ok"]).inc();
                        sent.insert(key);
                    }
                    Err(e) => {
                        self.metrics.sent.with_label_values(&["error"]).inc();
                        tracing::warn!(%item, version, error = %e, "a change mail was not sent; will retry");
                        all = false;
                    }
                }
            }
            if all {
                let req = Request {
                    actor: ACTOR.to_string(),
                    at_ms: self.clock.now_ms(),
                    command: Command::TemplateNotified(TemplateNotified { item, version }),
                };
                if let Err(e) = self.store.write(req).await {
                    tracing::debug!(error = %e, "recording the notification");
                }
            }
        }
        wait
    }
}

#[cfg(test)]
mod tests;
