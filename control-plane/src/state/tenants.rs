//! Tenant writes and the checks every stored tenant passes: the policy crate's validation, IPv4
//! source networks with no host bits, well-formed lists, and no source network shared with
//! another tenant of the same region (an edge tells tenants apart by source address).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use breakout_policy::pac::PacSettings;
use breakout_policy::validate::validate_tenant;
use breakout_policy::{Action, Rule, SourceCidr, Tenant};
use serde::{Deserialize, Serialize};

use super::input::{check_id, check_text, HOST_PORT_MAX, LABEL_MAX};
use super::model::{sources, Quotas, State, TenantRecord};
use super::step::{check_if_match, commit_with, find, region_of, Apply, LogEntry, Reject, Step};
use super::{contracts, lists};

/// Creates a tenant; `tenant.region` must name an existing region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateTenant {
    pub tenant: Tenant,
}

impl Apply for CreateTenant {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let tenant = &self.tenant;
        let region = match tenant.region.as_deref() {
            None | Some("") => {
                return Err(Reject::invalid(
                    "tenant.region: required: the region the tenant is pinned to (art. 5)",
                ))
            }
            Some(r) => r,
        };
        if !state.regions.contains_key(region) {
            return Err(Reject::invalid(format!(
                "tenant.region: region {region} does not exist; create it first"
            )));
        }
        if state.tenants.contains_key(&tenant.id) {
            return Err(Reject::conflict(format!(
                "tenant {} already exists",
                tenant.id
            )));
        }
        check(state, tenant, region)?;
        let record = Arc::new(TenantRecord {
            tenant: tenant.clone(),
            created_version: entry.index,
            changed_version: entry.index,
            session_cap: None,
            ops_contact: None,
            notify_business_days: false,
            quotas: Default::default(),
        });
        sources::edit(state, &tenant.id, |tenants| {
            tenants.insert(tenant.id.clone(), record)
        });
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("tenant.create", format!("tenant/{}", self.tenant.id))
    }

    fn check_input(&self) -> Step {
        let t = &self.tenant;
        check_id("tenant.id", "tenant id", &t.id)?;
        for name in t.lists.keys() {
            check_id(&format!("tenant.lists[{name}]"), "list name", name)?;
        }
        check_parts("tenant", Some(&t.upstreams), Some(&t.rules), t.pac.as_ref())
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant.id)
    }
}

/// Replaces the fields of a tenant that `patch` names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateTenant {
    pub id: String,
    pub if_match: Option<u64>,
    pub patch: TenantPatch,
}

impl Apply for UpdateTenant {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (id, patch) = (self.id.as_str(), &self.patch);
        let record = find(state, id)?;
        check_if_match(
            &format!("tenant {id}"),
            record.changed_version,
            self.if_match,
        )?;
        if *patch == TenantPatch::default() {
            return Err(Reject::invalid(
                "patch: empty; name at least one field to change",
            ));
        }
        contracts::check_free_limit(state, id, patch.session_limit)?;
        contracts::check_pac_option(state, id, matches!(patch.pac, Some(Some(_))), entry.today)?;
        if let Some(Some(addr)) = &patch.ops_contact {
            check_mailbox(addr)?;
        }
        let mut tenant = record.tenant.clone();
        patch_into(&mut tenant, patch);
        let region = region_of(record);
        check(state, &tenant, &region)?;
        commit_with(state, entry.index, tenant, |record| {
            if let Some(cap) = patch.session_cap {
                record.session_cap = cap;
            }
            if let Some(contact) = &patch.ops_contact {
                record.ops_contact = contact.clone();
            }
            if let Some(held) = patch.notify_business_days {
                record.notify_business_days = held;
            }
            if let Some(quotas) = &patch.quotas {
                record.quotas = quotas.clone().unwrap_or_default();
            }
        });
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("tenant.update", format!("tenant/{}", self.id))
    }

    fn check_input(&self) -> Step {
        let p = &self.patch;
        let pac = p.pac.as_ref().and_then(Option::as_ref);
        check_parts("patch", p.upstreams.as_ref(), p.rules.as_deref(), pac)?;
        if let Some(Some(quotas)) = &p.quotas {
            quotas.check()?;
        }
        Ok(())
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// Deletes a tenant with its contracts, tokens, subscriptions and webhooks; refused while it
/// holds contracts or options (art. 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteTenant {
    pub id: String,
    pub if_match: Option<u64>,
}

impl Apply for DeleteTenant {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let id = self.id.as_str();
        let record = find(state, id)?;
        check_if_match(
            &format!("tenant {id}"),
            record.changed_version,
            self.if_match,
        )?;
        contracts::check_deletable(state, id, entry.today)?;
        sources::edit(state, id, |tenants| tenants.remove(id));
        state.contracts.remove(id);
        let tokens: Vec<String> = state
            .tokens
            .iter()
            .filter(|(_, token)| token.tenant == id)
            .map(|(token, _)| token.clone())
            .collect();
        for token in tokens {
            state.tokens.remove(&token);
        }
        state.subscriptions.remove(id);
        state.webhooks.remove(id);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("tenant.delete", format!("tenant/{}", self.id))
    }
}

