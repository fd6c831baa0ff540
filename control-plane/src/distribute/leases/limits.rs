//! The limits table the lease rounds read (one per store version).

use std::sync::Arc;

use crate::state::{session_limits_by_region, State};

/// Every region's served tenants and their limits at one store version: what the rounds read,
/// computed once per version (not per round) and outside the leader state's lock.
#[derive(Debug, PartialEq)]
pub(super) struct Limits {
    pub(super) version: u64,
    /// (region, [(tenant, limit)]).
    pub(super) regions: Vec<(String, Vec<(String, u32)>)>,
    /// The same ids, shared: (region, [tenant]) in the order of `regions`.
    pub(super) ids: Vec<(Arc<str>, Vec<Arc<str>>)>,
}

impl Limits {
    pub(super) fn of(state: &State) -> Limits {
        // The limits the edges were given at this version (same day as `feed`).
        let day = state.policy_day();
        let mut regions = session_limits_by_region(state, day);
        for (_, tenants) in &mut regions {
            // Sorted by id (the state's order already; a no-op pass then): every edge's grants
            // are built in this order, and `frame` walks them in it.
            tenants.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let ids = regions
            .iter()
            .map(|(r, tenants)| {
                let tenants = tenants.iter().map(|(t, _)| Arc::from(t.as_str())).collect();
                (Arc::from(r.as_str()), tenants)
            })
            .collect();
        Limits {
            version: state.version,
            regions,
            ids,
        }
    }
}
