//! The tenant policy model: what the control plane stores and sends to the edges of a region,
//! and what a standalone edge reads from its config file. Serde types, versioned by
//! [`SCHEMA_VERSION`]; [`crate::validate`] checks a whole [`RegionPolicy`] before anyone uses it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::destination::Destination;
use crate::error::PolicyError;
use crate::pac_settings::PacSettings;

/// Version of the wire/config schema below. Bumped on any incompatible change; an edge refuses a
/// policy whose schema it does not know.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything an edge of one region needs: the tenants pinned to the region and the shared
/// (template or operator) lists they may reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPolicy {
    #[serde(default = "schema_version")]
    pub schema: u32,
    /// Monotonic configuration version (the store's applied index; 0 for a standalone file).
    #[serde(default)]
    pub version: u64,
    pub region: String,
    /// Shared (`Arc`): a control plane building one version after another keeps each tenant
    /// that did not change, and an edge applying a delta keeps the tenants it does not name,
    /// instead of copying them (a region can hold hundreds of thousands of list entries).
    #[serde(default)]
    pub tenants: Vec<Arc<Tenant>>,
    /// Lists shared by all tenants of the region (template lists, operator lists).
    #[serde(default)]
    pub lists: BTreeMap<String, NamedList>,
    /// Source networks of tenants contracted in *other* regions (art. 5): their traffic arriving
    /// here is refused with a reason naming their region instead of "unknown source".
    ///
    /// Shared: at fleet scale this is most of a region's content (every other region's
    /// tenants), and it changes far less often than the tenants; a control plane building one
    /// version after another, and a delta applied on top of an old policy, keep the same list
    /// instead of copying it. The JSON is the list itself.
    #[serde(default, skip_serializing_if = "no_foreign_sources")]
    pub foreign_sources: Arc<Vec<ForeignSources>>,
    /// Source networks of tenants pinned to *this* region that are not in service (art. 6-1:
    /// their contracts do not give them the service today): their traffic is refused with a
    /// reason saying so instead of "unknown source".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_service: Vec<OutOfService>,
}

/// A tenant of another region and its registered source networks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignSources {
    pub region: String,
    pub tenant: String,
    pub cidrs: Vec<SourceCidr>,
}

/// A tenant of this region that edges do not serve, why (starting with its article), and its
/// registered source networks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutOfService {
    pub tenant: String,
    pub reason: String,
    pub cidrs: Vec<SourceCidr>,
}

fn no_foreign_sources(f: &Arc<Vec<ForeignSources>>) -> bool {
    f.is_empty()
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// A tenant (parent contract, art. 1) as its edges see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    /// The region the tenant is pinned to (art. 5). Optional in a standalone edge file, where the
    /// edge's own region applies; when present it must equal the policy's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Registered source addresses (art. 8: IPv4 only). Traffic from anywhere else is refused.
    pub source_cidrs: Vec<SourceCidr>,
    /// Concurrent sessions (accepted client connections) the tenant may hold.
    pub session_limit: u32,
    /// Parent proxies by name, each `host:port`.
    #[serde(default)]
    pub upstreams: BTreeMap<String, String>,
    /// Ordered rules; see [`crate::matcher`] for how overlapping rules are decided.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What happens to a destination no rule matches.
    #[serde(default = "default_action")]
    pub default_action: Action,
    /// The tenant's own named (manual) lists, referenced from rules by name.
    #[serde(default)]
    pub lists: BTreeMap<String, NamedList>,
    /// Source address the edge binds for this tenant's `direct` connections, so the tenant can
    /// allowlist its traffic at the SaaS (e.g. Microsoft 365 conditional access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_address: Option<Ipv4Addr>,
    /// PAC option (art. 10-3): how the tenant's PAC file is built (docs/pac.md). Edges render
    /// and serve it at `GET /pac/{tenant}.pac`; empty `proxies` means the edge's own address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pac: Option<PacSettings>,
}

fn default_action() -> Action {
    Action::Block
}

/// One rule: destinations (inline and from named lists), an action, optionally only on some ports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A label for logs and `explain`; defaults to `rules[<index>]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: Action,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// Names of lists (the tenant's own first, then the region's shared lists).
    #[serde(default)]
    pub lists: Vec<String>,
    /// Destination ports the rule applies to; empty means every port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

/// A named list of destinations (a manual list, the access-control blocklist, or a template's
/// compiled output).
///
/// The entries are shared: a template's compiled list goes into every subscribed tenant (tens of
/// thousands at fleet scale), so a copy is a pointer and two copies compare by address first
/// (`Arc`'s `PartialEq` for `Eq` contents). Change them with `Arc::make_mut`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ListRepr", into = "ListRepr")]
pub struct NamedList {
    pub entries: Arc<Vec<Destination>>,
}

impl NamedList {
    pub fn new(entries: Vec<Destination>) -> Self {
        NamedList {
            entries: Arc::new(entries),
        }
    }
}

/// A list is written either as a bare array or as a table with `entries` (room for metadata).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ListRepr {
    Bare(Arc<Vec<Destination>>),
    Table { entries: Arc<Vec<Destination>> },
}

impl From<ListRepr> for NamedList {
    fn from(r: ListRepr) -> Self {
        match r {
            ListRepr::Bare(entries) | ListRepr::Table { entries } => NamedList { entries },
        }
    }
}

impl From<NamedList> for ListRepr {
    fn from(l: NamedList) -> Self {
        ListRepr::Table { entries: l.entries }
    }
}

/// A registered source network: IPv4 only (art. 8), host bits must be zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceCidr(pub Ipv4Net);

impl FromStr for SourceCidr {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.contains(':') {
            return Err(PolicyError::new(
                "",
                format!("{s:?} is IPv6; only IPv4 source addresses can be registered (art. 8)"),
            ));
        }
        let net = if s.contains('/') {
            s.parse::<Ipv4Net>().map_err(|_| {
                PolicyError::new("", format!("{s:?} is not an IPv4 CIDR (a.b.c.d/len)"))
            })?
        } else {
            let addr = s.parse::<Ipv4Addr>().map_err(|_| {
                PolicyError::new("", format!("{s:?} is not an IPv4 address or CIDR"))
            })?;
            Ipv4Net::from(addr)
        };
        if net.trunc() != net {
            return Err(PolicyError::new(
                "",
                format!("{s:?} has host bits set; did you mean {}?", net.trunc()),
            ));
        }
        Ok(SourceCidr(net))
    }
}

impl TryFrom<String> for SourceCidr {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SourceCidr> for String {
    fn from(c: SourceCidr) -> String {
        c.0.to_string()
    }
}

impl fmt::Display for SourceCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
