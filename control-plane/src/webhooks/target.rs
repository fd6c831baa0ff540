//! One webhook target: its own task and queue, so a slow or failing receiver delays nothing
//! but its own deliveries. Deliveries go out in order; each is retried with backoff.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::log::{Attempt, DeliveryLog};
use super::sign::{signature, RetryPolicy};
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
        log: Arc<DeliveryLog>,
        policy: RetryPolicy,
        clock: SharedClock,
    ) -> Target {
        let (tx, rx) = mpsc::channel(QUEUE);
        let url = hook.url.clone();
        let task_clock = Arc::clone(&clock);
        tokio::spawn(run(client, tenant, hook, rx, log, policy, task_clock));
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
    log: Arc<DeliveryLog>,
    policy: RetryPolicy,
    clock: SharedClock,
) {
    while let Some(d) = rx.recv().await {
        let sig = signature(hook.secret.0.as_bytes(), d.body.as_bytes());
        for n in 1..=policy.attempts {
            let (status, error) = attempt(&client, &hook.url, &sig, &d, &policy).await;
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            log.push(
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

/// One POST: the receiver's status, or why there was none.
async fn attempt(
    client: &reqwest::Client,
    url: &str,
    sig: &str,
    d: &Delivery,
    policy: &RetryPolicy,
) -> (Option<u16>, Option<String>) {
    let req = client
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-breakout-signature", sig)
        .header("x-breakout-event", d.event.as_str())
        .header("x-breakout-version", d.version)
        .body(d.body.to_string())
        .timeout(policy.attempt_timeout);
    match req.send().await {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) if e.is_timeout() => (
            None,
            Some(format!(
                "no answer within {} ms",
                policy.attempt_timeout.as_millis()
            )),
        ),
        Err(e) if e.is_connect() => (None, Some("connection failed".into())),
        Err(_) => (None, Some("request failed".into())),
    }
}
