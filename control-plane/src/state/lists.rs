//! A tenant's named lists: put (replace), patch and delete, and the checks on names and entries.

use std::collections::HashSet;

use breakout_policy::{Destination, NamedList};
use serde::{Deserialize, Serialize};

use super::input::check_id;
use super::model::{State, MAX_LIST_ENTRIES};
use super::step::{check_if_match, commit, find, Apply, LogEntry, Reject, Step};

/// Longest list name; names appear in URLs and rule references.
const MAX_LIST_NAME: usize = 64;

/// Creates or replaces one of a tenant's lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PutList {
    pub tenant: String,
    pub name: String,
    pub list: NamedList,
    pub if_match: Option<u64>,
}

impl Apply for PutList {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (tenant, name) = (self.tenant.as_str(), self.name.as_str());
        let record = find(state, tenant)?;
        check_if_match(
            &format!("tenant {tenant}"),
            record.changed_version,
            self.if_match,
        )?;
        check_name(name, "name")?;
        check_entries(&self.list, "list.entries")?;
        let mut t = record.tenant.clone();
        t.lists.insert(name.to_string(), self.list.clone());
        commit(state, entry.index, t);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("list.put", list_target(&self.tenant, &self.name))
    }

    fn check_input(&self) -> Step {
        check_id("name", "list name", &self.name)
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
}

/// Art. 10-4: adds and removes entries of an existing list (removals first; entries already
/// present are not added twice, absent ones are not an error).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchList {
    pub tenant: String,
    pub name: String,
    pub add: Vec<Destination>,
    pub remove: Vec<Destination>,
    pub if_match: Option<u64>,
}

impl Apply for PatchList {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (tenant, name) = (self.tenant.as_str(), self.name.as_str());
        let record = find(state, tenant)?;
        let Some(current) = record.tenant.lists.get(name) else {
            return Err(Reject::not_found(format!(
                "tenant {tenant} has no list {name}"
            )));
        };
        check_if_match(
            &format!("tenant {tenant}"),
            record.changed_version,
            self.if_match,
        )?;
        let added = NamedList::new(self.add.clone());
        check_entries(&added, "add")?;
        let remove: HashSet<&Destination> = self.remove.iter().collect();
        let mut entries: Vec<Destination> = current
            .entries
            .iter()
            .filter(|e| !remove.contains(e))
            .cloned()
            .collect();
        let mut present: HashSet<Destination> = entries.iter().cloned().collect();
        for entry in &self.add {
            if present.insert(entry.clone()) {
                entries.push(entry.clone());
            }
        }
        let list = NamedList::new(entries);
        check_entries(&list, "list.entries")?;
        let mut t = record.tenant.clone();
        t.lists.insert(name.to_string(), list);
        commit(state, entry.index, t);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("list.patch", list_target(&self.tenant, &self.name))
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
}

/// Deletes one of a tenant's lists; refused while a rule uses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteList {
    pub tenant: String,
    pub name: String,
    pub if_match: Option<u64>,
}

impl Apply for DeleteList {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (tenant, name) = (self.tenant.as_str(), self.name.as_str());
        let record = find(state, tenant)?;
        if !record.tenant.lists.contains_key(name) {
            return Err(Reject::not_found(format!(
                "tenant {tenant} has no list {name}"
            )));
        }
        check_if_match(
            &format!("tenant {tenant}"),
            record.changed_version,
            self.if_match,
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
        commit(state, entry.index, t);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("list.delete", list_target(&self.tenant, &self.name))
    }
}

fn list_target(tenant: &str, name: &str) -> String {
    format!("tenant/{tenant}/list/{name}")
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
