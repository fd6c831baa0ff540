//! Lists that many tenants of a region hold with the same content, sent once (pure).
//!
//! A template subscription compiles into lists of the tenant's own (`template-<item>`,
//! `template-<item>-shadowed`, [`crate::templates::select`]): with most tenants of a region
//! subscribed to Microsoft 365 the same way, a region's policy held the same few hundred
//! entries once per tenant, and a template change changed every one of those tenants (a delta
//! as large as the snapshot). [`share_lists`] moves the most common content of each such list
//! name into the region's shared `lists`, under the same name, and drops it from the tenants
//! that held exactly that; tenants with another content keep theirs.
//!
//! Why the meaning is unchanged: every reader of a policy (the edge's matcher, its PAC file,
//! the exports, `validate`) looks a rule's list up in the tenant's own lists first and only
//! then in the shared ones; a tenant that kept its own content still finds it first, and one
//! whose copy was dropped finds the same entries in the shared list. A name is not shared if
//! some tenant names it in a rule without holding it (that tenant would otherwise start
//! finding a list it did not have), or if the region already has a shared list of that name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use breakout_policy::earlier::Earlier;
use breakout_policy::{NamedList, RegionPolicy, Tenant};

/// Prefix of the lists a template subscription compiles to (`select::list_name`).
pub const TEMPLATE_LIST_PREFIX: &str = "template-";

/// How many different contents of one list name are told apart; beyond that, the others are
/// left with their tenants.
const MAX_VARIANTS: usize = 8;

/// Moves the most common content of each template list name held by two or more tenants into
/// `policy.lists` (see the module documentation).
pub fn share_lists(policy: &mut RegionPolicy) {
    let (tenants, shared) = shared_copy(&policy.tenants, &policy.lists, None);
    policy.tenants = tenants;
    policy.lists.extend(shared);
}

/// What a region's previous build from parts made: the served tenants it was made from, each
/// tenant as it went into the policy (same order), and the shared lists. The `held` lists of
/// that build were the same as this one's.
pub struct Before<'a> {
    pub served: &'a [Arc<Tenant>],
    pub made: &'a [Arc<Tenant>],
    pub lists: &'a BTreeMap<String, NamedList>,
}

/// The tenants of a region as [`share_lists`] leaves them, and the lists it shares (none under a
/// name in `held`, the region's shared lists already). A tenant that holds none of the shared
/// content goes in as it was served (the same `Arc`); one that does is copied without those
/// lists, at fleet scale most of what a build allocates.
///
/// With `before`: when no tenant's use of template lists changed, the shared lists are the
/// previous build's, not found again (a walk of every tenant's lists and rules, most of a
/// one-tenant write's build at 5,000 tenants a region); and when the shared lists are the same,
/// a tenant served unchanged since (the same `Arc`) goes in as the previous build made it: a
/// one-tenant write copies one tenant, and the next measure and delta compare the rest by
/// address.
pub fn shared_copy(
    tenants: &[Arc<Tenant>],
    held: &BTreeMap<String, NamedList>,
    before: Option<Before<'_>>,
) -> (Vec<Arc<Tenant>>, BTreeMap<String, NamedList>) {
    let lists: BTreeMap<String, NamedList> = match &before {
        Some(b) if same_template_use(b.served, tenants) => b.lists.clone(),
        _ => commons(tenants, held)
            .into_iter()
            .map(|(name, list)| (name, list.clone()))
            .collect(),
    };
    let made = Earlier::of(
        before
            .filter(|b| *b.lists == lists)
            .map(|b| (b.served, b.made)),
        tenants.len(),
    );
    let copies = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(m) = made.get(i, t) {
                return Arc::clone(m);
            }
            if !t
                .lists
                .iter()
                .any(|(name, list)| lists.get(name) == Some(list))
            {
                return Arc::clone(t);
            }
            Arc::new(without(t, &lists))
        })
        .collect();
    (copies, lists)
}

/// Whether [`commons`] would find for `tenants` what it found for `served`: as many tenants,
/// each the same `Arc` at the same place or one that holds the same template lists and names
/// the same template lists in its rules (all that [`commons`] reads).
fn same_template_use(served: &[Arc<Tenant>], tenants: &[Arc<Tenant>]) -> bool {
    served.len() == tenants.len()
        && served.iter().zip(tenants).all(|(old, new)| {
            Arc::ptr_eq(old, new)
                || (template_lists(old).eq(template_lists(new))
                    && template_refs(old) == template_refs(new))
        })
}

