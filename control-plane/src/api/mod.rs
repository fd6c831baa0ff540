//! The control plane's HTTP API (see `docs/api.md`), over any [`Store`].
//!
//! Every route is declared once in [`route_table`]; the router, the per-route middleware
//! (forwarding to the leader, request metrics labelled by route template) and the OpenAPI test
//! all read that table.

pub mod audit;
pub mod auth;
pub mod billing;
pub mod cluster;
pub mod contracts;
pub mod denied;
pub mod edges;
pub mod error;
pub mod explain;
pub mod export;
pub mod extract;
pub mod forward;
pub mod idempotency;
pub mod lists;
pub mod metrics;
pub mod openapi;
pub mod quotas;
pub mod ratelimit;
pub mod regions;
pub mod reply;
pub mod sessions;
pub mod store_dump;
pub mod strict_json;
pub mod templates;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::handler::Handler;
use axum::routing::{self, MethodRouter};
use axum::{middleware, Router};
use http::Method;

use self::auth::{AdminKey, NodeToken, Principal};
use self::error::{ApiError, ApiResult};
use self::metrics::ApiMetrics;
use crate::clock::{self, SharedClock};
use crate::distribute::leases::LeaseHub;
use crate::distribute::registry::EdgeRegistry;
use crate::quota::QuotaConfig;
use crate::state::{ClientWrite, Command, Outcome, Request, State};
use crate::store::{Consistency, NodeAddr, Store};

/// How long a forwarded request or a node probe may take before the caller gets an error.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler extracts: the context the handlers share.
pub type Ctx = axum::extract::State<Arc<ApiContext>>;

/// What every handler shares.
pub struct ApiContext {
    pub store: Arc<dyn Store>,
    pub node_id: u64,
    /// This node's advertised addresses.
    pub addr: NodeAddr,
    pub(crate) admin_key: AdminKey,
    /// The operator token, for this node's own calls to the leader (the console's sampler).
    pub(crate) node_token: NodeToken,
    pub metrics: ApiMetrics,
    /// For forwarding to the leader and probing joining nodes.
    pub client: reqwest::Client,
    /// The edges connected to this node (filled by `distribute`).
    pub edges: Arc<EdgeRegistry>,
    /// Session leases (active while this node leads; fed by `distribute::pump`).
    pub leases: Arc<LeaseHub>,
    /// Each tenant's exported destinations per version, for `?since=` deltas (this node's).
    pub export_history: Arc<export::history::History>,
    /// Webhook delivery log (filled by `webhooks::Dispatcher` while this node leads).
    pub webhooks: Arc<crate::webhooks::WebhookHub>,
    /// Stamps writes (`Request.at_ms`) and says which day reads show entitlements for.
    pub clock: SharedClock,
    /// Rate limits per client address, per token and on failed authentication.
    pub limits: ratelimit::RateLimits,
    /// Refused access attempts (this node's).
    pub denied: Arc<denied::DeniedLog>,
}

