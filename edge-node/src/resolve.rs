//! Name resolution for `direct` destinations and parent proxies: static hosts first (like
//! /etc/hosts, from the config), then DNS through hickory-resolver and its cache.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use breakout_policy::Host;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use prometheus::Histogram;

/// Why a name has no address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0} has no address")]
    NotFound(String),
    #[error("resolving {host}: {message}")]
    Failed { host: String, message: String },
    #[error("resolving {0}: no answer within {ms} ms", ms = LOOKUP_DEADLINE.as_millis())]
    TimedOut(String),
}

/// The longest one lookup may take, all servers and retries included: a resolver that never
/// answers must not hold the client (and its session slot) much longer than a slow one.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(5);

pub struct Resolver {
    dns: Option<TokioResolver>,
    duration: Histogram,
}

impl Resolver {
    /// `servers`: `None` uses the system configuration (/etc/resolv.conf); `Some([])` disables
    /// DNS so only static hosts and IP literals resolve.
    pub fn new(servers: Option<&[IpAddr]>, duration: Histogram) -> Resolver {
        let builder = match servers {
            None => match TokioResolver::builder_tokio() {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!(error = %e, "no system DNS configuration; only static hosts resolve");
                    None
                }
            },
            Some([]) => None,
            Some(ips) => {
                let servers = ips
                    .iter()
                    .map(|ip| NameServerConfig::udp_and_tcp(*ip))
                    .collect();
                Some(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    TokioRuntimeProvider::default(),
                ))
            }
        };
        let dns = builder.and_then(|mut b| {
            let opts = b.options_mut();
            opts.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
            opts.cache_size = 4096;
            b.build()
                .map_err(|e| tracing::warn!(error = %e, "DNS resolver unavailable"))
                .ok()
        });
        Resolver { dns, duration }
    }

    /// The addresses of `host`, in preference order.
    pub async fn resolve(
        &self,
        host: &Host<'_>,
        static_hosts: &BTreeMap<String, Ipv4Addr>,
    ) -> Result<Vec<IpAddr>, ResolveError> {
        let name = match host {
            Host::Ipv4(a) => return Ok(vec![IpAddr::V4(*a)]),
            Host::Ipv6(a) => return Ok(vec![IpAddr::V6(*a)]),
            Host::Name(n) => n,
        };
        if let Some(ip) = static_hosts.get(name.as_ref()) {
            return Ok(vec![IpAddr::V4(*ip)]);
        }
        let Some(dns) = &self.dns else {
            return Err(ResolveError::NotFound(name.to_string()));
        };
        let start = Instant::now();
        // A trailing dot makes the name fully qualified: no search-domain queries.
        let result = tokio::time::timeout(LOOKUP_DEADLINE, dns.lookup_ip(format!("{name}."))).await;
        self.duration.observe(start.elapsed().as_secs_f64());
        let Ok(result) = result else {
            return Err(ResolveError::TimedOut(name.to_string()));
        };
        match result {
            Ok(lookup) => {
                let addrs: Vec<IpAddr> = lookup.iter().collect();
                if addrs.is_empty() {
                    Err(ResolveError::NotFound(name.to_string()))
                } else {
                    Ok(addrs)
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                Err(ResolveError::NotFound(name.to_string()))
            }
            Err(e) => Err(ResolveError::Failed {
                host: name.to_string(),
                message: e.to_string(),
            }),
        }
    }
}
