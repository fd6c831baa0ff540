//! Name resolution for every HTTP client of the control plane, through hickory-resolver
//! (/etc/hosts, then the DNS servers of /etc/resolv.conf) instead of glibc's `getaddrinfo`.
//!
//! The container image holds static binaries on an empty base: glibc's NSS cannot load there,
//! so `getaddrinfo` fails for every name, even `localhost`. Peers in Kubernetes are addressed by
//! DNS names (the headless Service's `pod.service.namespace.svc…`), so the control plane must
//! resolve without libc. With no /etc/resolv.conf only /etc/hosts and IP literals resolve: this
//! never falls back to a public DNS server.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_resolver::config::{LookupIpStrategy, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A reqwest resolver over hickory, built on first use (inside the client's runtime).
#[derive(Default)]
pub struct HickoryResolver {
    resolver: OnceLock<Result<TokioResolver, String>>,
}

impl HickoryResolver {
    pub fn new() -> Arc<HickoryResolver> {
        Arc::new(HickoryResolver::default())
    }

    fn get(&self) -> Result<&TokioResolver, String> {
        self.resolver
            .get_or_init(build)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The system's configuration, or hosts-only when there is none.
fn build() -> Result<TokioResolver, String> {
    let mut builder = match TokioResolver::builder_tokio() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "no DNS configuration (/etc/resolv.conf): only /etc/hosts and IP addresses resolve");
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(Vec::new()),
                TokioRuntimeProvider::default(),
            )
        }
    };
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    builder.build().map_err(|e| e.to_string())
}

impl Resolve for HickoryResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.get().cloned();
        Box::pin(async move {
            let resolver = resolver.map_err(|e| format!("DNS resolver unavailable: {e}"))?;
            let lookup = resolver.lookup_ip(name.as_str()).await?;
            let addrs: Vec<SocketAddr> = lookup.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_resolves_without_libc() {
        // /etc/hosts names localhost on every machine this runs on.
        let r = HickoryResolver::new();
        let name: Name = "localhost".parse().expect("name");
        let addrs: Vec<SocketAddr> = r.resolve(name).await.expect("resolved").collect();
        assert!(
            addrs.iter().any(|a| a.ip().is_loopback()),
            "localhost resolved to {addrs:?}"
        );
    }
}
