//! Region writes: create (name checked), delete (refused while tenants are pinned to it).

use serde::{Deserialize, Serialize};

use super::model::{Region, State};
use super::step::{Apply, LogEntry, Reject, Step};

/// Longest region name (a DNS label: regions appear in host names and metric labels).
const MAX_REGION_NAME: usize = 63;

/// How many pinned tenants a "still in use" message names before it summarises.
const NAME_AT_MOST: usize = 10;

/// Creates a region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateRegion {
    pub name: String,
    pub description: Option<String>,
}

impl Apply for CreateRegion {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let name = &self.name;
        check_name(name)?;
        if state.regions.contains_key(name) {
            return Err(Reject::conflict(format!("region {name} already exists")));
        }
        state.regions.insert(
            name.to_string(),
            Region {
                name: name.to_string(),
                description: self.description.clone(),
                created_version: entry.index,
                changed_version: entry.index,
            },
        );
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("region.create", format!("region/{}", self.name))
    }
}

/// Deletes a region; refused while any tenant is pinned to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteRegion {
    pub name: String,
}

impl Apply for DeleteRegion {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        let name = &self.name;
        if !state.regions.contains_key(name) {
            return Err(Reject::not_found(format!("region {name} does not exist")));
        }
        let pinned: Vec<&str> = state
            .tenants_in_region(name)
            .map(|r| r.tenant.id.as_str())
            .collect();
        if !pinned.is_empty() {
            return Err(Reject::conflict(format!(
                "region {name} still has {} tenant(s): {}; delete them first",
                pinned.len(),
                name_some(&pinned)
            )));
        }
        state.regions.remove(name);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("region.delete", format!("region/{}", self.name))
    }
}

/// `[a-z0-9][a-z0-9-]{0,62}`.
fn check_name(name: &str) -> Step {
    let ok = (1..=MAX_REGION_NAME).contains(&name.len())
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
    if ok {
        return Ok(());
    }
    Err(Reject::invalid(format!(
        "name: region name {name:?} must be 1-63 characters of a-z, 0-9 and '-', \
         starting with a letter or digit"
    )))
}

/// `a, b, c` or `a, b, … and 5 more`.
fn name_some(names: &[&str]) -> String {
    if names.len() <= NAME_AT_MOST {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..NAME_AT_MOST].join(", "),
        names.len() - NAME_AT_MOST
    )
}