/// Fields of a tenant to replace; `None` leaves a field as it is. The region cannot change
/// (art. 5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidrs: Option<Vec<SourceCidr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_limit: Option<u32>,
    /// `Some(None)` clears the egress address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_address: Option<Option<Ipv4Addr>>,
    /// The operator's cap on the contracted session limit ([`TenantRecord::session_cap`]);
    /// `Some(None)` (JSON `null`) removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_cap: Option<Option<u32>>,
    /// PAC settings (art. 10-3, docs/pac.md); `Some(None)` (JSON `null`) removes them. Needs the
    /// `pac` option once the tenant has contracts (art. 6-4).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub pac: Option<Option<PacSettings>>,
    /// The operations contact's e-mail address ([`TenantRecord::ops_contact`]); `Some(None)`
    /// (JSON `null`) removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ops_contact: Option<Option<String>>,
    /// [`TenantRecord::notify_business_days`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_business_days: Option<bool>,
    /// The operator's quota overrides ([`TenantRecord::quotas`]), replacing all of them;
    /// `Some(None)` (JSON `null`) returns every quota to its default.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub quotas: Option<Option<Quotas>>,
}

/// A field that may be absent (`None`: unchanged), `null` (`Some(None)`: removed) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn patch_into(t: &mut Tenant, patch: &TenantPatch) {
    if let Some(v) = &patch.source_cidrs {
        t.source_cidrs = v.clone();
    }
    if let Some(v) = &patch.upstreams {
        t.upstreams = v.clone();
    }
    if let Some(v) = &patch.rules {
        t.rules = v.clone();
    }
    if let Some(v) = &patch.default_action {
        t.default_action = v.clone();
    }
    if let Some(v) = patch.session_limit {
        t.session_limit = v;
    }
    if let Some(v) = patch.egress_address {
        t.egress_address = v;
    }
    if let Some(v) = &patch.pac {
        t.pac = v.clone();
    }
}

/// A client's upstream names (ids: rules name them as `upstream:<name>`) and addresses, rule
/// names and PAC proxies, under `at` (`tenant` or `patch`).
fn check_parts(
    at: &str,
    upstreams: Option<&BTreeMap<String, String>>,
    rules: Option<&[Rule]>,
    pac: Option<&PacSettings>,
) -> Step {
    for (name, addr) in upstreams.into_iter().flatten() {
        let field = format!("{at}.upstreams[{name}]");
        check_id(&field, "upstream name", name)?;
        check_text(&field, addr, HOST_PORT_MAX)?;
    }
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        if let Some(name) = &rule.name {
            check_text(&format!("{at}.rules[{i}].name"), name, LABEL_MAX)?;
        }
    }
    let Some(pac) = pac else { return Ok(()) };
    for (i, proxy) in pac.proxies.iter().enumerate() {
        check_text(&format!("{at}.pac.proxies[{i}]"), proxy, HOST_PORT_MAX)?;
    }
    for (name, proxies) in &pac.upstream_proxies {
        for (i, proxy) in proxies.iter().enumerate() {
            let field = format!("{at}.pac.upstream_proxies[{name}][{i}]");
            check_text(&field, proxy, HOST_PORT_MAX)?;
        }
    }
    Ok(())
}

/// Everything a tenant must satisfy to be stored in `region`. Shared (template) lists do not
/// exist yet, so rules may only name the tenant's own lists.
fn check(state: &mut State, t: &Tenant, region: &str) -> Step {
    validate_tenant(t, region, &BTreeMap::new())
        .map_err(|e| Reject::invalid(e.within("tenant").to_string()))?;
    for (i, cidr) in t.source_cidrs.iter().enumerate() {
        // The model's parser refuses host bits; a tenant built in code has not been parsed.
        if cidr.0.trunc() != cidr.0 {
            return Err(Reject::invalid(format!(
                "tenant.source_cidrs[{i}]: {} has host bits set; did you mean {}?",
                cidr.0,
                cidr.0.trunc()
            )));
        }
    }
    for (name, list) in &t.lists {
        let at = format!("tenant.lists[{name}]");
        lists::check_name(name, &at)?;
        lists::check_entries(list, &format!("{at}.entries"))?;
    }
    check_overlaps(state, t, region)
}

/// Source networks must be disjoint from every other tenant's in the same region.
fn check_overlaps(state: &mut State, t: &Tenant, region: &str) -> Step {
    for (i, mine) in t.source_cidrs.iter().enumerate() {
        if let Some((theirs, other)) = sources::clash(state, region, &t.id, mine) {
            return Err(Reject::conflict(format!(
                "tenant.source_cidrs[{i}]: {mine} overlaps {theirs} of tenant {other} in region \
                 {region}; source networks of a region's tenants must be disjoint"
            )));
        }
    }
    Ok(())
}

/// An e-mail address the SMTP relay will take: `local@domain`, no spaces or angle brackets.
fn check_mailbox(addr: &str) -> Step {
    let bad = |why: &str| Err(Reject::invalid(format!("ops_contact {addr:?}: {why}")));
    if addr.len() > 254 {
        return bad("longer than 254 characters");
    }
    if addr
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
    {
        return bad("spaces, controls, quotes, commas and angle brackets are not allowed");
    }
    match addr.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !local.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => bad("not an address of the form name@example.com"),
    }
}
