//! Webhooks (docs/integration.md): on the leader only, each change of a tenant's exported
//! endpoints is sent to every webhook the tenant registered, as the JSON delta of the pull API,
//! signed with HMAC-SHA256 (`X-Breakout-Signature: sha256=…`), retried with exponential
//! backoff. Each target has its own task and queue ([`target`]), so a failing or hanging one
//! never delays the others. Every attempt goes to a bounded in-memory log the API shows.
//!
//! The dispatcher compares each tenant's set with the one it last saw, in this node's memory.
//! So that no change is lost when that memory starts empty (a new webhook, a node that becomes
//! leader, a restart), every target it starts gets the **full list** first (event
//! `endpoints.full`, the pull API's JSON), then deltas (`endpoints.delta`). Receivers replace
//! their copy on a full list and apply a delta otherwise.

pub mod args;
pub mod dial;
pub mod log;
pub mod sign;
pub mod target;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::export::{effective, render_delta_json, render_json, Delta, Entry};
use breakout_policy::guard::GuardOptions;
use tokio::sync::watch;

use self::log::DeliveryLog;
use self::sign::RetryPolicy;
use self::target::{Delivery, Event, Target};
use crate::clock::SharedClock;
use crate::state::{export_view, may_export, State, Webhook};
use crate::store::{Consistency, Store};

/// What the API and the dispatcher share.
#[derive(Debug, Default)]
pub struct WebhookHub {
    pub log: Arc<DeliveryLog>,
    /// Where deliveries may go (the API also refuses a registration to a refused literal).
    pub guard: GuardOptions,
}

impl WebhookHub {
    pub fn new(guard: GuardOptions) -> Self {
        Self {
            log: Arc::default(),
            guard,
        }
    }
}

/// Runs on every node; acts only while the node leads.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub node_id: u64,
    pub hub: Arc<WebhookHub>,
    pub policy: RetryPolicy,
    clock: SharedClock,
    client: reqwest::Client,
    /// Each tenant's set as last seen, and the version it was seen at.
    seen: HashMap<String, (u64, Arc<Vec<Entry>>)>,
    /// Running targets by (tenant, webhook id).
    targets: HashMap<(String, String), (Webhook, Target)>,
}

impl Dispatcher {
    /// Resolves targets with the system's resolver ([`dial`]).
    pub fn new(
        store: Arc<dyn Store>,
        node_id: u64,
        hub: Arc<WebhookHub>,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        Self::with_resolver(store, node_id, hub, clock, Arc::new(dial::SystemResolver))
    }

    /// Resolves targets with `resolver` (tests give names their own addresses).
    pub fn with_resolver(
        store: Arc<dyn Store>,
        node_id: u64,
        hub: Arc<WebhookHub>,
        clock: SharedClock,
        resolver: Arc<dyn dial::Resolver>,
    ) -> Result<Self, reqwest::Error> {
        let client = dial::client(hub.guard.clone(), resolver)?;
        Ok(Self {
            store,
            node_id,
            hub,
            policy: RetryPolicy::default(),
            clock,
            client,
            seen: HashMap::new(),
            targets: HashMap::new(),
        })
    }

    /// Looks at every new store version until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut versions = self.store.subscribe();
        // Leadership can change without a new version; look at least this often.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                changed = versions.changed() => if changed.is_err() { break },
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            self.step().await;
        }
    }

    /// One look: stand down unless leading, else send what changed.
    pub async fn step(&mut self) {
        let leading = matches!(self.store.status().await, Ok(s) if s.leader == Some(self.node_id));
        if !leading {
            self.seen.clear();
            self.targets.clear();
            return;
        }
        let Ok(state) = self.store.read(Consistency::Stale).await else {
            return;
        };
        let started = self.sync_targets(&state);
        let day = self.clock.today();
        for (tenant, hooks) in &state.webhooks {
            let Some((t, shared)) = export_view(&state, tenant) else {
                continue;
            };
            if may_export(&state, tenant, day).is_err() {
                continue;
            }
            let now = Arc::new(effective(&t, &shared));
            let previous = self
                .seen
                .insert(tenant.clone(), (state.version, Arc::clone(&now)));
            let delta = match &previous {
                Some((since, before)) if **before == *now => {
                    // Same content: the older version stays the next delta's `since`.
                    self.seen.insert(tenant.clone(), (*since, Arc::clone(&now)));
                    None
                }
                Some((since, before)) => {
                    let d = Delta::between(before, &now);
                    Some(Arc::<str>::from(render_delta_json(
                        tenant,
                        *since,
                        state.version,
                        &d,
                    )))
                }
                None => None,
            };
            let mut full = None;
            for id in hooks.keys() {
                let key = (tenant.clone(), id.clone());
                let Some((_, target)) = self.targets.get(&key) else {
                    continue;
                };
                let (event, body) = if previous.is_none() || started.contains(&key) {
                    let refs: Vec<&Entry> = now.iter().collect();
                    let body =
                        full.get_or_insert_with(|| Arc::<str>::from(render_json(tenant, &refs)));
                    (Event::Full, Arc::clone(body))
                } else if let Some(body) = &delta {
                    (Event::Delta, Arc::clone(body))
                } else {
                    continue;
                };
                let d = Delivery {
                    event,
                    version: state.version,
                    body,
                };
                target.send(tenant, id, d, &self.hub.log);
            }
        }
        self.seen
            .retain(|tenant, _| state.webhooks.contains_key(tenant));
    }

    /// Starts a task per new webhook, stops those deleted or changed; the keys started.
    fn sync_targets(&mut self, state: &State) -> Vec<(String, String)> {
        let mut started = Vec::new();
        self.targets.retain(|(tenant, id), (hook, _)| {
            state
                .webhooks
                .get(tenant)
                .and_then(|h| h.get(id))
                .is_some_and(|current| current == hook)
        });
        for (tenant, hooks) in &state.webhooks {
            for (id, hook) in hooks {
                let key = (tenant.clone(), id.clone());
                if !self.targets.contains_key(&key) {
                    let target = Target::spawn(
                        self.client.clone(),
                        tenant.clone(),
                        hook.clone(),
                        Arc::clone(&self.hub),
                        self.policy,
                        Arc::clone(&self.clock),
                    );
                    self.targets.insert(key.clone(), (hook.clone(), target));
                    started.push(key);
                }
            }
        }
        started
    }
}

#[cfg(test)]
mod tests;
