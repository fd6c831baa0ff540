//! Turning a tenant's rules (inline destinations and named lists) into the lookup tables.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use rustc_hash::FxHashMap;

use super::cidr::CidrTable;
use super::names::{split_pattern, NameTable};
use super::{Cand, CompiledRule, Entry, Matcher};
use crate::canon::{canonical_host, Host};
use crate::destination::Destination;
use crate::error::PolicyError;
use crate::model::{NamedList, Tenant};

/// Accumulates tables while walking the rules in order; insertion order is rule order, which the
/// tables rely on for the "earlier rule wins" tie-break.
#[derive(Default)]
struct Builder {
    names: NameTable,
    cidrs: CidrTable,
    entries: Vec<Entry>,
    list_names: Vec<Box<str>>,
    list_index: FxHashMap<String, u32>,
}

pub(super) fn compile(
    tenant: &Tenant,
    shared: &BTreeMap<String, NamedList>,
) -> Result<Matcher, PolicyError> {
    // Field paths are relative to the tenant, like `validate_tenant`'s; callers prefix them with
    // `tenants[<id>]` (`PolicyError::within`). An entry of a shared list is reported at the
    // rule's reference to the list, the only path inside the tenant that leads to it.
    let mut b = Builder::default();
    b.reserve(tenant, shared);
    let mut rules = Vec::with_capacity(tenant.rules.len());
    for (i, rule) in tenant.rules.iter().enumerate() {
        let r = u32::try_from(i).map_err(|_| PolicyError::new("rules", "more than 2^32 rules"))?;
        let compiled = CompiledRule::new(i, rule);
        let any_port = compiled.ports.is_empty();
        for (k, dest) in rule.destinations.iter().enumerate() {
            b.add(r, any_port, None, dest)
                .map_err(|e| e.within(&format!("rules[{i}].destinations[{k}]")))?;
        }
        for (j, name) in rule.lists.iter().enumerate() {
            let (list, shared_list) = match (tenant.lists.get(name), shared.get(name)) {
                (Some(list), _) => (list, false),
                (None, Some(list)) => (list, true),
                (None, None) => {
                    return Err(PolicyError::new(
                        format!("rules[{i}].lists[{j}]"),
                        format!(
                            "rule {:?} references unknown list {name:?} (neither a list of the \
                             tenant nor a shared list)",
                            compiled.label
                        ),
                    ))
                }
            };
            let l = b.intern_list(name)?;
            for (k, dest) in list.entries.iter().enumerate() {
                b.add(r, any_port, Some(l), dest)
                    .map_err(|e| match shared_list {
                        false => e.within(&format!("lists[{name}].entries[{k}]")),
                        true => PolicyError::new(
                            format!("rules[{i}].lists[{j}]"),
                            format!("shared list {name:?}, entry {k}: {}", e.message),
                        ),
                    })?;
            }
        }
        rules.push(compiled);
    }
    b.names.finish();
    b.cidrs.finish();
    Ok(Matcher {
        default_action: tenant.default_action.clone(),
        rules: rules.into(),
        entries: b.entries.into(),
        list_names: b.list_names.into(),
        names: b.names,
        cidrs: b.cidrs,
    })
}

fn bad(message: impl Into<String>) -> PolicyError {
    PolicyError::new("", message)
}

impl Builder {
    /// Sizes the tables for every destination the rules name, so compiling does not rehash.
    fn reserve(&mut self, tenant: &Tenant, shared: &BTreeMap<String, NamedList>) {
        let listed = |name: &String| {
            tenant
                .lists
                .get(name)
                .or_else(|| shared.get(name))
                .map_or(0, |l| l.entries.len())
        };
        let total: usize = tenant
            .rules
            .iter()
            .map(|r| r.destinations.len() + r.lists.iter().map(listed).sum::<usize>())
            .sum();
        self.names.reserve(total);
        self.entries.reserve(total);
    }

    fn intern_list(&mut self, name: &str) -> Result<u32, PolicyError> {
        if let Some(&l) = self.list_index.get(name) {
            return Ok(l);
        }
        let l = u32::try_from(self.list_names.len()).map_err(|_| bad("more than 2^32 lists"))?;
        self.list_names.push(name.into());
        self.list_index.insert(name.to_string(), l);
        Ok(l)
    }

    /// Adds one destination of rule `rule`. Destinations are re-canonicalised here because the
    /// enum can be built directly, bypassing its parser; for parsed values this is a no-op check.
    fn add(
        &mut self,
        rule: u32,
        any_port: bool,
        list: Option<u32>,
        dest: &Destination,
    ) -> Result<(), PolicyError> {
        let entry = u32::try_from(self.entries.len())
            .ok()
            .filter(|e| *e < super::ANY_PORT)
            .ok_or_else(|| bad("more than 2^31 destinations"))?;
        let cand = Cand::new(rule, entry, any_port);
        let stored = match dest {
            Destination::Exact(host) => {
                match canonical_host(host).map_err(|e| bad(e.to_string()))? {
                    Host::Name(name) => {
                        self.names.insert_exact(&name, cand);
                        Destination::Exact(name.into_owned())
                    }
                    Host::Ipv4(addr) => {
                        let net = Ipv4Net::from(addr);
                        self.cidrs.insert(net, cand);
                        Destination::Cidr(net)
                    }
                    Host::Ipv6(_) => return Err(bad("IPv6 destinations are not supported")),
                }
            }
            Destination::Suffix(parent) => {
                match canonical_host(parent).map_err(|e| bad(e.to_string()))? {
                    Host::Name(name) => {
                        self.names.insert_subdomains(&name, cand);
                        Destination::Suffix(name.into_owned())
                    }
                    _ => return Err(bad("a wildcard needs a domain name after \"*.\"")),
                }
            }
            Destination::Pattern(pattern) => self.add_pattern(pattern, cand)?,
            Destination::Cidr(net) => {
                let net = net.trunc();
                self.cidrs.insert(net, cand);
                Destination::Cidr(net)
            }
        };
        self.entries.push(Entry { list, dest: stored });
        Ok(())
    }

    fn add_pattern(&mut self, pattern: &str, cand: Cand) -> Result<Destination, PolicyError> {
        let lowered = pattern
            .strip_suffix('.')
            .unwrap_or(pattern)
            .to_ascii_lowercase();
        let Some((prefix, anchor)) = split_pattern(&lowered) else {
            if lowered.contains('*') {
                return Err(bad(format!(
                    "pattern {pattern:?}: the last label may not be a wildcard"
                )));
            }
            // No wildcard at all: a plain host.
            return self.add_exact_from_pattern(&lowered, cand);
        };
        if prefix.split('.').any(str::is_empty) {
            return Err(bad(format!("pattern {pattern:?}: empty label")));
        }
        let anchor = match canonical_host(anchor).map_err(|e| bad(e.to_string()))? {
            Host::Name(name) => name,
            _ => {
                return Err(bad(format!(
                    "pattern {pattern:?} must end in a domain name"
                )))
            }
        };
        self.names.insert_pattern(prefix, &anchor, cand);
        Ok(Destination::Pattern(format!("{prefix}.{anchor}")))
    }

    fn add_exact_from_pattern(
        &mut self,
        host: &str,
        cand: Cand,
    ) -> Result<Destination, PolicyError> {
        match canonical_host(host).map_err(|e| bad(e.to_string()))? {
            Host::Name(name) => {
                self.names.insert_exact(&name, cand);
                Ok(Destination::Exact(name.into_owned()))
            }
            _ => Err(bad(format!("pattern {host:?} is not a domain name"))),
        }
    }
}
