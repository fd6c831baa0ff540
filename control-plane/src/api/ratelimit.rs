//! Rate limits on the management API: per client address (every request), per token (after
//! authentication) and on failed authentication per client address. Token buckets in memory,
//! per node; an exhausted bucket answers 429 `rate_limited` with `Retry-After`.
//!
//! A source whose failed authentications exhaust their bucket gets 429 for *every* request
//! carrying credentials until the bucket refills: answering 429 only to wrong tokens would still
//! tell a guesser which one was right. `/healthz`, `/readyz` and `/metrics` are never limited.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::error::ApiError;
use super::ApiContext;

/// Keys one bucket map holds at most; beyond, idle (full) buckets are dropped first, then the
/// oldest. Bounds the memory a flood of distinct addresses or tokens can take.
const MAX_KEYS: usize = 65_536;

/// `per_sec` tokens a second, up to `burst`; `per_sec == 0` means no limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };

    /// `n` a second with a burst of `2n` (0: no limit).
    pub fn per_second(n: u32) -> Rate {
        Rate {
            per_sec: f64::from(n),
            burst: f64::from(n) * 2.0,
        }
    }

    pub fn is_off(&self) -> bool {
        self.per_sec <= 0.0
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key (pure: time comes in as `now`).
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    map: HashMap<K, Bucket>,
    max_keys: usize,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    pub fn new(rate: Rate) -> Self {
        Self::with_max_keys(rate, MAX_KEYS)
    }

    pub fn with_max_keys(rate: Rate, max_keys: usize) -> Self {
        Buckets {
            rate,
            map: HashMap::new(),
            max_keys: max_keys.max(1),
        }
    }

    fn refill(&self, b: Bucket, now: Instant) -> Bucket {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        Bucket {
            tokens: (b.tokens + dt * self.rate.per_sec).min(self.rate.burst),
            at: now,
        }
    }

    /// How long until `key` has a whole token, or `None` if it has one now (nothing taken).
    pub fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        if self.rate.is_off() {
            return None;
        }
        let b = self.refill(*self.map.get(key)?, now);
        self.map.insert(key.clone(), b);
        (b.tokens < 1.0).then(|| self.until_one(b))
    }

    fn until_one(&self, b: Bucket) -> Duration {
        Duration::from_secs_f64(((1.0 - b.tokens) / self.rate.per_sec).max(0.001))
    }

    /// Takes one token for `key`: `Ok` if there was one, else how long until there is.
    pub fn take(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.rate.is_off() {
            return Ok(());
        }
        let b = match self.map.get(key) {
            Some(b) => self.refill(*b, now),
            None => {
                self.make_room(now);
                Bucket {
                    tokens: self.rate.burst,
                    at: now,
                }
            }
        };
        if b.tokens >= 1.0 {
            self.map.insert(
                key.clone(),
                Bucket {
                    tokens: b.tokens - 1.0,
                    ..b
                },
            );
            Ok(())
        } else {
            self.map.insert(key.clone(), b);
            Err(self.until_one(b))
        }
    }

    fn make_room(&mut self, now: Instant) {
        if self.map.len() < self.max_keys {
            return;
        }
        let full = self.rate.burst;
        let rate = self.rate;
        self.map.retain(|_, b| {
            let dt = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens + dt * rate.per_sec < full
        });
        if self.map.len() >= self.max_keys {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The limits a node applies (flags `--api-rate-*`, docs/api.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitConfig {
    /// Every request from one client address.
    pub per_source: Rate,
    /// Requests authenticated by one tenant token.
    pub per_token: Rate,
    /// Requests authenticated by the operator (admin) token; it is also the cluster's internal
    /// credential (forwarding, lease exchange), so it is unlimited by default.
    pub operator: Rate,
    /// Failed authentications from one client address.
    pub auth_failures: Rate,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            per_source: Rate::per_second(1000),
            per_token: Rate::per_second(50),
            operator: Rate::OFF,
            auth_failures: Rate {
                per_sec: 2.0,
                burst: 20.0,
            },
        }
    }
}

/// The `--api-rate-*` flags (0 turns a limit off).
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// API requests per second from one client address (burst: twice as many).
    #[arg(long, env = "BREAKOUT_API_RATE_PER_SOURCE", default_value_t = 1000)]
    pub api_rate_per_source: u32,
    /// API requests per second with one tenant token (burst: twice as many).
    #[arg(long, env = "BREAKOUT_API_RATE_PER_TOKEN", default_value_t = 50)]
    pub api_rate_per_token: u32,
    /// API requests per second with the admin token (default: unlimited; it is also the
    /// cluster's internal credential).
    #[arg(long, env = "BREAKOUT_API_RATE_OPERATOR", default_value_t = 0)]
    pub api_rate_operator: u32,
    /// Failed authentications per second from one client address (burst: ten times as many);
    /// past it, every request with credentials from there gets 429 until the bucket refills.
    #[arg(long, env = "BREAKOUT_API_AUTH_FAILURE_RATE", default_value_t = 2)]
    pub api_auth_failure_rate: u32,
}

