//! Whole-policy validation: everything that must hold before a policy is stored, sent to edges or
//! compiled. Errors carry a field path such as `tenants[acme].rules[2].lists[0]`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::action::Action;
use crate::error::PolicyError;
use crate::model::{NamedList, RegionPolicy, Tenant, SCHEMA_VERSION};
use crate::pac::{PacError, PacSettings};
use crate::route::ParentProxy;

/// Longest tenant id; ids appear in metric labels, log lines and URLs.
pub const MAX_TENANT_ID: usize = 64;

/// Checks a region policy before it is compiled or stored.
pub fn validate(policy: &RegionPolicy) -> Result<(), PolicyError> {
    if policy.schema != SCHEMA_VERSION {
        return Err(PolicyError::new(
            "schema",
            format!(
                "schema {} is not supported (expected {SCHEMA_VERSION})",
                policy.schema
            ),
        ));
    }
    if policy.region.trim().is_empty() {
        return Err(PolicyError::new("region", "must not be empty"));
    }
    let mut ids = HashSet::new();
    for (i, tenant) in policy.tenants.iter().enumerate() {
        if tenant.id.is_empty() {
            return Err(PolicyError::new(
                format!("tenants[{i}].id"),
                "must not be empty",
            ));
        }
        let at = format!("tenants[{}]", tenant.id);
        if !ids.insert(tenant.id.as_str()) {
            return Err(PolicyError::new(
                format!("{at}.id"),
                format!("tenant id {:?} is used more than once", tenant.id),
            ));
        }
        validate_tenant(tenant, &policy.region, &policy.lists).map_err(|e| e.within(&at))?;
    }
    check_source_overlaps(&policy.tenants)
}

/// Checks one tenant on its own (everything but overlaps with other tenants), resolving list
/// names in the tenant's lists and then `shared`. Field paths are relative to the tenant
/// (`rules[2].ports[0]`); [`validate`] prefixes them with `tenants[<id>]`.
pub fn validate_tenant(
    t: &Tenant,
    region: &str,
    shared: &BTreeMap<String, NamedList>,
) -> Result<(), PolicyError> {
    check_tenant_id(&t.id)?;
    if let Some(r) = &t.region {
        if r != region {
            return Err(PolicyError::new(
                "region",
                format!("tenant is pinned to region {r:?} but this policy is for {region:?}"),
            ));
        }
    }
    if t.source_cidrs.is_empty() {
        return Err(PolicyError::new(
            "source_cidrs",
            "at least one source network is required",
        ));
    }
    for (name, addr) in &t.upstreams {
        ParentProxy::parse(name, addr).map_err(|why| {
            PolicyError::new(format!("upstreams[{name}]"), format!("{addr:?}: {why}"))
        })?;
    }
    check_action(t, &t.default_action, "default_action")?;
    for (i, rule) in t.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        check_action(t, &rule.action, &format!("{at}.action"))?;
        if rule.destinations.is_empty() && rule.lists.is_empty() {
            return Err(PolicyError::new(
                at,
                "a rule needs at least one destination or list",
            ));
        }
        for (j, name) in rule.lists.iter().enumerate() {
            if !t.lists.contains_key(name) && !shared.contains_key(name) {
                return Err(PolicyError::new(
                    format!("{at}.lists[{j}]"),
                    format!(
                        "unknown list {name:?} (neither a list of the tenant nor a shared list)"
                    ),
                ));
            }
        }
        if let Some(j) = rule.ports.iter().position(|&p| p == 0) {
            return Err(PolicyError::new(
                format!("{at}.ports[{j}]"),
                "port must be 1-65535",
            ));
        }
    }
    if let Some(addr) = t.egress_address {
        if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
            return Err(PolicyError::new(
                "egress_address",
                format!("{addr} cannot be a source address (unspecified, multicast or broadcast)"),
            ));
        }
    }
    if let Some(pac) = &t.pac {
        check_pac(t, pac)?;
    }
    Ok(())
}

/// PAC settings (docs/pac.md): the same checks `pac::render` makes. Empty `proxies` are allowed
/// here (each edge fills in its own address), so they are checked with a stand-in.
fn check_pac(t: &Tenant, pac: &PacSettings) -> Result<(), PolicyError> {
    let mut probe = pac.clone();
    if probe.proxies.is_empty() {
        probe.proxies.push("edge.invalid:3128".into());
    }
    if pac.max_bytes == 0 {
        return Err(PolicyError::new("pac.max_bytes", "must be at least 1"));
    }
    let within = |e: PolicyError| e.within("pac");
    match probe.check(t) {
        Ok(()) => {}
        Err(PacError::Settings(e)) | Err(PacError::Policy(e)) => return Err(within(e)),
        Err(e) => return Err(PolicyError::new("pac", e.to_string())),
    }
    crate::pac::check_exceptions(&pac.direct_exceptions).map_err(within)
}

fn check_tenant_id(id: &str) -> Result<(), PolicyError> {
    let why = if id.is_empty() {
        "must not be empty"
    } else if id.len() > MAX_TENANT_ID {
        "must be at most 64 characters"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        "may only contain ASCII letters, digits, '.', '_' and '-'"
    } else {
        return Ok(());
    };
    Err(PolicyError::new("id", format!("tenant id {id:?} {why}")))
}

fn check_action(t: &Tenant, action: &Action, field: &str) -> Result<(), PolicyError> {
    match action {
        Action::Upstream(name) if !t.upstreams.contains_key(name) => Err(PolicyError::new(
            field,
            format!("upstream {name:?} is not defined in the tenant's upstreams"),
        )),
        _ => Ok(()),
    }
}

/// Source networks of different tenants must be disjoint: the source address is how an edge
/// tells tenants apart. CIDRs either nest or are disjoint, so after sorting by (start, widest
/// first) a network overlaps an earlier one exactly when the earlier network reaching furthest
/// contains it; tracking that one network finds any cross-tenant overlap in O(n log n).
fn check_source_overlaps(tenants: &[Arc<Tenant>]) -> Result<(), PolicyError> {
    let mut nets: Vec<_> = tenants
        .iter()
        .flat_map(|t| {
            t.source_cidrs
                .iter()
                .enumerate()
                .map(move |(k, c)| (c.0, &**t, k))
        })
        .collect();
    nets.sort_by_key(|(net, _, _)| (net.network(), net.prefix_len()));
    let mut widest: Option<(ipnet::Ipv4Net, &Tenant)> = None;
    for (net, owner, k) in nets {
        if let Some((outer, outer_owner)) = widest {
            if outer.contains(&net) {
                if outer_owner.id != owner.id {
                    return Err(PolicyError::new(
                        format!("tenants[{}].source_cidrs[{k}]", owner.id),
                        format!(
                            "{net} overlaps {outer} of tenant {:?}; tenants' source networks \
                             must be disjoint",
                            outer_owner.id
                        ),
                    ));
                }
                continue;
            }
        }
        widest = Some((net, owner));
    }
    Ok(())
}