fn template_lists(t: &Tenant) -> impl Iterator<Item = (&String, &NamedList)> {
    t.lists
        .iter()
        .filter(|(name, _)| name.starts_with(TEMPLATE_LIST_PREFIX))
}

fn template_refs(t: &Tenant) -> BTreeSet<&str> {
    t.rules
        .iter()
        .flat_map(|r| r.lists.iter())
        .filter(|name| name.starts_with(TEMPLATE_LIST_PREFIX))
        .map(String::as_str)
        .collect()
}

/// `t` without the lists `common` has with the same content.
fn without(t: &Tenant, common: &BTreeMap<String, NamedList>) -> Tenant {
    let Tenant {
        id,
        region,
        source_cidrs,
        session_limit,
        upstreams,
        rules,
        default_action,
        lists,
        egress_address,
        pac,
    } = t;
    Tenant {
        id: id.clone(),
        region: region.clone(),
        source_cidrs: source_cidrs.clone(),
        session_limit: *session_limit,
        upstreams: upstreams.clone(),
        rules: rules.clone(),
        default_action: default_action.clone(),
        lists: lists
            .iter()
            .filter(|(name, list)| common.get(*name) != Some(*list))
            .map(|(name, list)| (name.clone(), list.clone()))
            .collect(),
        egress_address: *egress_address,
        pac: pac.clone(),
    }
}

/// Per template list name held by two or more of `tenants` alike, the content to share; none
/// for a name already in `held` or that a tenant names without holding it.
fn commons<'a>(
    tenants: &'a [Arc<Tenant>],
    held: &BTreeMap<String, NamedList>,
) -> BTreeMap<String, &'a NamedList> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for t in tenants {
        names.extend(
            t.lists
                .keys()
                .filter(|n| n.starts_with(TEMPLATE_LIST_PREFIX))
                .map(String::as_str),
        );
    }
    names
        .into_iter()
        .filter(|name| !held.contains_key(*name) && !referenced_without_holding(tenants, name))
        .filter_map(|name| Some((name.to_string(), most_common(tenants, name)?)))
        .collect()
}

fn referenced_without_holding(tenants: &[Arc<Tenant>], name: &str) -> bool {
    tenants.iter().any(|t| {
        !t.lists.contains_key(name) && t.rules.iter().any(|r| r.lists.iter().any(|l| l == name))
    })
}

/// The content of list `name` that most tenants hold, if at least two hold it.
fn most_common<'a>(tenants: &'a [Arc<Tenant>], name: &str) -> Option<&'a NamedList> {
    let mut variants: Vec<(&NamedList, usize)> = Vec::new();
    for list in tenants.iter().filter_map(|t| t.lists.get(name)) {
        if let Some((_, n)) = variants.iter_mut().find(|(v, _)| *v == list) {
            *n += 1;
        } else if variants.len() < MAX_VARIANTS {
            variants.push((list, 1));
        }
    }
    let (list, n) = variants.into_iter().max_by_key(|(_, n)| *n)?;
    (n >= 2).then_some(list)
}

