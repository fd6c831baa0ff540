//! Proxy auto-config (PAC) files generated from a tenant's policy.
//!
//! [`render`] turns a tenant (its rules, lists and default action) plus its [`PacSettings`] into
//! a PAC file whose `FindProxyForURL` returns, for every URL, what the edge's own
//! [`Matcher`](crate::Matcher) decides for the same host and port, translated by
//! [`PacSettings::result_for`]: destinations the edge handles (`direct`, `block`, upstreams the
//! browser is not told about) go to the region's edges, upstreams mapped in the settings go to
//! those proxies, and local exceptions go `DIRECT`. [`Oracle`] computes that expected answer
//! from `Matcher::decide`; `policy/tests/pac_*.rs` compare it with what a real PAC engine
//! (pacparser) returns for the generated file. docs/pac.md is the contract.
//!
//! Shape of the file: a header comment, the tables as JS data (one object keyed by domain name
//! whose values hold the exact, `*.name` and pattern candidates of that name; IPv4 networks
//! flattened into sorted address ranges), then a fixed lookup (`runtime.js`) that walks the
//! host's labels like the matcher does, or binary-searches the ranges for an IPv4 literal.
//! Deterministic: the same input gives the same bytes.

pub mod diff;
mod js;
mod oracle;
mod settings;
mod tables;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::PolicyError;
use crate::matcher::Matcher;
use crate::model::{NamedList, Tenant};

pub use crate::pac_settings::{PacSettings, DEFAULT_MAX_BYTES, DIRECT};
pub use oracle::Oracle;

use js::{Flags, Interner, RuleOut};
use tables::{tenant_destinations, Tables};

/// Why a PAC could not be generated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacError {
    /// The tenant's rules do not compile (the same error `Matcher::compile` gives).
    #[error("tenant policy: {0}")]
    Policy(PolicyError),
    /// The PAC settings are invalid; `field` is relative to the settings.
    #[error("PAC settings: {0}")]
    Settings(PolicyError),
    /// The generated file is over the size budget.
    #[error(
        "the PAC file would be {size} bytes, over the budget of {max} bytes (max_bytes); \
         browsers refuse PAC files near 1 MB: move entries to fewer, broader destinations"
    )]
    TooLarge { size: usize, max: usize },
}

impl PacError {
    fn settings(field: impl Into<String>, message: impl Into<String>) -> Self {
        PacError::Settings(PolicyError::new(field, message))
    }
}

/// A generated PAC file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pac {
    /// The file (`application/x-ns-proxy-autoconfig`), ASCII.
    pub text: String,
    pub tenant: String,
    pub policy_version: u64,
    /// SHA-256 (hex) of everything after the header comment; also written in the header. Equal
    /// for two versions whose routing is the same.
    pub body_sha256: String,
    /// SHA-256 (hex) of the whole text: a strong ETag.
    pub sha256: String,
    pub stats: PacStats,
}

/// Sizes of what went into a PAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PacStats {
    pub bytes: usize,
    /// Keys of the exact-host table (rules only, not exceptions).
    pub exact: usize,
    pub suffixes: usize,
    /// Patterns (after de-duplication) and the anchors they hang from.
    pub patterns: usize,
    pub anchors: usize,
    pub networks: usize,
    pub exceptions: usize,
    /// Distinct results (`PROXY …` chains and `DIRECT`).
    pub results: usize,
}

/// Renders `tenant`'s PAC file. List names resolve as in [`Matcher::compile`] (the tenant's own
/// lists, then `shared`). Errors: the tenant does not compile, the settings are invalid (no
/// edge proxy, an unknown upstream, a malformed `host:port` or exception), or the result is
/// over `settings.max_bytes`.
pub fn render(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
    settings: &PacSettings,
) -> Result<Pac, PacError> {
    settings.check(tenant)?;
    // The same validation (and the same error) as the edge gets for this tenant.
    Matcher::compile(tenant, shared).map_err(PacError::Policy)?;
    let rules = Tables::build(tenant_destinations(tenant, shared)).map_err(PacError::Policy)?;
    let except = Tables::build(settings.direct_exceptions.iter().map(|d| (0, d)))
        .map_err(|e| PacError::Settings(e.within("direct_exceptions")))?;

    let mut interner = Interner::default();
    let rule_outs: Vec<RuleOut> = tenant
        .rules
        .iter()
        .map(|r| {
            let ports = interner.ports(&r.ports);
            (ports, interner.result(&settings.result_for(&r.action)))
        })
        .collect();
    let default = interner.result(&settings.result_for(&tenant.default_action));
    let except_outs: Vec<RuleOut> = match settings.direct_exceptions.is_empty() {
        true => Vec::new(),
        false => vec![(None, interner.result(DIRECT))],
    };
    let flags = Flags {
        plain_direct: settings.plain_hostnames_direct,
        private_direct: settings.private_ranges_direct,
        ip_rules: settings.ip_rules,
    };
    let body = js::body(
        &interner,
        default,
        &flags,
        &except,
        &except_outs,
        &rules,
        &rule_outs,
    );
    let body_sha256 = hex_sha256(&body);
    let text = format!(
        "// Breakout proxy auto-config for tenant {}, policy version {}.\n\
         // Content sha256:{body_sha256} (everything below this header).\n\
         // Generated by breakout-policy from the tenant's configuration: do not edit (docs/pac.md).\n\n\
         {body}",
        js::string(&tenant.id),
        settings.policy_version,
    );
    if text.len() > settings.max_bytes {
        return Err(PacError::TooLarge {
            size: text.len(),
            max: settings.max_bytes,
        });
    }
    let stats = PacStats {
        bytes: text.len(),
        exact: rules.exact.len(),
        suffixes: rules.suffix.len(),
        patterns: rules.patterns.values().map(Vec::len).sum(),
        anchors: rules.patterns.len(),
        networks: rules.cidrs.values().map(BTreeMap::len).sum(),
        exceptions: settings.direct_exceptions.len(),
        results: interner.results.len(),
    };
    Ok(Pac {
        sha256: hex_sha256(&text),
        text,
        tenant: tenant.id.clone(),
        policy_version: settings.policy_version,
        body_sha256,
        stats,
    })
}

/// The tenant's PAC as an edge serves it: the tenant's own settings ([`Tenant::pac`]) stamped
/// with the configuration `version`, and, when they name no proxies, `edge` (the edge's own
/// `host:port`) as the only proxy. `None` when the tenant has no PAC settings. `breakoutctl pac
/// show` makes the same call, so its preview is what the edges serve.
pub fn render_for_edge(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
    version: u64,
    edge: &str,
) -> Option<Result<Pac, PacError>> {
    let mut settings = tenant.pac.clone()?;
    settings.policy_version = version;
    if settings.proxies.is_empty() {
        settings.proxies.push(edge.to_string());
    }
    Some(render(tenant, shared, &settings))
}

/// Checks `direct_exceptions` as [`render`] would (overlapping or malformed entries), with field
/// paths under `direct_exceptions`.
pub fn check_exceptions(exceptions: &[crate::destination::Destination]) -> Result<(), PolicyError> {
    Tables::build(exceptions.iter().map(|d| (0, d)))
        .map(drop)
        .map_err(|e| e.within("direct_exceptions"))
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