impl LimitArgs {
    pub fn config(&self) -> LimitConfig {
        LimitConfig {
            per_source: Rate::per_second(self.api_rate_per_source),
            per_token: Rate::per_second(self.api_rate_per_token),
            operator: Rate::per_second(self.api_rate_operator),
            auth_failures: Rate {
                per_sec: f64::from(self.api_auth_failure_rate),
                burst: f64::from(self.api_auth_failure_rate) * 10.0,
            },
        }
    }
}

/// Who a per-token bucket belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenKey {
    Operator,
    /// A tenant token, by its id.
    Tenant(String),
}

/// The node's limiters.
pub struct RateLimits {
    pub config: LimitConfig,
    sources: Mutex<Buckets<IpAddr>>,
    tokens: Mutex<Buckets<String>>,
    operator: Mutex<Buckets<()>>,
    failures: Mutex<Buckets<IpAddr>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Never held across an await; a bucket map is whole after every update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RateLimits {
    pub fn new(config: LimitConfig) -> Self {
        RateLimits {
            config,
            sources: Mutex::new(Buckets::new(config.per_source)),
            tokens: Mutex::new(Buckets::new(config.per_token)),
            operator: Mutex::new(Buckets::new(config.operator)),
            failures: Mutex::new(Buckets::new(config.auth_failures)),
        }
    }

    pub fn source(&self, ip: IpAddr) -> Result<(), ApiError> {
        lock(&self.sources)
            .take(&ip, Instant::now())
            .map_err(ApiError::RateLimited)
    }

    pub fn token(&self, key: &TokenKey) -> Result<(), ApiError> {
        let now = Instant::now();
        match key {
            TokenKey::Operator => lock(&self.operator).take(&(), now),
            TokenKey::Tenant(id) => lock(&self.tokens).take(id, now),
        }
        .map_err(ApiError::RateLimited)
    }

    /// 429 while `ip`'s failed authentications have used up their bucket.
    pub fn auth_allowed(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        match ip {
            Some(ip) => match lock(&self.failures).wait(&ip, Instant::now()) {
                Some(wait) => Err(ApiError::RateLimited(wait)),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip`.
    pub fn auth_failed(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            let _ = lock(&self.failures).take(&ip, Instant::now());
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(LimitConfig::default())
    }
}

/// The client's address, when the server was started with connect info (the binary is; the
/// in-process test routers are not, and then no per-address limit applies).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Router-wide middleware: the per-address limit, before anything else runs.
pub async fn per_source(State(ctx): State<Arc<ApiContext>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let exempt = matches!(path, "/healthz" | "/readyz" | "/metrics");
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let (false, Some(ip)) = (exempt, ip) {
        if let Err(e) = ctx.limits.source(ip) {
            ctx.metrics
                .observe("rate_limited", req.method(), e.status());
            return e.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let mut b = Buckets::new(Rate {
            per_sec: 10.0,
            burst: 3.0,
        });
        let now = t0();
        for _ in 0..3 {
            assert_eq!(b.take(&"a", now), Ok(()));
        }
        let wait = b.take(&"a", now).expect_err("burst used up");
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert_eq!(b.take(&"a", now + Duration::from_millis(100)), Ok(()));
        assert!(b.take(&"a", now + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn keys_are_independent() {
        let mut b = Buckets::new(Rate {
            per_sec: 1.0,
            burst: 1.0,
        });
        let now = t0();
        assert!(b.take(&"a", now).is_ok());
        assert!(b.take(&"a", now).is_err());
        assert!(b.take(&"b", now).is_ok(), "another key has its own bucket");
    }

    #[test]
    fn off_never_limits_and_keeps_nothing() {
        let mut b = Buckets::new(Rate::OFF);
        for _ in 0..1000 {
            assert!(b.take(&1u32, t0()).is_ok());
        }
        assert!(b.is_empty());
    }

    #[test]
    fn wait_takes_nothing_and_reports_the_time_to_a_token() {
        let mut b = Buckets::new(Rate {
            per_sec: 2.0,
            burst: 2.0,
        });
        let now = t0();
        assert_eq!(b.wait(&"a", now), None, "unknown keys are not limited");
        b.take(&"a", now).expect("1");
        b.take(&"a", now).expect("2");
        let wait = b.wait(&"a", now).expect("empty");
        assert!((wait.as_secs_f64() - 0.5).abs() < 0.01, "{wait:?}");
        assert_eq!(b.wait(&"a", now + Duration::from_millis(500)), None);
    }

    #[test]
    fn the_map_stays_bounded_dropping_idle_buckets_first() {
        let mut b = Buckets::with_max_keys(
            Rate {
                per_sec: 1.0,
                burst: 5.0,
            },
            4,
        );
        let now = t0();
        for k in 0..4u32 {
            b.take(&k, now).expect("first");
        }
        // Key 0 is drained, the others idle long enough to be full again.
        for _ in 0..5 {
            let _ = b.take(&0, now + Duration::from_secs(10));
        }
        b.take(&99, now + Duration::from_secs(10))
            .expect("room made");
        assert!(b.len() <= 4);
        assert!(
            b.wait(&0, now + Duration::from_secs(10)).is_some(),
            "the busy key kept"
        );
    }
}