/// The lists each tenant resolves its rules' names to (own first, then shared): what
/// [`share_lists`] must leave unchanged. For tests.
pub fn resolved(policy: &RegionPolicy) -> BTreeMap<(String, String), Option<NamedList>> {
    let mut out = BTreeMap::new();
    for t in &policy.tenants {
        for name in t.rules.iter().flat_map(|r| r.lists.iter()) {
            let list = t.lists.get(name).or_else(|| policy.lists.get(name));
            out.insert((t.id.clone(), name.clone()), list.cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use breakout_policy::{Action, Rule, Tenant};

    use super::*;

    fn list(entries: &[&str]) -> NamedList {
        NamedList::new(entries.iter().map(|e| e.parse().expect("entry")).collect())
    }

    fn tenant(id: &str, lists: &[(&str, NamedList)], refs: &[&str]) -> Arc<Tenant> {
        Arc::new(Tenant {
            id: id.into(),
            region: Some("tokyo".into()),
            // One /32 of its own per tenant (validation wants a source, and no overlaps).
            source_cidrs: vec![format!("10.0.0.{}/32", id.as_bytes()[0])
                .parse()
                .expect("cidr")],
            session_limit: 1,
            upstreams: BTreeMap::new(),
            rules: vec![Rule {
                name: None,
                action: Action::Direct,
                destinations: Vec::new(),
                lists: refs.iter().map(|r| r.to_string()).collect(),
                ports: Vec::new(),
            }],
            default_action: Action::Block,
            lists: lists
                .iter()
                .map(|(n, l)| (n.to_string(), l.clone()))
                .collect(),
            egress_address: None,
            pac: None,
        })
    }

    const M: &str = "template-microsoft365";

    #[test]
    fn the_common_content_goes_once_and_every_tenant_resolves_the_same_entries() {
        let common = list(&["*.outlook.com", "teams.microsoft.com"]);
        let other = list(&["*.outlook.com"]);
        let own = list(&["intranet.example"]);
        let mut p = RegionPolicy {
            region: "tokyo".into(),
            tenants: vec![
                tenant("a", &[(M, common.clone())], &[M]),
                tenant(
                    "b",
                    &[(M, common.clone()), ("mine", own.clone())],
                    &[M, "mine"],
                ),
                tenant("c", &[(M, other.clone())], &[M]),
                tenant("d", &[("mine", own.clone())], &["mine"]),
                tenant("e", &[(M, common.clone())], &[M]),
            ],
            ..RegionPolicy::default()
        };
        let before = resolved(&p);
        share_lists(&mut p);
        assert_eq!(resolved(&p), before);
        assert_eq!(p.lists.get(M), Some(&common));
        let held: Vec<bool> = p.tenants.iter().map(|t| t.lists.contains_key(M)).collect();
        assert_eq!(held, [false, false, true, false, false]);
        assert_eq!(
            p.tenants[2].lists[M], other,
            "another content stays the tenant's"
        );
        assert_eq!(p.tenants[1].lists["mine"], own, "own lists are never moved");
        p.schema = breakout_policy::SCHEMA_VERSION;
        breakout_policy::validate::validate(&p).expect("still valid");
    }

    #[test]
    fn a_name_someone_uses_without_holding_it_or_held_once_is_not_shared() {
        let common = list(&["*.outlook.com"]);
        let mut p = RegionPolicy {
            region: "tokyo".into(),
            tenants: vec![
                tenant("a", &[(M, common.clone())], &[M]),
                tenant("b", &[(M, common.clone())], &[M]),
                tenant("x", &[], &[M]),
            ],
            ..RegionPolicy::default()
        };
        let unchanged = p.clone();
        share_lists(&mut p);
        assert_eq!(p, unchanged, "x would start finding a list it did not have");

        let mut single = RegionPolicy {
            region: "tokyo".into(),
            tenants: vec![tenant("a", &[(M, common)], &[M])],
            ..RegionPolicy::default()
        };
        let unchanged = single.clone();
        share_lists(&mut single);
        assert_eq!(single, unchanged);
    }

    /// `shared_copy` of `next` after a build of `prev`, against one without `before`.
    fn same_as_fresh(prev: &[Arc<Tenant>], next: &[Arc<Tenant>]) -> BTreeMap<String, NamedList> {
        let none = BTreeMap::new();
        let (made, lists) = shared_copy(prev, &none, None);
        let before = Before {
            served: prev,
            made: &made,
            lists: &lists,
        };
        let reused = shared_copy(next, &none, Some(before));
        let fresh = shared_copy(next, &none, None);
        assert_eq!(reused, fresh);
        fresh.1
    }

    #[test]
    fn a_build_after_another_shares_what_a_fresh_one_would() {
        let common = list(&["*.outlook.com", "teams.microsoft.com"]);
        let other = list(&["*.outlook.com"]);
        let prev = vec![
            tenant("a", &[(M, common.clone())], &[M]),
            tenant("b", &[(M, common.clone())], &[M]),
            tenant("c", &[(M, other.clone())], &[M]),
            tenant("d", &[], &[]),
        ];
        // A change that leaves template use alone (the lists are the previous build's).
        let mut next = prev.clone();
        next[3] = tenant("d", &[("mine", other.clone())], &["mine"]);
        assert_eq!(same_as_fresh(&prev, &next).get(M), Some(&common));
        // Another content: now `other` is the most common.
        let mut next = prev.clone();
        next[0] = tenant("a", &[(M, other.clone())], &[M]);
        assert_eq!(same_as_fresh(&prev, &next).get(M), Some(&other));
        // A tenant that names the list without holding it: nothing is shared any more.
        let mut next = prev.clone();
        next[3] = tenant("d", &[], &[M]);
        assert_eq!(same_as_fresh(&prev, &next).get(M), None);
        // Tenants added and removed.
        let mut next = prev.clone();
        next.remove(2);
        next.push(tenant("e", &[(M, other.clone())], &[M]));
        next.push(tenant("f", &[(M, other.clone())], &[M]));
        same_as_fresh(&prev, &next);
        // The same `Arc`s, swapped: positions no longer say which copy is whose.
        let mut next = prev.clone();
        next.swap(0, 2);
        same_as_fresh(&prev, &next);
    }
}
