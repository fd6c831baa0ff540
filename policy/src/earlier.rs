//! What an earlier pass over a region's tenants made of each, found again for the tenants of a
//! newer policy of the region (pure). A build or a delta keeps the tenants it does not change
//! (the same `Arc`s) in their places, so a pass that finds its earlier results by position, or
//! by the `Arc`'s address once tenants were added or removed, redoes only the changed tenants:
//! at 5,000 tenants a region, a one-tenant write then costs one tenant's work, not 5,000.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::Tenant;

/// An earlier pass's result per tenant (`made[i]` for `tenants[i]`), looked up for a newer
/// pass's tenants ([`Earlier::get`]).
pub enum Earlier<'a, V> {
    None,
    /// As many tenants as before: the same `Arc` at the same place (no lookup).
    Aligned {
        tenants: &'a [Arc<Tenant>],
        made: &'a [V],
    },
    /// Tenants added or removed: by the address of the `Arc` (whoever kept the earlier results
    /// holds each `Arc` too, so no address was reused).
    ByAddress(HashMap<usize, &'a V>),
}

impl<'a, V> Earlier<'a, V> {
    /// `before`: the earlier pass's tenants and what it made of each, in the same order; `count`:
    /// how many tenants the new pass has.
    pub fn of(before: Option<(&'a [Arc<Tenant>], &'a [V])>, count: usize) -> Self {
        match before {
            None => Earlier::None,
            Some((tenants, made)) if tenants.len() == count && made.len() == count => {
                Earlier::Aligned { tenants, made }
            }
            Some((tenants, made)) => Earlier::ByAddress(
                tenants
                    .iter()
                    .zip(made)
                    .map(|(t, m)| (Arc::as_ptr(t) as usize, m))
                    .collect(),
            ),
        }
    }

    /// What the earlier pass made of `t`, the new pass's `i`-th tenant, if it had that same
    /// `Arc` (a tenant changed since is a new `Arc`).
    pub fn get(&self, i: usize, t: &Arc<Tenant>) -> Option<&'a V> {
        match self {
            Earlier::None => None,
            Earlier::Aligned { tenants, made } => tenants
                .get(i)
                .filter(|old| Arc::ptr_eq(old, t))
                .and_then(|_| made.get(i)),
            Earlier::ByAddress(by) => by.get(&(Arc::as_ptr(t) as usize)).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> Arc<Tenant> {
        let json = serde_json::json!({"id": id, "source_cidrs": [], "session_limit": 1});
        Arc::new(serde_json::from_value(json).expect("a tenant"))
    }

    /// Found by position while the count is the same, by address after an insert or removal;
    /// a changed tenant (a new `Arc`, even with the same content) never finds the old result.
    #[test]
    fn results_are_found_for_the_same_arcs_only() {
        let (a, b, c) = (tenant("a"), tenant("b"), tenant("c"));
        let old = [Arc::clone(&a), Arc::clone(&b), Arc::clone(&c)];
        let made = ["A", "B", "C"];
        let b2 = tenant("b");
        let found = |new: &[Arc<Tenant>]| -> Vec<Option<&str>> {
            let earlier = Earlier::of(Some((&old[..], &made[..])), new.len());
            new.iter()
                .enumerate()
                .map(|(i, t)| earlier.get(i, t).copied())
                .collect()
        };
        let same = [Arc::clone(&a), Arc::clone(&b2), Arc::clone(&c)];
        assert_eq!(found(&same), [Some("A"), None, Some("C")]);
        let swapped = [Arc::clone(&c), Arc::clone(&b), Arc::clone(&a)];
        assert_eq!(found(&swapped), [None, Some("B"), None], "by position");
        let fewer = [Arc::clone(&c), Arc::clone(&a)];
        assert_eq!(found(&fewer), [Some("C"), Some("A")], "by address");
        let more = [tenant("d"), Arc::clone(&b), Arc::clone(&c), Arc::clone(&a)];
        assert_eq!(found(&more), [None, Some("B"), Some("C"), Some("A")]);
        let none: Earlier<'_, &str> = Earlier::of(None, 3);
        assert_eq!(none.get(0, &a), None);
    }
}
