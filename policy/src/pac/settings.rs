//! PAC settings checked against the tenant they are for.

use crate::canon::{canonical_host, Host};
use crate::model::Tenant;
use crate::pac_settings::PacSettings;

use super::PacError;

impl PacSettings {
    /// Checks the settings against the tenant they are for.
    pub fn check(&self, tenant: &Tenant) -> Result<(), PacError> {
        if self.proxies.is_empty() {
            return Err(PacError::settings(
                "proxies",
                "at least one edge proxy (host:port) is required",
            ));
        }
        for (i, p) in self.proxies.iter().enumerate() {
            check_proxy(p).map_err(|why| PacError::settings(format!("proxies[{i}]"), why))?;
        }
        for (name, proxies) in &self.upstream_proxies {
            let at = format!("upstream_proxies[{name}]");
            if !tenant.upstreams.contains_key(name) {
                return Err(PacError::settings(
                    at,
                    format!(
                        "tenant {:?} has no upstream {name:?} (known: {})",
                        tenant.id,
                        known(tenant)
                    ),
                ));
            }
            if proxies.is_empty() {
                return Err(PacError::settings(at, "needs at least one host:port"));
            }
            for (i, p) in proxies.iter().enumerate() {
                check_proxy(p).map_err(|why| PacError::settings(format!("{at}[{i}]"), why))?;
            }
        }
        Ok(())
    }
}

fn known(tenant: &Tenant) -> String {
    match tenant
        .upstreams
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
    {
        names if names.is_empty() => "none".into(),
        names => names.join(", "),
    }
}

/// `host:port` (name, IPv4 or `[IPv6]`, port 1-65535), already canonical: it is written into
/// the PAC verbatim, so nothing that could break out of a JS string or a PAC result gets in.
fn check_proxy(addr: &str) -> Result<(), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("{addr:?}: expected host:port"))?;
    match port.parse::<u16>() {
        Ok(p) if p != 0 && !port.starts_with('0') => {}
        _ => return Err(format!("{addr:?}: port {port:?} is not in 1-65535")),
    }
    let canonical = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok() && !v6.contains('%'),
        None => match canonical_host(host) {
            // The URL parser lets `"` and `;` through; neither belongs in a PAC result.
            Ok(Host::Name(n)) => {
                n == host
                    && host.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b)
                    })
            }
            Ok(Host::Ipv4(a)) => a.to_string() == host,
            _ => false,
        },
    };
    if !canonical {
        return Err(format!(
            "{addr:?}: {host:?} is not a canonical host name (lowercase ASCII, no trailing \
             dot), a dotted-quad IPv4 address or a bracketed IPv6 address"
        ));
    }
    Ok(())
}