/// Why the API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("registering API metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl ApiContext {
    /// `admin_token` is the operator's bearer token (only its hash is kept); the API's metrics
    /// are registered in `registry`, which `/metrics` serves whole.
    pub fn new(
        store: Arc<dyn Store>,
        node_id: u64,
        addr: NodeAddr,
        admin_token: &str,
        registry: prometheus::Registry,
    ) -> Result<Self, SetupError> {
        let client = crate::http_client::builder()
            .no_proxy()
            .timeout(PEER_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(Self {
            store,
            node_id,
            addr,
            admin_key: AdminKey::new(admin_token),
            node_token: NodeToken::new(admin_token),
            leases: LeaseHub::new(&registry, QuotaConfig::default())?,
            denied: denied::DeniedLog::new(&registry)?,
            metrics: ApiMetrics::new(registry)?,
            client,
            edges: EdgeRegistry::new(node_id),
            export_history: Arc::default(),
            webhooks: Arc::default(),
            clock: clock::system(),
            limits: ratelimit::RateLimits::default(),
        })
    }

    /// Other rate limits than the defaults (`--api-rate-*`).
    pub fn with_limits(mut self, config: ratelimit::LimitConfig) -> Self {
        self.limits = ratelimit::RateLimits::new(config);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.leases.set_clock(Arc::clone(&clock));
        self.clock = clock;
        self
    }

    /// Today (UTC) by this node's clock: the day contract states and entitlements are shown
    /// for unless `?on=` says otherwise. Writes carry their own time to `apply`.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// Also exports the store's commit index (read through `f` at scrape time).
    pub fn with_commit_index(
        mut self,
        f: impl Fn() -> Option<u64> + Send + Sync + 'static,
    ) -> Result<Self, SetupError> {
        self.metrics = self.metrics.with_commit_index(Box::new(f))?;
        Ok(self)
    }

    /// Webhook deliveries (and registrations) go where `guard` allows.
    pub fn with_webhook_guard(mut self, guard: breakout_policy::guard::GuardOptions) -> Self {
        self.webhooks = Arc::new(crate::webhooks::WebhookHub::new(guard));
        self
    }

    /// Proposes `command` as `principal`; the new store version, or the rejection as an error.
    pub async fn write(&self, principal: &Principal, command: Command) -> ApiResult<u64> {
        Ok(self
            .write_with(principal, command, Reply::new())
            .await?
            .version)
    }

    /// Proposes a client's `command` as `principal`: checks what it carries
    /// ([`Command::check_input`]: 400 naming the field), wraps it as a [`ClientWrite`] (held to
    /// the tenant's quotas) with the request's `Idempotency-Key`, if any, and `reply`: what the
    /// answer will carry that the state does not keep. A repeat of a keyed write answers with
    /// the first write's version and reply.
    pub async fn write_with(
        &self,
        principal: &Principal,
        command: Command,
        reply: Reply,
    ) -> ApiResult<Written> {
        command
            .check_input()
            .map_err(|r| ApiError::rejected(r.kind, r.message))?;
        let idempotency = idempotency::current(reply.clone());
        let req = Request {
            actor: principal.actor(),
            at_ms: self.clock.now_ms(),
            command: Command::Client(Box::new(ClientWrite {
                idempotency,
                command,
            })),
        };
        match self.store.write(req).await?.outcome {
            Outcome::Done { version } => Ok(Written {
                version,
                reply,
                repeated: false,
            }),
            Outcome::Repeated { version, reply } => {
                idempotency::mark_repeated();
                Ok(Written {
                    version,
                    reply,
                    repeated: true,
                })
            }
            Outcome::Rejected { kind, message } => Err(ApiError::rejected(kind, message)),
        }
    }

    pub async fn read(&self, consistency: Consistency) -> ApiResult<Arc<State>> {
        Ok(self.store.read(consistency).await?)
    }
}

/// What an answer carries that the state does not keep, by name (see [`ApiContext::write_with`]).
pub type Reply = std::collections::BTreeMap<String, String>;

/// A write that was applied: now, or (`repeated`) by the first request with the same
/// `Idempotency-Key`, whose version and reply these are.
#[derive(Debug)]
pub struct Written {
    pub version: u64,
    pub reply: Reply,
    pub repeated: bool,
}

/// The API router, with state applied.
pub fn router(ctx: Arc<ApiContext>) -> Router {
    let mut router = Router::new();
    for ep in route_table() {
        let scope = forward::RouteScope {
            route: ep.path,
            ctx: Arc::clone(&ctx),
            max_body: ep.max_body,
        };
        let layer = middleware::from_fn_with_state(scope, forward::per_route);
        router = router.route(ep.path, ep.handler.route_layer(layer));
    }
    let per_source = middleware::from_fn_with_state(Arc::clone(&ctx), ratelimit::per_source);
    router
        .fallback(unmatched)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(per_source)
        .with_state(ctx)
}

/// Every `(method, route template)` the router serves.
pub fn routes() -> Vec<(Method, &'static str)> {
    route_table()
        .into_iter()
        .map(|ep| (ep.verb.method(), ep.path))
        .collect()
}

