//! One webhook target: its own task and queue, so a slow or failing receiver delays nothing
//! but its own deliveries. Deliveries go out in order; each is retried with backoff.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::dial::{self, Blocked};
use super::log::{Attempt, DeliveryLog};
use super::sign::{signature, RetryPolicy};
use super::WebhookHub;
use crate::clock::SharedClock;
use crate::state::Webhook;

/// Deliveries a target may have waiting; beyond, new ones are dropped and logged as such.
pub const QUEUE: usize = 64;

/// What a delivery carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The whole list (`{"tenant", "entries"}`): the receiver replaces its copy.
    Full,
    /// What changed (`{"tenant", "since", "version", "added", "removed"}`).
    Delta,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Full => "endpoints.full",
            Event::Delta => "endpoints.delta",
        }
    }
}

/// One change to deliver: the event, the store version and the JSON body (signed on sending).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event: Event,
    pub version: u64,
    pub body: Arc<str>,
}

/// The sending side of a running target.
pub struct Target {
    pub url: String,
    tx: mpsc::Sender<Delivery>,
    clock: SharedClock,
}

impl Target {
    /// Starts the task of `hook` of `tenant`; it ends when the returned [`Target`] is dropped
    /// (after the delivery in hand, whose retries stop early).
    pub fn spawn(
        client: reqwest::Client,
        tenant: String,
        hook: Webhook,
        hub: Arc<WebhookHub>,
        policy: RetryPolicy,
        clock: SharedClock,
    ) -> Target {
        let (tx, rx) = mpsc::channel(QUEUE);
        let url = hook.url.clone();
        let task_clock = Arc::clone(&clock);
        tokio::spawn(run(client, tenant, hook, rx, hub, policy, task_clock));
        Target { url, tx, clock }
    }

    /// Queues `d`; a full queue drops it, and the log says so.
    pub fn send(&self, tenant: &str, id: &str, d: Delivery, log: &DeliveryLog) {
        if let Err(e) = self.tx.try_send(d) {
            let d = match e {
                mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
            };
            log.push(
                tenant,
                Attempt {
                    webhook: id.to_string(),
                    url: self.url.clone(),
                    version: d.version,
                    attempt: 0,
                    at_ms: self.clock.now_ms(),
                    status: None,
                    error: Some(format!("dropped: more than {QUEUE} deliveries waiting")),
                    delivered: false,
                },
            );
        }
    }
}

async fn run(
    client: reqwest::Client,
    tenant: String,
    hook: Webhook,
    mut rx: mpsc::Receiver<Delivery>,
    hub: Arc<WebhookHub>,
    policy: RetryPolicy,
    clock: SharedClock,
) {
    while let Some(d) = rx.recv().await {
        let sig = signature(hook.secret.0.as_bytes(), d.body.as_bytes());
        for n in 1..=policy.attempts {
            let (status, error) = match dial::check_literal(&hub.guard, &hook.url) {
                Ok(()) => attempt(&client, (&tenant, &hook), &sig, &d, &policy).await,
                Err(b) => (None, Some(refused(&tenant, &hook.id, &b))),
            };
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            hub.log.push(
                &tenant,
                Attempt {
                    webhook: hook.id.clone(),
                    url: hook.url.clone(),
                    version: d.version,
                    attempt: n,
                    at_ms: clock.now_ms(),
                    status,
                    error,
                    delivered,
                },
            );
            if delivered || n == policy.attempts || rx.is_closed() {
                break;
            }
            tokio::time::sleep(policy.backoff(n)).await;
        }
    }
}

/// What the tenant's log says about a delivery the guard stopped; the operator's log gets the
/// address and its class.
fn refused(tenant: &str, webhook: &str, b: &Blocked) -> String {
    tracing::warn!(tenant, webhook, reason = %b, "webhook delivery refused by the destination guard");
    Blocked::TENANT_MESSAGE.to_string()
}

/// One POST: the receiver's status, or why there was none, in words that say nothing of the
/// far side beyond its HTTP status (the operator's log has the error).
async fn attempt(
    client: &reqwest::Client,
    (tenant, hook): (&str, &Webhook),
    sig: &str,
    d: &Delivery,
    policy: &RetryPolicy,
) -> (Option<u16>, Option<String>) {
    let req = client
        .post(&hook.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-breakout-signature", sig)
        .header("x-breakout-event", d.event.as_str())
        .header("x-breakout-version", d.version)
        .body(d.body.to_string())
        .timeout(policy.attempt_timeout);
    let e = match req.send().await {
        Ok(resp) => return (Some(resp.status().as_u16()), None),
        Err(e) => e,
    };
    if let Some(b) = dial::blocked(&e) {
        return (None, Some(refused(tenant, &hook.id, b)));
    }
    tracing::debug!(tenant, webhook = %hook.id, error = %e, "webhook delivery failed");
    let why = if e.is_timeout() {
        format!("no answer within {} ms", policy.attempt_timeout.as_millis())
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "no valid HTTP answer".into()
    };
    (None, Some(why))
}
