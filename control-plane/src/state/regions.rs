//! Region writes: create (name checked), delete (refused while tenants are pinned to it).

use super::apply::{Reject, Step};
use super::{Region, State};

/// Longest region name (a DNS label: regions appear in host names and metric labels).
const MAX_REGION_NAME: usize = 63;

/// How many pinned tenants a "still in use" message names before it summarises.
const NAME_AT_MOST: usize = 10;

pub(super) fn create(state: &mut State, index: u64, name: &str, description: Option<&str>) -> Step {
    check_name(name)?;
    if state.regions.contains_key(name) {
        return Err(Reject::conflict(format!("region {name} already exists")));
    }
    state.regions.insert(
        name.to_string(),
        Region {
            name: name.to_string(),
            description: description.map(str::to_string),
            created_version: index,
            changed_version: index,
        },
    );
    Ok(())
}

pub(super) fn delete(state: &mut State, name: &str) -> Step {
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
pub(super) fn name_some(names: &[&str]) -> String {
    if names.len() <= NAME_AT_MOST {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..NAME_AT_MOST].join(", "),
        names.len() - NAME_AT_MOST
    )
}
