//! Pure reads over the state, for the API and for distribution to edges (what edges are given:
//! [`super::region_policy_at`]).

use super::model::{State, TenantRecord, TokenRecord};

impl State {
    /// The tenants pinned to `region`, in id order.
    pub fn tenants_in_region<'a>(
        &'a self,
        region: &'a str,
    ) -> impl Iterator<Item = &'a TenantRecord> + 'a {
        self.tenants
            .values()
            .map(|r| &**r)
            .filter(move |r| r.tenant.region.as_deref() == Some(region))
    }

    /// A token by its id (the `<id>` of `bk_<id>_<secret>`).
    pub fn token_by_id(&self, id: &str) -> Option<&TokenRecord> {
        self.tokens.get(id)
    }
}
