//! A tenant's named lists: put (replace) and delete, and the checks on names and entries.

use std::collections::HashSet;

use breakout_policy::{Destination, NamedList};

use super::apply::{check_if_match, Reject, Step};
use super::tenants::{commit, find};
use super::{State, MAX_LIST_ENTRIES};

/// Longest list name; names appear in URLs and rule references.
const MAX_LIST_NAME: usize = 64;

pub(super) fn put(
    state: &mut State,
    index: u64,
    tenant: &str,
    name: &str,
    list: &NamedList,
    if_match: Option<u64>,
) -> Step {
    let record = find(state, tenant)?;
    check_if_match(
        &format!("tenant {tenant}"),
        record.changed_version,
        if_match,
    )?;
    check_name(name, "name")?;
    check_entries(list, "list.entries")?;
    let mut t = record.tenant.clone();
    t.lists.insert(name.to_string(), list.clone());
    commit(state, index, t);
    Ok(())
}

pub(super) fn patch(
    state: &mut State,
    index: u64,
    tenant: &str,
    name: &str,
    add: &[Destination],
    remove: &[Destination],
    if_match: Option<u64>,
) -> Step {
    let record = find(state, tenant)?;
    let Some(current) = record.tenant.lists.get(name) else {
        return Err(Reject::not_found(format!(
            "tenant {tenant} has no list {name}"
        )));
    };
    check_if_match(
        &format!("tenant {tenant}"),
        record.changed_version,
        if_match,
    )?;
    let added = NamedList {
        entries: add.to_vec(),
    };
    check_entries(&added, "add")?;
    let remove: HashSet<&Destination> = remove.iter().collect();
    let mut entries: Vec<Destination> = current
        .entries
        .iter()
        .filter(|e| !remove.contains(e))
        .cloned()
        .collect();
    let mut present: HashSet<Destination> = entries.iter().cloned().collect();
    for entry in add {
        if present.insert(entry.clone()) {
            entries.push(entry.clone());
        }
    }
    let list = NamedList { entries };
    check_entries(&list, "list.entries")?;
    let mut t = record.tenant.clone();
    t.lists.insert(name.to_string(), list);
    commit(state, index, t);
    Ok(())
}

pub(super) fn delete(
    state: &mut State,
    index: u64,
    tenant: &str,
    name: &str,
    if_match: Option<u64>,
) -> Step {
    let record = find(state, tenant)?;
    if !record.tenant.lists.contains_key(name) {
        return Err(Reject::not_found(format!(
            "tenant {tenant} has no list {name}"
        )));
    }
    check_if_match(
        &format!("tenant {tenant}"),
        record.changed_version,
        if_match,
    )?;
    let user = record
        .tenant
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.lists.iter().any(|l| l == name));
    if let Some((i, rule)) = user {
        let label = rule
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        return Err(Reject::conflict(format!(
            "list {name} is used by rules[{i}]{label} of tenant {tenant}; remove it from the \
             rule first"
        )));
    }
    let mut t = record.tenant.clone();
    t.lists.remove(name);
    commit(state, index, t);
    Ok(())
}

/// `[A-Za-z0-9._-]{1,64}`; `field` is where the name came from, for the message.
pub(super) fn check_name(name: &str, field: &str) -> Step {
    let ok = (1..=MAX_LIST_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        return Ok(());
    }
    Err(Reject::invalid(format!(
        "{field}: list name {name:?} must be 1-64 characters of letters, digits, '.', '_' and '-'"
    )))
}

/// At most [`MAX_LIST_ENTRIES`] entries, each in the canonical form the parser produces (a
/// `Destination` built in code, rather than parsed, could hold anything).
pub(super) fn check_entries(list: &NamedList, field: &str) -> Step {
    if list.entries.len() > MAX_LIST_ENTRIES {
        return Err(Reject::invalid(format!(
            "{field}: {} entries; a list holds at most {MAX_LIST_ENTRIES}",
            list.entries.len()
        )));
    }
    for (i, entry) in list.entries.iter().enumerate() {
        let written = entry.to_string();
        match written.parse::<Destination>() {
            Ok(parsed) if parsed == *entry => {}
            Ok(parsed) => {
                return Err(Reject::invalid(format!(
                    "{field}[{i}]: {written:?} is not in canonical form (expected {parsed})"
                )))
            }
            Err(e) => return Err(Reject::invalid(format!("{field}[{i}]: {}", e.message))),
        }
    }
    Ok(())
}
