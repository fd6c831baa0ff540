//! Where webhook deliveries may go: the destination guard the edges use for `direct` traffic
//! ([`breakout_policy::guard`]), applied to the address actually connected to. A target's name
//! is resolved here, every address is checked, and the HTTP client connects only to those that
//! passed (so a name that resolves to a public address when registered and to an internal one
//! later, DNS rebinding, reaches nothing inside). A URL whose host is an address literal is
//! checked before the request (the client does not resolve those). Loopback, private,
//! link-local, CGNAT and cloud metadata addresses are refused unless the operator allows a
//! range (`--webhook-allow-cidr`); unspecified, multicast, broadcast and reserved ones always.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::guard::{GuardOptions, Prohibited, Purpose};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// What a lookup of a host name gives: its addresses.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static>>;

/// Resolves host names (the system resolver in production; a table in tests).
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The system's resolver (`getaddrinfo` through tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Why a delivery was not attempted. Its `Display` is for the operator's log only (it names
/// the address and its class); the tenant is told [`Blocked::TENANT_MESSAGE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// Every address of the host (or the literal) is one the guard refuses.
    Prohibited {
        host: String,
        addr: IpAddr,
        class: Prohibited,
    },
    /// The name did not resolve (or to nothing).
    Unresolved { host: String, why: String },
}

impl Blocked {
    /// What the tenant's delivery log says: the same for a name that does not resolve and one
    /// that resolves only to refused addresses, so the log tells nothing about the provider's
    /// own names and networks.
    pub const TENANT_MESSAGE: &'static str =
        "not sent: the target's host has no address webhooks may be sent to (public addresses only)";
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocked::Prohibited { host, addr, class } => write!(
                f,
                "{host}: {addr} is a {} (refused for webhooks; --webhook-allow-cidr allows a range)",
                class.describe()
            ),
            Blocked::Unresolved { host, why } => write!(f, "{host}: does not resolve: {why}"),
        }
    }
}

impl std::error::Error for Blocked {}

/// The addresses of `host` a delivery may connect to: those `guard` allows, in the resolver's
/// order; `Err` naming the first refused one if none is left.
pub fn allowed(guard: &GuardOptions, host: &str, addrs: &[IpAddr]) -> Result<Vec<IpAddr>, Blocked> {
    let mut refused = None;
    let mut ok = Vec::new();
    for &ip in addrs {
        match guard.check(ip, Purpose::Destination) {
            Ok(()) => ok.push(ip),
            Err(class) => {
                refused.get_or_insert(Blocked::Prohibited {
                    host: host.to_string(),
                    addr: ip,
                    class,
                });
            }
        }
    }
    match (ok.is_empty(), refused) {
        (false, _) => Ok(ok),
        (true, Some(b)) => Err(b),
        (true, None) => Err(Blocked::Unresolved {
            host: host.to_string(),
            why: "no addresses".into(),
        }),
    }
}

/// Checks a URL whose host is an address literal (`http://127.1/`, `http://[::ffff:a9fe:a9fe]/`
/// parse to one); names are checked when resolved ([`GuardedResolver`]).
pub fn check_literal(guard: &GuardOptions, url: &str) -> Result<(), Blocked> {
    let Ok(url) = Url::parse(url) else {
        return Ok(());
    };
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    allowed(guard, &ip.to_string(), &[ip]).map(|_| ())
}

/// The HTTP client's resolver for webhook targets: looks the name up and hands the client only
/// the addresses the guard allows, which are the ones it connects to.
pub struct GuardedResolver {
    guard: GuardOptions,
    resolver: Arc<dyn Resolver>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let lookup = self.resolver.lookup(&host);
        let guard = self.guard.clone();
        Box::pin(async move {
            let addrs = lookup.await.map_err(|e| Blocked::Unresolved {
                host: host.clone(),
                why: e.to_string(),
            })?;
            let ok = allowed(&guard, &host, &addrs)?;
            // Port 0: the client puts the URL's port in.
            let addrs: Addrs = Box::new(ok.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The delivery client: names resolved by `resolver` and guarded, no proxy, no redirects
/// followed (a delivery goes to the URL the tenant registered, never where an answer points).
pub fn client(
    guard: GuardOptions,
    resolver: Arc<dyn Resolver>,
) -> Result<reqwest::Client, reqwest::Error> {
    crate::http_client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .dns_resolver(Arc::new(GuardedResolver { guard, resolver }))
        .build()
}

/// The [`Blocked`] behind a client error, if the guard (or the lookup) stopped the request.
pub fn blocked(e: &reqwest::Error) -> Option<&Blocked> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(b) = err.downcast_ref::<Blocked>() {
            return Some(b);
        }
        source = err.source();
    }
    None
}
