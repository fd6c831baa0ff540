//! Pure reads over the state, for the API and for distribution to edges.

use std::collections::BTreeMap;

use breakout_policy::{RegionPolicy, SCHEMA_VERSION};

use super::{State, TenantRecord, TokenRecord};

impl State {
    /// The tenants pinned to `region`, in id order.
    pub fn tenants_in_region<'a>(
        &'a self,
        region: &'a str,
    ) -> impl Iterator<Item = &'a TenantRecord> + 'a {
        self.tenants
            .values()
            .filter(move |r| r.tenant.region.as_deref() == Some(region))
    }

    /// A token by its id (the `<id>` of `bk_<id>_<secret>`).
    pub fn token_by_id(&self, id: &str) -> Option<&TokenRecord> {
        self.tokens.get(id)
    }
}

/// What the edges of `region` need, at the state's version: its tenants in id order. Shared
/// (template) lists are not in the state yet, so `lists` is empty.
pub fn region_policy(state: &State, region: &str) -> RegionPolicy {
    RegionPolicy {
        schema: SCHEMA_VERSION,
        version: state.version,
        region: region.to_string(),
        tenants: state
            .tenants_in_region(region)
            .map(|r| r.tenant.clone())
            .collect(),
        lists: BTreeMap::new(),
        foreign_sources: Vec::new(),
    }
}