async fn unmatched(
    axum::extract::State(ctx): axum::extract::State<Arc<ApiContext>>,
    method: Method,
) -> ApiError {
    let err = ApiError::NotFound("no such route".into());
    ctx.metrics.observe("unmatched", &method, err.status());
    err
}

async fn method_not_allowed(
    axum::extract::State(ctx): axum::extract::State<Arc<ApiContext>>,
    method: Method,
) -> ApiError {
    let err = ApiError::MethodNotAllowed;
    ctx.metrics.observe("unmatched", &method, err.status());
    err
}

#[derive(Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
}

struct Route {
    verb: Verb,
    path: &'static str,
    handler: MethodRouter<Arc<ApiContext>>,
    /// The largest body the route reads (413 `too_large` beyond).
    max_body: usize,
}

fn ep<H: Handler<T, Arc<ApiContext>>, T: 'static>(verb: Verb, path: &'static str, h: H) -> Route {
    let handler = match verb {
        Verb::Get => routing::get(h),
        Verb::Post => routing::post(h),
        Verb::Put => routing::put(h),
        Verb::Patch => routing::patch(h),
        Verb::Delete => routing::delete(h),
    };
    Route {
        verb,
        path,
        handler,
        max_body: extract::MAX_BODY,
    }
}

/// The route table.
fn route_table() -> Vec<Route> {
    use breakout_policy::pac::PacSettings;
    use breakout_policy::{Rule, SourceCidr};
    use std::collections::BTreeMap;
    use tenants::{put_field as put, DefaultActionBody, SessionLimitBody};
    use Verb::*;
    const TENANT: &str = "/v1/tenants/{id}";
    const LIST: &str = "/v1/tenants/{id}/lists/{name}";
    const ATTRIBUTES: &str = "/v1/tenants/{id}/attributes";
    const CONTRACTS: &str = "/v1/tenants/{id}/contracts";
    const CAPACITY: &str = "/v1/tenants/{id}/contracts/{cid}/capacity";
    const CANCEL: &str = "/v1/tenants/{id}/contracts/{cid}/cancel";
    const OPTIONS: &str = "/v1/tenants/{id}/options";
    const STOP: &str = "/v1/tenants/{id}/options/{kind}/stop";
    vec![
        ep(Get, "/healthz", cluster::healthz),
        ep(Get, "/readyz", cluster::readyz),
        ep(Get, "/openapi.json", openapi::serve),
        ep(Get, "/v1/cluster/self", cluster::whoami),
        ep(Get, "/v1/cluster/status", cluster::status),
        ep(Post, "/v1/cluster/nodes", cluster::add_node),
        ep(Delete, "/v1/cluster/nodes/{id}", cluster::remove_node),
        ep(Get, "/v1/store/export", store_dump::export),
        Route {
            verb: Post,
            path: "/v1/store/import",
            handler: routing::post(store_dump::import).layer(axum::extract::DefaultBodyLimit::max(
                store_dump::MAX_DUMP_BYTES,
            )),
            max_body: store_dump::MAX_DUMP_BYTES,
        },
        ep(Get, "/v1/regions", regions::list),
        ep(Post, "/v1/regions", regions::create),
        ep(Delete, "/v1/regions/{name}", regions::delete),
        ep(Get, "/v1/tenants", tenants::list),
        ep(Post, "/v1/tenants", tenants::create),
        ep(Get, TENANT, tenants::get),
        ep(Patch, TENANT, tenants::patch),
        ep(Delete, TENANT, tenants::delete),
        ep(Put, "/v1/tenants/{id}/source-cidrs", put::<Vec<SourceCidr>>),
        ep(Put, "/v1/tenants/{id}/rules", put::<Vec<Rule>>),
        ep(
            Put,
            "/v1/tenants/{id}/upstreams",
            put::<BTreeMap<String, String>>,
        ),
        ep(
            Put,
            "/v1/tenants/{id}/default-action",
            put::<DefaultActionBody>,
        ),
        ep(
            Put,
            "/v1/tenants/{id}/session-limit",
            put::<SessionLimitBody>,
        ),
        ep(Put, "/v1/tenants/{id}/pac", put::<Option<PacSettings>>),
        ep(Get, "/v1/tenants/{id}/quotas", quotas::get),
        ep(
            Put,
            "/v1/tenants/{id}/quotas",
            put::<Option<crate::state::Quotas>>,
        ),
        ep(Get, "/v1/tenants/{id}/lists", lists::list_all),
        ep(Get, LIST, lists::get),
        ep(Put, LIST, lists::put),
        ep(Patch, LIST, lists::patch),
        ep(Delete, LIST, lists::delete),
        // External integration (issue 6; docs/integration.md).
        ep(Get, "/v1/tenants/{id}/endpoints", export::get),
        ep(Get, "/v1/tenants/{id}/explain", explain::get),
        ep(Get, "/v1/tenants/{id}/webhooks", webhooks::list),
        ep(Post, "/v1/tenants/{id}/webhooks", webhooks::create),
        ep(Delete, "/v1/tenants/{id}/webhooks/{wid}", webhooks::delete),
        ep(
            Get,
            "/v1/tenants/{id}/webhook-deliveries",
            webhooks::deliveries,
        ),
        ep(Post, "/v1/tokens", tokens::create),
        ep(Get, "/v1/tokens", tokens::list),
        ep(Delete, "/v1/tokens/{id}", tokens::revoke),
        ep(Get, "/v1/audit", audit::list),
        ep(Get, "/v1/audit/denied", denied::list),
        // Contracts, options and charges (issue 4; docs/contracts.md).
        ep(Get, ATTRIBUTES, contracts::get_attributes),
        ep(Put, ATTRIBUTES, contracts::put_attributes),
        ep(Get, CONTRACTS, contracts::list_contracts),
        ep(Post, CONTRACTS, contracts::add_contract),
        ep(Post, CAPACITY, contracts::change_capacity),
        ep(Post, CANCEL, contracts::cancel),
        ep(Get, OPTIONS, contracts::list_options),
        ep(Post, OPTIONS, contracts::add_option),
        ep(Post, STOP, contracts::stop_option),
        ep(Get, "/v1/tenants/{id}/billing", billing::preview),
        ep(Get, "/v1/price-book", billing::get_price_book),
        ep(Put, "/v1/price-book", billing::put_price_book),
        // List templates (issue 6; docs/templates.md).
        ep(Get, "/v1/templates", templates::list),
        ep(Post, "/v1/templates/sync", templates::sync),
        ep(Get, "/v1/templates/{item}", templates::show),
        ep(Get, "/v1/templates/{item}/versions", templates::versions),
        ep(Get, "/v1/templates/{item}/diff", templates::diff_versions),
        ep(Post, "/v1/templates/{item}/rollback", templates::rollback),
        ep(Post, "/v1/templates/{item}/withdraw", templates::withdraw),
        ep(
            Post,
            "/v1/templates/{item}/candidates/{cid}/approve",
            templates::approve,
        ),
        ep(
            Post,
            "/v1/templates/{item}/candidates/{cid}/reject",
            templates::reject,
        ),
        ep(Get, "/v1/tenants/{id}/templates", templates::subscriptions),
        ep(
            Get,
            "/v1/tenants/{id}/templates/{item}",
            templates::subscription,
        ),
        ep(
            Put,
            "/v1/tenants/{id}/templates/{item}",
            templates::subscribe,
        ),
        ep(
            Delete,
            "/v1/tenants/{id}/templates/{item}",
            templates::unsubscribe,
        ),
        ep(Get, "/v1/edges", edges::list),
        ep(Get, "/v1/sessions", sessions::list),
        ep(Get, "/v1/tenants/{id}/refusals", usage::refusals),
        ep(Post, "/v1/quota/exchange", sessions::exchange),
    ]
}
