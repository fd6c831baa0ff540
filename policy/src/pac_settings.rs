//! A tenant's PAC settings (data the model carries), and the mapping from a matcher [`Action`]
//! to what the PAC returns. Checking them against their tenant and rendering are `pac`'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::action::Action;
use crate::destination::Destination;

/// The PAC result for destinations the browser should reach without a proxy.
pub const DIRECT: &str = "DIRECT";

/// Default size budget: browsers refuse PAC files near 1 MB; half of that leaves room.
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024;

/// How one tenant's PAC file is built. Serde (JSON/TOML); every field has a default, but
/// [`proxies`](Self::proxies) must be filled in before [`crate::pac::render`] accepts the
/// settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacSettings {
    /// The region's Breakout edges, `host:port`, in fallback order: rendered as
    /// `PROXY a:3128; PROXY b:3128`. There is deliberately no trailing `DIRECT`: a browser that
    /// cannot reach any edge must not bypass the tenant's policy.
    pub proxies: Vec<String>,
    /// Tenant upstream name → the proxies (`host:port`, one or a list) the *browser* should use
    /// for destinations whose action is `upstream:<name>`, typically the tenant's own proxy.
    /// An upstream not listed here is reached through the Breakout edge, which chains to it
    /// itself (the default: the edge keeps the decision, logs it and needs nothing from the
    /// browser's network).
    #[serde(deserialize_with = "one_or_many")]
    pub upstream_proxies: BTreeMap<String, Vec<String>>,
    /// Local exceptions (internal domains, internal networks) that the PAC sends `DIRECT` before
    /// any rule is looked at. Same syntax as rule destinations: `corp.example` (that host),
    /// `*.corp.example` (its subdomains), patterns, and IPv4 CIDRs (IP-literal hosts).
    pub direct_exceptions: Vec<Destination>,
    /// Host names without a dot (`intranet`, `localhost`) go `DIRECT`.
    pub plain_hostnames_direct: bool,
    /// IP-literal hosts in private, loopback and link-local ranges (10/8, 172.16/12,
    /// 192.168/16, 127/8, 169.254/16, `::1`, fc00::/7, fe80::/10) go `DIRECT`. A check on the
    /// literal only: no DNS.
    pub private_ranges_direct: bool,
    /// When true, a host name that no name rule (and no name exception) matches is resolved
    /// once with `dnsResolve`, and the address goes through the private ranges, the CIDR
    /// exceptions and the CIDR rules. Off by default: the edge matches names only against name
    /// rules, and DNS in a PAC is slow. With it on, the PAC can differ from the edge on purpose.
    pub ip_rules: bool,
    /// Size budget in bytes; a larger PAC is [`crate::pac::PacError::TooLarge`].
    pub max_bytes: usize,
    /// The configuration version stamped into the header; set by the caller from the store's
    /// version (`RegionPolicy::version`), never stored with the settings.
    #[serde(skip)]
    pub policy_version: u64,
}

impl Default for PacSettings {
    fn default() -> Self {
        PacSettings {
            proxies: Vec::new(),
            upstream_proxies: BTreeMap::new(),
            direct_exceptions: Vec::new(),
            plain_hostnames_direct: true,
            private_ranges_direct: true,
            ip_rules: false,
            max_bytes: DEFAULT_MAX_BYTES,
            policy_version: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let map = BTreeMap::<String, OneOrMany>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(name, v)| match v {
            OneOrMany::One(p) => (name, vec![p]),
            OneOrMany::Many(ps) => (name, ps),
        })
        .collect())
}

impl PacSettings {
    /// Settings that send everything the edge handles to `proxies`.
    pub fn with_proxies<S: Into<String>>(proxies: impl IntoIterator<Item = S>) -> Self {
        PacSettings {
            proxies: proxies.into_iter().map(Into::into).collect(),
            ..PacSettings::default()
        }
    }

    /// The edge fallback chain, `PROXY a; PROXY b`.
    pub fn edge_result(&self) -> String {
        proxy_chain(&self.proxies)
    }

    /// What the PAC returns for a destination the edge decides with `action` (see docs/pac.md):
    ///
    /// | action | PAC result |
    /// |---|---|
    /// | `direct` | the edge chain (the edge breaks the traffic out locally) |
    /// | `upstream:<name>`, `<name>` in `upstream_proxies` | `PROXY` chain of those proxies |
    /// | `upstream:<name>`, not in `upstream_proxies` | the edge chain (the edge chains to it) |
    /// | `block` | the edge chain (the edge answers 403 and logs it) |
    pub fn result_for(&self, action: &Action) -> String {
        match action {
            Action::Upstream(name) => match self.upstream_proxies.get(name) {
                Some(proxies) => proxy_chain(proxies),
                None => self.edge_result(),
            },
            Action::Direct | Action::Block => self.edge_result(),
        }
    }
}

fn proxy_chain(proxies: &[String]) -> String {
    proxies
        .iter()
        .map(|p| format!("PROXY {p}"))
        .collect::<Vec<_>>()
        .join("; ")
}
